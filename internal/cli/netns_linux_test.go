//go:build linux

package cli

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// netnsIP returns the path of iproute2's ip for tests that create network
// namespaces. They need root: without it (or without ip) the test is
// skipped, except under CI (CI=true), where .ci/run runs as root and a skip
// would hide a broken set-up.
func netnsIP(t *testing.T, what string) string {
	t.Helper()
	ipBin, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		msg := "needs root and iproute2 (ip) to create " + what
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; .ci/run runs as root")
		}
		t.Skip(msg)
	}
	return ipBin
}

// ipRun runs ip with args and fails the test on error.
func ipRun(t *testing.T, ipBin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// addNetns creates a network namespace, deleted when the test ends.
func addNetns(t *testing.T, ipBin, name string) {
	t.Helper()
	ipRun(t, ipBin, "netns", "add", name)
	t.Cleanup(func() { exec.Command(ipBin, "netns", "del", name).Run() })
}

// ownNetns is the test process's network namespace (as /proc/self/ns/net
// names it): helper processes compare theirs with it and refuse to bind a
// wildcard address unless they are in another one.
func ownNetns(t *testing.T) string {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// inOtherNetns reports whether this process runs in a network namespace
// other than parent's.
func inOtherNetns(parent string) bool {
	self, err := os.Readlink("/proc/self/ns/net")
	return err == nil && parent != "" && self != parent
}

// startInNetns starts argv inside namespace ns through 'ip netns exec' and
// waits until the file ready exists (the helper writes it once it
// listens). The process is killed when the test ends; its output is in
// the failure message when it exits or does not get ready in time.
func startInNetns(t *testing.T, ctx context.Context, ipBin, ns, ready, dir string, argv, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, ipBin, append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(ready); err == nil {
			return cmd
		}
		select {
		case <-exited:
			t.Fatalf("%s in %s exited before it was ready:\n%s", argv[0], ns, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s did not get ready:\n%s", argv[0], ns, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
