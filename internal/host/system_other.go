//go:build !linux

package host

import "github.com/mcpwarden/mcpwarden/internal/host/sysnet"

// systemListeners reads this machine's listeners through gopsutil (macOS,
// Windows, the BSDs): no container ids there, and a socket whose owner the
// system hides is reported as not visible without root.
func systemListeners() (listenerSource, error) { return sysnet.New(), nil }
