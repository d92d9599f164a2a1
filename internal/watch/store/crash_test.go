package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// Environment of the crash helper process.
const (
	crashAddrEnv   = "MCPWARDEN_WATCH_CRASH_ADDR"
	crashMarkerEnv = "MCPWARDEN_WATCH_CRASH_MARKER"
)

// TestCrashHelper is not a test: testCrash runs the test binary with it to
// get a process that dies by SIGKILL in the middle of CompleteRun.
func TestCrashHelper(t *testing.T) {
	addr, marker := os.Getenv(crashAddrEnv), os.Getenv(crashMarkerEnv)
	if addr == "" || marker == "" {
		t.Skip("helper process of testCrash")
	}
	ctx := context.Background()
	s, err := Open(ctx, addr, &Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.BeginRun(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	baseOf(s).failAt = func(stage string) error {
		if stage == "events" {
			// Observations and events are written, not committed: tell
			// the parent, and wait for the SIGKILL.
			if err := os.WriteFile(marker, []byte("in transaction"), 0o644); err != nil {
				return err
			}
			time.Sleep(time.Minute)
			return errors.New("helper was not killed")
		}
		return nil
	}
	now := time.Now()
	eps := []*result.Endpoint{mcpEndpoint("http://127.0.0.1:8080/mcp", now, false, tool("read", "x"))}
	_, err = s.CompleteRun(ctx, id, eps, diff.Diff(model.State{}, eps, now, nil))
	t.Fatalf("CompleteRun returned %v; the process should have been killed", err)
}

// testCrash kills a process with SIGKILL inside CompleteRun's transaction
// and checks that nothing of the run was applied and that the next Open
// discards it.
func testCrash(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	addr := b.newAddr(t)
	marker := filepath.Join(t.TempDir(), "marker")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashAddrEnv+"="+addr, crashMarkerEnv+"="+marker)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper never reached the transaction:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// The helper stamped its run with the real clock.
	s := openStore(t, addr, &clock{t: time.Now()}, nil)
	runs, err := s.Runs(t.Context(), 0)
	if err != nil || len(runs) != 1 || runs[0].Status != RunDiscarded {
		t.Fatalf("runs after the crash = %+v, %v; want one discarded run", runs, err)
	}
	for tbl, n := range counts(t, s) {
		if n != 0 {
			t.Errorf("%d rows in %s after the crash", n, tbl)
		}
	}
}
