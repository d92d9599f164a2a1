package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/report"
)

func demoUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden demo [flags]

Starts a lab of realistic MCP servers (built with the official MCP Go SDK)
on loopback addresses 127.0.0.10 and up, scans them exactly as 'mcpwarden
scan' would and prints the report (find). Then it puts 'mcpwarden gate' with
a fresh API key in front of the open streamable server (fix) and scans the
gate without and with the key (verify), and stops everything. Nothing leaves
this machine.

The lab: an open server with database and shell tools (streamable HTTP), an
open stateless one, a legacy HTTP+SSE one, a 2026-07-28 stateless-protocol
one, an OAuth-protected one with RFC 9728 metadata, one with a bare Bearer
challenge, one behind Basic auth, and a non-MCP web app.

Flags:
  -o, --output FORMAT  table, jsonl or json (default table)
  --first-ip IP        loopback address of the first lab server (default 127.0.0.10)
  --port N             every lab server listens on port N of its own address (default: a
                       random port each), e.g. --port 3000 to watch 127.0.0.10-17 -p 3000
  --no-gate            only the scan of the lab, without the fix-and-verify step
  --keep               keep the lab running after the scan until Ctrl-C, to poke at it
                       e.g. mcpwarden demo --keep, then mcpwarden scan 127.0.0.10-17 -p PORT

Example:
  mcpwarden demo
