package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrNoProcStatus is returned where /proc/self/status does not exist
// (systems other than Linux).
var ErrNoProcStatus = errors.New("bench: /proc/self/status is not available")

// PeakRSS returns the process's peak resident set size in bytes (VmHWM of
// /proc/self/status): since the start, or since the last ResetPeakRSS.
func PeakRSS() (int64, error) { return procStatus("VmHWM:") }

// RSS returns the process's resident set size in bytes (VmRSS).
func RSS() (int64, error) { return procStatus("VmRSS:") }

// ResetPeakRSS sets the peak RSS to the current RSS, by writing "5" to
// /proc/self/clear_refs (Linux 4.0 and later).
func ResetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("bench: reset the peak RSS: %w", err)
	}
	return nil
}

// procStatus reads one "Key:   123 kB" line of /proc/self/status.
func procStatus(key string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, ErrNoProcStatus
		}
		return 0, fmt.Errorf("bench: %w", err)
	}
	return parseStatus(b, key)
}

// parseStatus finds key in the text of /proc/self/status and returns its
// value in bytes.
func parseStatus(b []byte, key string) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: /proc/self/status: unexpected %q line %q", key, bytes.TrimSpace(line))
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bench: /proc/self/status: bad %q value %q", key, f[0])
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("bench: /proc/self/status has no %q line", key)
}
