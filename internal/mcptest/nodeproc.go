package mcptest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// nodeProc is a node process in a process group of its own, with its
// output kept (capped) for failure messages.
type nodeProc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	out     *cappedBuffer
	exited  chan struct{}
	waitErr error
}

// startNodeProc starts cmd (Dir and Env already set) and reaps it in the
// background.
func startNodeProc(t testing.TB, name string, cmd *exec.Cmd) (*nodeProc, error) {
	p := &nodeProc{t: t, name: name, cmd: cmd, out: &cappedBuffer{max: everythingOutputCap}, exited: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop ends the whole process group: SIGTERM, then SIGKILL. The group is
// signalled even when the first process is gone, since a launcher may exit
// while the servers it spawned still run.
func (p *nodeProc) stop() {
	killProcessGroup(p.cmd, false)
	select {
	case <-p.exited:
	case <-time.After(everythingStopTimeout):
		killProcessGroup(p.cmd, true)
		select {
		case <-p.exited:
		case <-time.After(everythingStopTimeout):
			p.t.Logf("mcptest: %s pid %d did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
	killProcessGroup(p.cmd, true)
}

// waitListening waits until every addr accepts TCP connections. It fails
// with errAddrInUse when the output shows one of inUse (the port was taken
// between choosing and binding it), and stops the process on any failure.
func (p *nodeProc) waitListening(addrs []string, timeout time.Duration, inUse ...string) error {
	deadline := time.Now().Add(timeout)
	pending := map[string]bool{}
	for _, a := range addrs {
		pending[a] = true
	}
	for {
		msg := p.out.String()
		for _, marker := range inUse {
			if strings.Contains(msg, marker) {
				p.stop()
				return fmt.Errorf("%v: %w", addrs, errAddrInUse)
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before listening on %v (%v); output:\n%s", p.name, addrs, p.waitErr, msg)
		default:
		}
		var lastErr error
		for a := range pending {
			conn, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err != nil {
				lastErr = err
				continue
			}
			conn.Close()
			delete(pending, a)
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("not listening on %v after %v (last dial error: %v); output:\n%s", keysOf(pending), timeout, lastErr, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
