package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

func runAuditCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runAudit(context.Background(), &Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv:     func(string) string { return "" },
		IsTerminal: func(io.Writer) bool { return false },
	}, args)
	return code, out.String(), errb.String()
}

// auditFixture writes the same records to a JSON Lines file and a SQLite
// database and returns both sources. Records are an hour apart, the last
// one 30 minutes ago.
func auditFixture(t *testing.T) (jsonl, sqlite string) {
	t.Helper()
	dir := t.TempDir()
	jsonl, sqlite = "jsonl:"+filepath.Join(dir, "a.jsonl"), "sqlite:"+filepath.Join(dir, "a.db")
	base := time.Now().UTC().Add(-30 * time.Minute).Add(-5 * time.Hour).Truncate(time.Millisecond)
	rows := []struct{ principal, method, name, decision, reason string }{
		{"key:alice", "tools/list", "", "allow", ""},
		{"key:alice", "tools/call", "echo", "allow", ""},
		{"key:bob", "tools/call", "shell", "deny", "policy: tool shell denied"},
		{"oauth:carol", "tools/call", "echo", "allow", ""},
		{"key:bob", "tools/call", "echo\x1b[31m", "error", "upstream 502"},
		{"key:alice", "resources/read", "file:///notes", "allow", ""},
	}
	for _, spec := range []string{jsonl, sqlite} {
		s, err := audit.OpenWith(spec, &audit.Options{Durability: audit.DurabilitySync})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			rec := &audit.Record{Time: base.Add(time.Duration(i) * time.Hour), RequestID: fmt.Sprintf("r%d", i),
				Principal: r.principal, AuthMethod: "apikey", ClientAddr: "127.0.0.1:4000", Method: r.method,
				Name: r.name, Decision: r.decision, Reason: r.reason, LatencyMS: 1.25, Upstream: 200}
			if err := s.Write(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return jsonl, sqlite
}

func requestIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(out) {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		ids = append(ids, r.RequestID)
	}
	return ids
}

func TestAuditCommandFilters(t *testing.T) {
	jsonl, sqlite := auditFixture(t)
	justBefore := time.Now().UTC().Add(-5*time.Hour - 31*time.Minute).Format(time.RFC3339)
	justAfter := time.Now().UTC().Add(-5*time.Hour - 29*time.Minute).Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "r0,r1,r2,r3,r4,r5"},
		{"principal", []string{"--principal", "key:bob"}, "r2,r4"},
		{"tool", []string{"--tool", "echo"}, "r1,r3"},
		{"method", []string{"--method", "tools/call"}, "r1,r2,r3,r4"},
		{"decision", []string{"--decision", "deny"}, "r2"},
		{"since duration", []string{"--since", "2h"}, "r4,r5"},
		{"since rfc3339", []string{"--since", justBefore}, "r0,r1,r2,r3,r4,r5"},
		{"since rfc3339 after first", []string{"--since", justAfter}, "r1,r2,r3,r4,r5"},
		{"since date", []string{"--since", "2000-01-02"}, "r0,r1,r2,r3,r4,r5"},
		{"until date", []string{"--until", "2000-01-02"}, ""},
		{"until duration", []string{"--until", "4h"}, "r0,r1"},
		{"window", []string{"--since", "5h", "--until", "2h", "--principal", "key:alice"}, "r1"},
		{"limit", []string{"--method", "tools/call", "--limit", "2"}, "r1,r2"},
		{"none", []string{"--principal", "nobody"}, ""},
	}
	for _, src := range []string{jsonl, sqlite} {
		for _, tc := range tests {
			t.Run(src[:strings.Index(src, ":")]+"/"+tc.name, func(t *testing.T) {
				args := append([]string{"--log", src, "-o", "jsonl"}, tc.args...)
				code, out, errs := runAuditCmd("", args...)
				if code != ExitOK {
					t.Fatalf("exit %d: %s", code, errs)
				}
				if got := strings.Join(requestIDs(t, out), ","); got != tc.want {
					t.Errorf("got %s, want %s", got, tc.want)
				}
			})
		}
	}
}

func TestAuditCommandTable(t *testing.T) {
	jsonl, _ := auditFixture(t)
	code, out, errs := runAuditCmd("", "--log", jsonl, "--principal", "key:bob")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(lines[1], "policy: tool shell denied") || !strings.Contains(lines[1], "deny") {
		t.Errorf("deny row %q", lines[1])
	}
	if strings.Contains(out, "\x1b") || !strings.Contains(lines[2], `echo\x1b[31m`) {
		t.Errorf("escape sequence not neutralised: %q", lines[2])
	}
	code, out, _ = runAuditCmd("", "--log", jsonl, "--principal", "nobody")
	if code != ExitOK || !strings.Contains(out, "no matching records") {
		t.Errorf("empty result: exit %d, %q", code, out)
	}
}

func TestAuditCommandStdinAndPartialLine(t *testing.T) {
	jsonl, _ := auditFixture(t)
	data, err := os.ReadFile(strings.TrimPrefix(jsonl, "jsonl:"))
	if err != nil {
		t.Fatal(err)
	}
	in := string(data) + `{"time":"2026-01-02T15:04:05Z","request_id":"cut","prin`
	code, out, errs := runAuditCmd(in, "--log", "jsonl:-", "-o", "jsonl", "--decision", "allow")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := strings.Join(requestIDs(t, out), ","); got != "r0,r1,r3,r5" {
		t.Errorf("got %s", got)
	}
	if !strings.Contains(errs, "warning") || !strings.Contains(errs, "stdin:7") || !strings.Contains(errs, "partial") {
		t.Errorf("no warning for the partial line: %q", errs)
	}
}

func TestAuditCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--log is required"},
		{[]string{"--log", "audit.jsonl"}, `"audit.jsonl"`},
		{[]string{"--log", "csv:audit.csv"}, `"csv:audit.csv"`},
		{[]string{"--log", "jsonl:"}, `"jsonl:"`},
		{[]string{"--log", "sqlite:-"}, `"sqlite:-"`},
		{[]string{"--log", "jsonl:x", "--decision", "maybe"}, `"maybe"`},
		{[]string{"--log", "jsonl:x", "--limit", "-1"}, "-1"},
		{[]string{"--log", "jsonl:x", "--limit", "many"}, "many"},
		{[]string{"--log", "jsonl:x", "-o", "xml"}, `"xml"`},
		{[]string{"--log", "jsonl:x", "--since", "yesterday"}, `"yesterday"`},
		{[]string{"--log", "jsonl:x", "--until", "-1h"}, `"-1h"`},
		{[]string{"--log", "jsonl:x", "--since", "1h", "--until", "2h"}, "not before"},
		{[]string{"--log", "jsonl:x", "extra"}, `"extra"`},
		{[]string{"--log", "jsonl:x", "--bogus"}, "bogus"},
		{[]string{"--log", "jsonl:x", "--new-since", "1h"}, "--new-since needs --clients"},
		{[]string{"--log", "jsonl:x", "--clients", "--new-since", "soon"}, `"soon"`},
		{[]string{"--log", "jsonl:" + filepath.Join(dir, "missing.jsonl")}, "missing.jsonl"},
		{[]string{"--log", "sqlite:" + filepath.Join(dir, "missing.db")}, "missing.db"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runAuditCmd("", tc.args...)
			if code != ExitError {
				t.Fatalf("exit %d, want %d (stdout %q)", code, ExitError, out)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr %q does not mention %s", errs, tc.want)
			}
		})
	}
}

func TestAuditCommandHelp(t *testing.T) {
	code, out, _ := runAuditCmd("", "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, flag := range []string{"--log", "--principal", "--tool", "--method", "--decision", "--since", "--until", "--limit", "--output", "jsonl:PATH", "sqlite:PATH", "Examples:"} {
		if !strings.Contains(out, flag) {
			t.Errorf("help does not explain %s", flag)
		}
	}
}

// TestAuditCommandClients: --clients over both log kinds groups by
// principal and client address, counts refusals, classes the address and
// marks a network first used after --new-since as NEW.
func TestAuditCommandClients(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rows := []struct {
		ago       time.Duration
		principal string
		client    string
		decision  string
	}{
		{72 * time.Hour, "key:ci", "10.0.0.5", "allow"},
		{71 * time.Hour, "key:ci", "10.0.0.5", "deny"},
		{2 * time.Hour, "key:ci", "203.0.113.7", "allow"},
		{1 * time.Hour, "key:ci", "127.0.0.1", "allow"},
		{30 * time.Minute, "oauth:eve", "198.51.100.1", "allow"},
	}
	for _, spec := range []string{"jsonl:" + filepath.Join(dir, "c.jsonl"), "sqlite:" + filepath.Join(dir, "c.db")} {
		s, err := audit.OpenWith(spec, &audit.Options{Durability: audit.DurabilitySync})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if err := s.Write(context.Background(), &audit.Record{Time: now.Add(-r.ago), RequestID: fmt.Sprint(i), Principal: r.principal,
				ClientAddr: r.client, Method: "tools/call", Name: "echo", Decision: r.decision}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Run(spec[:strings.Index(spec, ":")], func(t *testing.T) {
			code, out, errs := runAuditCmd("", "--log", spec, "--clients", "--new-since", "24h", "-o", "jsonl")
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			type row struct {
				Principal, Client, Network, Class string
				Requests, Denied                  int
				New                               bool `json:"new_network"`
			}
			var got []row
			dec := json.NewDecoder(strings.NewReader(out))
			for dec.More() {
				var r row
				if err := dec.Decode(&r); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			want := []row{
				{"key:ci", "10.0.0.5", "10.0.0.0/24", "private", 2, 1, false},
				{"key:ci", "203.0.113.7", "203.0.113.0/24", "public", 1, 0, true},
				{"key:ci", "127.0.0.1", "127.0.0.0/24", "loopback", 1, 0, true},
				{"oauth:eve", "198.51.100.1", "198.51.100.0/24", "public", 1, 0, false},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("rows\n%+v\nwant\n%+v", got, want)
			}

			code, out, _ = runAuditCmd("", "--log", spec, "--clients", "--principal", "key:ci", "--limit", "2")
			if code != ExitOK || !strings.Contains(out, "PRINCIPAL") || strings.Count(out, "key:ci") != 2 ||
				strings.Count(out, "NEW") != 2 || strings.Contains(out, "eve") {
				t.Errorf("table (exit %d):\n%s", code, out)
			}
		})
	}
}
