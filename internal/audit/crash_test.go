package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const crashEnv = "MCPWARDEN_AUDIT_CRASH_SINK"

// TestCrashHelper is the child of TestKill9: it writes records in sync
// mode from several goroutines and prints each record's id only after
// Write has returned, until it is killed.
func TestCrashHelper(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("helper process for TestKill9")
	}
	s, err := OpenWith(spec, &Options{Durability: DurabilitySync})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var out sync.Mutex
	deadline := time.Now().Add(30 * time.Second) // never outlive a lost parent for long
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				r := &Record{Time: time.Now(), RequestID: id, Principal: "p", Method: "tools/call", Name: "echo", Decision: "allow"}
				if err := s.Write(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Fprintln(os.Stdout, id)
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

// TestKill9 kills a process writing in sync mode mid-stream and checks that
// every record it acknowledged (printed) is in the log.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for _, kind := range []string{"jsonl", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			spec := kind + ":" + filepath.Join(t.TempDir(), "audit")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+spec)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			printed := map[string]bool{}
			sc := bufio.NewScanner(stdout)
			killed := false
			for sc.Scan() {
				id := sc.Text()
				if id == "PASS" || id == "" {
					continue
				}
				printed[id] = true
				if !killed && len(printed) >= 400 {
					if err := cmd.Process.Kill(); err != nil { // SIGKILL
						t.Fatal(err)
					}
					killed = true
				}
			}
			err = cmd.Wait()
			if !killed {
				t.Fatalf("child ended before being killed (%v) after %d records", err, len(printed))
			}
			stored := map[string]bool{}
			partial := 0
			for r, err := range Query(context.Background(), spec, Filter{}) {
				if err != nil {
					partial++
					t.Logf("reader: %v", err)
					continue
				}
				stored[r.RequestID] = true
			}
			for id := range printed {
				if !stored[id] {
					t.Errorf("acknowledged record %s missing after kill -9", id)
				}
			}
			if partial > 0 {
				t.Errorf("%d torn records after kill -9", partial)
			}
			t.Logf("%s: %d acknowledged, %d stored", kind, len(printed), len(stored))
		})
	}
}
