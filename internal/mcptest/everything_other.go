//go:build !unix

package mcptest

import "os/exec"

// setProcessGroup is a no-op where process groups do not exist.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the node process itself (the best available).
func killProcessGroup(cmd *exec.Cmd, _ bool) {
	_ = cmd.Process.Kill()
}
