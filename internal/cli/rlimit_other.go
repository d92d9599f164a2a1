//go:build !unix

package cli

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE; 0 means unknown.
func raiseFileLimit() uint64 { return 0 }
