//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit lifts the soft open-file limit to the hard one (a fleet
// holds a listening socket per endpoint, a scan a socket per probe in
// flight) and returns the soft limit now in force.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: read the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: raise the open-file limit to %d: %w", lim.Max, err)
		}
	}
	return uint64(lim.Cur), nil // int64 on some BSDs
}
