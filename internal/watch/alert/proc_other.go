//go:build !unix

package alert

import "os/exec"

// killGroup keeps exec's default: the process is killed when its context
// ends.
func killGroup(*exec.Cmd) {}