`)
}

func runDemo(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var format, firstIP string
	var port int
	var keep, noGate bool
	fs.StringVar(&format, "o", "table", "")
	fs.StringVar(&format, "output", "table", "")
	fs.StringVar(&firstIP, "first-ip", lab.DefaultFirstIP, "")
	fs.BoolVar(&keep, "keep", false, "")
	fs.BoolVar(&noGate, "no-gate", false, "")
	fs.IntVar(&port, "port", 0, "")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			demoUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err == nil && (port < 0 || port > 65535) {
		err = fmt.Errorf("--port %d: want 1-65535 (or 0: a random port per server)", port)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden demo: %v\nRun 'mcpwarden demo --help' for usage.\n", err)
		return ExitError
	}
	f, err := report.ParseFormat(format)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden demo: -o: %v\n", err)
		return ExitError
	}
	labCtx, stopLab := context.WithCancel(context.Background())
	defer stopLab()
	l, err := lab.StartLab(labCtx, &lab.LabOptions{FirstIP: firstIP, Port: port})
	if err != nil {
		return fail(env, fmt.Errorf("demo: start the lab: %w", err))
	}
	defer l.Close()
	fmt.Fprintf(env.Stderr, "mcpwarden demo: started %d lab servers on loopback:\n", len(l.Servers))
	var specs []string
	for _, s := range l.Servers {
		fmt.Fprintf(env.Stderr, "  %-18s %s\n", s.Kind, s.URL)
		specs = append(specs, s.Addr)
	}
	fmt.Fprintf(env.Stderr, "mcpwarden demo: scanning %s (every default path on each)\n\n", strings.Join(specs, " "))

	cfg := &scanConfig{}
	_ = scanFlags(cfg) // the scan defaults
	cfg.targets = specs
	cfg.format = string(f)
	cfg.noProgress = true
	plan, err := planScan(cfg, env)
	if err != nil {
		return fail(env, err)
	}
	plan.opts.Concurrency = 16
	code := executeScan(ctx, env, cfg, plan)
	if code == ExitError {
		return code
	}
	if !noGate {
		if code := demoFixVerify(ctx, env, l, string(f)); code != ExitOK {
			return code
		}
	}
	if keep {
		fmt.Fprintln(env.Stderr, "\nmcpwarden demo: the lab keeps running; press Ctrl-C to stop it.")
		<-ctx.Done()
	}
	fmt.Fprintln(env.Stderr, "\nmcpwarden demo: the lab is stopped.")
	return ExitOK
}

// demoFixVerify is the demo's second half: it closes the lab's open
// streamable server with the gate (a new API key, the gate on the next free
// loopback address) and scans the gate twice: without a credential (it
// must demand one and show nothing) and with the key (the tools are listed
// through the gate, never called).
func demoFixVerify(ctx context.Context, env *Env, l *lab.Lab, format string) int {
	var open *lab.Server
	var last netip.Addr
	for i := range l.Servers {
		s := l.Servers[i]
		if s.Kind == lab.KindOpenStreamable {
			open = s
		}
		if ap, err := netip.ParseAddrPort(s.Addr); err == nil && ap.Addr().Compare(last) > 0 {
			last = ap.Addr()
		}
	}
	if open == nil || !last.IsValid() {
		return fail(env, errors.New("demo: the lab has no open streamable server to gate"))
	}
	gateIP := last.Next()
	if !gateIP.IsLoopback() {
		return fail(env, fmt.Errorf("demo: no loopback address left after %s for the gate", last))
	}

	dir, err := os.MkdirTemp("", "mcpwarden-demo-")
	if err != nil {
		return fail(env, fmt.Errorf("demo: %w", err))
	}
	defer os.RemoveAll(dir)
	keysFile := filepath.Join(dir, "keys.txt")
	var keyOut, keyErr bytes.Buffer
	if code := runGateKeys(&Env{Stdout: &keyOut, Stderr: &keyErr, Getenv: env.Getenv}, []string{"new", "demo-operator", "--keys-file", keysFile}); code != ExitOK {
		return fail(env, fmt.Errorf("demo: make an API key: %s", strings.TrimSpace(keyErr.String())))
	}
	key := strings.TrimSpace(keyOut.String())

	ln, err := net.Listen("tcp", netip.AddrPortFrom(gateIP, 0).String())
	if err != nil {
		return fail(env, fmt.Errorf("demo: find a port for the gate: %w", err))
	}
	listen := ln.Addr().String()
	ln.Close()
	gateCtx, stopGate := context.WithCancel(ctx)
	gateLog := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runGate(gateCtx, &Env{Stdout: io.Discard, Stderr: gateLog, Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }},
			[]string{"--listen", listen, "--upstream", open.URL, "--api-keys", keysFile})
	}()
	defer func() {
		stopGate()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(env.Stderr, "mcpwarden demo: the gate did not stop within 10 s")
		}
	}()
	if err := waitListening(ctx, listen, done, 5*time.Second); err != nil {
		return fail(env, fmt.Errorf("demo: start the gate: %w\n%s", err, gateLog.String()))
	}
	gateURL := "http://" + listen + "/mcp"

	fmt.Fprintf(env.Stderr, "\nmcpwarden demo: fix: put the gate in front of %s (%s):\n", open.Name, open.URL)
	fmt.Fprintf(env.Stderr, "  mcpwarden gate keys new demo-operator --keys-file keys.txt   # prints the key once\n")
	fmt.Fprintf(env.Stderr, "  mcpwarden gate --listen %s --upstream %s --api-keys keys.txt\n", listen, open.URL)
	fmt.Fprintf(env.Stderr, "  (in production, also bind the server itself to 127.0.0.1 so that only the gate reaches it)\n")
	fmt.Fprintf(env.Stderr, "\nmcpwarden demo: verify: scan the gate without a credential:\n\n")
	if code := demoScan(ctx, env, format, gateURL, ""); code == ExitError {
		return code
	}
	fmt.Fprintf(env.Stderr, "\nmcpwarden demo: and with the operator's key (-H 'Authorization: Bearer ...', sent only after the challenge):\n\n")
	if code := demoScan(ctx, env, format, gateURL, key); code == ExitError {
		return code
	}
	return ExitOK
}

// demoScan scans one URL as 'mcpwarden scan' would, with a bearer key when
// key is set.
func demoScan(ctx context.Context, env *Env, format, url, key string) int {
	cfg := &scanConfig{}
	_ = scanFlags(cfg)
	cfg.targets = []string{url}
	cfg.format = format
	cfg.noProgress = true
	if key != "" {
		if err := cfg.headers.Set("Authorization: Bearer " + key); err != nil {
			return fail(env, err)
		}
	}
	plan, err := planScan(cfg, env)
	if err != nil {
		return fail(env, err)
	}
	return executeScan(ctx, env, cfg, plan)
}

// waitListening waits until addr accepts connections, the gate exits, or
// the timeout passes.
func waitListening(ctx context.Context, addr string, exited <-chan int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case code := <-exited:
			return fmt.Errorf("the gate exited with status %d", code)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections after %s", addr, timeout)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
