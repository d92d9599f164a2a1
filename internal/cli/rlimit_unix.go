//go:build unix

package cli

import "syscall"

// raiseFileLimit lifts the soft open-file limit to the hard one: every
// in-flight probe holds a socket, and the usual soft limit of 1024 is below
// a real scan's concurrency. It returns the limit now in force.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return uint64(lim.Cur) // int64 on some BSDs
}
