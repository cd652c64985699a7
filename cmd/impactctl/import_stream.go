package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	"github.com/impact-svc/impact/store"
)

// importChunk is the rows an import holds at once, checks together and
// writes in one transaction (on --db): the most a bulk write of the store
// takes.
const importChunk = store.MaxBulkRows

// spoolInput names a file import can read twice: FILE itself, or for "-"
// a temporary copy of stdin, removed by cleanup.
func spoolInput(c *cli, name string) (path string, cleanup func(), err error) {
	if name != "-" {
		return name, func() {}, nil
	}
	f, err := os.CreateTemp("", "impactctl-import-*.csv")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(f, c.stdin); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

// pass reads path a chunk at a time, and for each chunk sets im.t (and the
// chunk's present and etags) and calls each. It returns the digest of the
// file's bytes (the first 16 bytes of a SHA-256, in hex) and the rows read.
// Shape problems are added to im.problems; each still runs on the rows
// that have none.
func (im *importRun) pass(path string, required, optional []string, each func() error) (digest string, rows int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	tr, err := newTableReader(io.TeeReader(f, h), required, optional)
	if err != nil {
		return "", 0, err
	}
	im.seen = map[string]int{}
	for {
		chunk, more, err := tr.next(importChunk)
		if err != nil {
			return "", 0, err
		}
		for _, p := range tr.problems {
			if len(im.problems) < maxProblems {
				im.problems = append(im.problems, p)
			} else {
				im.moreProblems++
			}
		}
		tr.problems = nil
		if len(chunk) > 0 {
			rows += len(chunk)
			im.t = &table{col: tr.col, rows: chunk}
			im.present, im.etags, im.first = map[int]bool{}, map[int]string{}, chunk[0].line
			if t, ok := im.target.(prefetcher); ok {
				t.reset()
			}
			if err := each(); err != nil {
				return "", 0, err
			}
		}
		if !more {
			break
		}
	}
	// The rest of the file (after a syntax error) counts in its digest too.
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, err
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16]), rows, nil
}
