package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// TestFindFixVerify is the product's loop on the command line: scan finds
// an open server, gate closes it, scan confirms, and the owner's key still
// lists the tools through the gate.
func TestFindFixVerify(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable, "127.0.0.91")
	code, out, _ := run(t, context.Background(), "", "scan", open.URL)
	if code != ExitFindings || !strings.Contains(out, rules.Unauthenticated) {
		t.Fatalf("find: exit %d, %s", code, out)
	}

	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	code, key, errs := run(t, context.Background(), "", "gate", "keys", "new", "ci", "--keys-file", keys)
	key = strings.TrimSpace(key)
	if code != ExitOK || !strings.HasPrefix(key, "mcpw_") {
		t.Fatalf("keys new: exit %d, stdout %q, stderr %q", code, key, errs)
	}
	if b, _ := os.ReadFile(keys); strings.Contains(string(b), key) {
		t.Fatal("the keys file holds the key itself, not its hash")
	}
	listen := startGateCLI(t, "127.0.0.92", "--upstream", open.URL, "--api-keys", keys)

	code, out, errs = run(t, context.Background(), "", "scan", listen)
	eps := decodeLines(t, out)
	if code != ExitOK || len(eps) != 1 {
		t.Fatalf("verify: exit %d, stdout %s, stderr %s", code, out, errs)
	}
	ep := eps[0]
	if ep.Status != result.StatusMCP || ep.Auth == nil || !ep.Auth.Required || len(ep.Tools) != 0 {
		t.Fatalf("verify: the gate is not seen as protected: %s", out)
	}
	for _, f := range ep.Findings {
		if f.Rule == rules.Unauthenticated {
			t.Fatalf("verify: still reachable without authentication: %s", out)
		}
	}
	if ep.Origin == nil || ep.Origin.Validated == nil || !*ep.Origin.Validated {
		t.Errorf("verify: the gate does not validate Origin: %+v", ep.Origin)
	}
	// The owner's key lists the tools through the gate.
	code, out, _ = run(t, context.Background(), "", "scan", "http://"+listen+"/mcp", "-H", "Authorization: Bearer "+key)
	eps = decodeLines(t, out)
	if code != ExitOK || len(eps) != 1 || len(eps[0].Tools) != len(lab.ToolNames(lab.KindOpenStreamable)) || !eps[0].Auth.WithCredentials {
		t.Fatalf("with the key: exit %d, %s", code, out)
	}
	if strings.Contains(out, key) {
		t.Fatal("the key appears in the scan output")
	}
}

// startGateCLI runs 'mcpwarden gate --listen <ip>:<free port> args...' in
// the background until the test ends, waits until it listens, and returns
// the listen address.
func startGateCLI(t *testing.T, ip string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var gateErr string
	go func() {
		c, _, e := run(t, ctx, "", append([]string{"gate", "--listen", listen}, args...)...)
		gateErr = e
		done <- c
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the gate did not stop")
		}
	})
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", listen, 100*time.Millisecond); err == nil {
			c.Close()
			return listen
		}
		select {
		case c := <-done:
			t.Fatalf("the gate exited %d: %s", c, gateErr)
		default:
		}
		if i == 100 {
			t.Fatal("the gate does not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
