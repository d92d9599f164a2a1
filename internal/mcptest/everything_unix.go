//go:build unix

package mcptest

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts node in its own process group so that cleanup reaches
// anything it spawns.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGTERM (or SIGKILL when hard) to the whole group.
func killProcessGroup(cmd *exec.Cmd, hard bool) {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	// The group id is the pid (Setpgid with Pgid 0). Errors mean it is gone.
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
