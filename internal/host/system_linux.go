package host

import "github.com/mcpwarden/mcpwarden/internal/host/procfs"

// systemListeners reads this machine's listeners from procfs.
func systemListeners() (listenerSource, error) { return procfs.System() }
