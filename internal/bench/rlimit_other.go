//go:build !unix

package bench

// RaiseFileLimit does nothing where there is no RLIMIT_NOFILE; 0 means
// the limit is unknown.
func RaiseFileLimit() (uint64, error) { return 0, nil }
