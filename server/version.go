package server

import (
	"fmt"
	"runtime/debug"
)

// Version describes the running binary from its build information (the
// module version Go stamps from the VCS, the commit, whether the tree was
// modified, the Go version), for --version of impactd and impactctl.
func Version(program string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (no build information)"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+modified"
			}
		}
	}
	out := fmt.Sprintf("%s %s", program, version)
	if rev != "" {
		out += fmt.Sprintf(" (commit %s%s, %s)", rev, dirty, when)
	}
	return out + " " + bi.GoVersion
}
