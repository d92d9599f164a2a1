//go:build !linux

package procfs

import (
	"fmt"
	"runtime"
)

// System returns an error on this OS: the listening sockets are read from
// Linux procfs only.
func System() (*Reader, error) {
	return nil, fmt.Errorf("procfs: listing listening sockets is not supported on %s (Linux only)", runtime.GOOS)
}
