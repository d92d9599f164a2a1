package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// ChildEnv is the environment variable that tells a re-executed test
// binary to serve a fleet (see [ServeChild]); its value is the
// [FleetOptions] as JSON.
const ChildEnv = "MCPW_FLEET"

// manifestPrefix starts the one stdout line that carries the manifest, so
// that the test framework's own output around it does not matter.
const manifestPrefix = "mcpwarden-fleet-manifest "

// maxManifest bounds the bytes the parent reads while waiting for the
// manifest.
const maxManifest = 64 << 20

// startTimeout bounds how long SpawnFleet waits for the manifest.
const startTimeout = 2 * time.Minute

// manifest is what the child reports.
type manifest struct {
	Endpoints []Endpoint `json:"endpoints"`
	Error     string     `json:"error,omitempty"`
}

// ServeChild is the body of the fleet child process. It reads the
// FleetOptions from getenv(ChildEnv), raises the open-file limit, starts
// the fleet, writes the manifest line to stdout and serves until stdin
// reaches end of file (the parent closed it, or died) or ctx ends. Then it
// closes the fleet.
func ServeChild(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	raw := getenv(ChildEnv)
	if raw == "" {
		return fmt.Errorf("bench: %s is not set", ChildEnv)
	}
	var opts FleetOptions
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&opts); err != nil {
		return fmt.Errorf("bench: %s: %w", ChildEnv, err)
	}
	if _, err := RaiseFileLimit(); err != nil {
		return err
	}
	if opts.GCPercent < -1 {
		return fmt.Errorf("bench: %s: gc_percent %d below -1", ChildEnv, opts.GCPercent)
	}
	debug.SetGCPercent(cmp.Or(opts.GCPercent, DefaultChildGCPercent))
	fleet, err := StartFleet(ctx, opts)
	if err != nil {
		// Tell the parent why, so it does not wait for the timeout.
		line, _ := json.Marshal(manifest{Error: err.Error()})
		fmt.Fprintf(stdout, "\n%s%s\n", manifestPrefix, line)
		return err
	}
	defer fleet.Close()
	line, err := json.Marshal(manifest{Endpoints: fleet.Endpoints})
	if err != nil {
		return fmt.Errorf("bench: manifest: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "\n%s%s\n", manifestPrefix, line); err != nil {
		return fmt.Errorf("bench: write manifest: %w", err)
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return fleet.Close()
}

// Remote is a fleet served by a child process.
type Remote struct {
	// Endpoints as the child reported them, in address order.
	Endpoints []Endpoint

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	waited chan struct{}
	err    error // of cmd.Wait, valid once waited is closed
	stderr *tail
	once   sync.Once
	close  error
}

// SpawnFleet starts exe with args (a test binary and a -test.run flag that
// selects a test calling ServeChild) and ChildEnv set to opts, and waits
// for the fleet to be up. Close the Remote to stop the child.
func SpawnFleet(ctx context.Context, exe string, args []string, opts FleetOptions) (*Remote, error) {
	if _, _, err := plan(opts); err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("bench: fleet options: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(cfg))
	r := &Remote{cmd: cmd, waited: make(chan struct{}), stderr: &tail{max: 8 << 10}}
	cmd.Stderr = r.stderr
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("bench: fleet child stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: fleet child stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start fleet child %s: %w", exe, err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.waited)
	}()

	type got struct {
		m   manifest
		err error
	}
	ch := make(chan got, 1)
	go func() {
		m, err := readManifest(stdout)
		ch <- got{m, err}
		_, _ = io.Copy(io.Discard, stdout) // the test framework's lines
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var g got
	select {
	case g = <-ch:
	case <-ctx.Done():
		g.err = ctx.Err()
	case <-timer.C:
		g.err = fmt.Errorf("no manifest after %v", startTimeout)
	}
	if g.err == nil && g.m.Error != "" {
		g.err = errors.New(g.m.Error)
	}
	if g.err == nil && len(g.m.Endpoints) == 0 {
		g.err = errors.New("the manifest lists no endpoint")
	}
	if g.err != nil {
		r.Close()
		return nil, fmt.Errorf("bench: fleet child: %w (stderr: %s)", g.err, r.stderr.String())
	}
	for _, e := range g.m.Endpoints {
		if _, _, err := e.HostPort(); err != nil || !knownKind(e.Kind) {
			r.Close()
			return nil, fmt.Errorf("bench: fleet child reported a bad endpoint %+v", e)
		}
	}
	r.Endpoints = g.m.Endpoints
	return r, nil
}

// readManifest reads lines until the manifest line.
func readManifest(rd io.Reader) (manifest, error) {
	br := bufio.NewReader(io.LimitReader(rd, maxManifest))
	for {
		line, err := br.ReadBytes('\n')
		if rest, ok := bytes.CutPrefix(line, []byte(manifestPrefix)); ok {
			var m manifest
			if err := json.Unmarshal(rest, &m); err != nil {
				return m, fmt.Errorf("decode manifest: %w", err)
			}
			return m, nil
		}
		if err != nil {
			return manifest{}, fmt.Errorf("child output ended without a manifest: %w", err)
		}
	}
}

// PID is the child's process id.
func (r *Remote) PID() int { return r.cmd.Process.Pid }

// Close ends the child: it closes its stdin, waits up to ten seconds for
// it to close the fleet and exit, then kills it.
func (r *Remote) Close() error {
	r.once.Do(func() {
		r.stdin.Close()
		select {
		case <-r.waited:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.waited
			r.close = fmt.Errorf("bench: fleet child did not exit in time; killed (stderr: %s)", r.stderr.String())
			return
		}
		if r.err != nil {
			r.close = fmt.Errorf("bench: fleet child: %w (stderr: %s)", r.err, r.stderr.String())
		}
	})
	return r.close
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
