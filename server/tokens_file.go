package server

import (
	"fmt"
	"os"
)

// checkTokensFileMode refuses a tokens file that group or others may write:
// whoever can write it can give themselves the admin role. Reading it is
// harmless (it holds digests, not tokens).
func checkTokensFileMode(path string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("auth tokens: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s: mode %04o lets group or others write it, and so grant themselves any role: "+
			"chmod go-w %s", path, perm, path)
	}
	return nil
}

// Reload replaces the tokens with those of the file at path (LoadTokens's
// checks included). On any error the tokens stay as they were, so a
// mistake in an edited file cannot lock everyone out or let anyone in;
// the error says why. Calls already authorized keep running.
func (ts *Tokens) Reload(path string) (int, error) {
	next, err := LoadTokens(path)
	if err != nil {
		return 0, err
	}
	ts.mu.Lock()
	ts.list = next.list
	ts.mu.Unlock()
	return len(next.list), nil
}
