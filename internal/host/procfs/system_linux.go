//go:build linux

package procfs

import (
	"os"
)

// System returns a Reader of this machine's /proc, with user names from
// /etc/passwd (numbers when it cannot be read).
func System() (*Reader, error) {
	users := map[int]string{}
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		users = ParsePasswd(b)
	}
	return &Reader{Proc: os.DirFS("/proc"), Users: users}, nil
}
