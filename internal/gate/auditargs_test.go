package gate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// TestAuditArgs checks the opt-in argument recording: off by default (the
// digest only), on with AuditArgs, with the default credential fields and
// the operator's fields redacted at any depth, for allowed and denied calls,
// and that a secret never reaches the JSON Lines file.
func TestAuditArgs(t *testing.T) {
	u := startUpstream(t, upStateless)
	const args = `{"text":"hi","password":"p@ss-1","nested":{"SSN":"123-45","ok":1,"list":[{"api_key":"k-2"}]}}`
	body := func(tool string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	}
	hdr := map[string]string{"Authorization": "Bearer alice-token"}
	want := map[string]any{
		"text": "hi", "password": audit.Redacted,
		"nested": map[string]any{"SSN": audit.Redacted, "ok": json.Number("1"), "list": []any{map[string]any{"api_key": audit.Redacted}}},
	}
	digest := audit.Digest(json.RawMessage(args))

	tests := []struct {
		name     string
		on       bool
		tool     string
		decision string
	}{
		{"off by default", false, "echo", "allow"},
		{"on, allowed call", true, "echo", "allow"},
		{"on, denied call", true, "run_shell_command", "deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			file, err := audit.OpenWith("jsonl:"+path, &audit.Options{Durability: audit.DurabilitySync})
			if err != nil {
				t.Fatal(err)
			}
			mem := &memSink{}
			g := startGate(t, u, func(o *Options) {
				o.Audit = audit.Multi(mem, file)
				o.AuditArgs = tt.on
				o.AuditRedact = []string{"ssn"}
			})
			send(t, "POST", g.url, hdr, "", body(tt.tool))
			var rec *audit.Record
			for _, r := range mem.records() {
				if r.Method == "tools/call" {
					rec = &r
				}
			}
			if rec == nil {
				t.Fatalf("no tools/call record in %+v", mem.records())
			}
			if rec.Decision != tt.decision || rec.Name != tt.tool || rec.ArgsDigest != digest {
				t.Errorf("record %s %s digest %s, want %s %s %s", rec.Decision, rec.Name, rec.ArgsDigest, tt.decision, tt.tool, digest)
			}
			switch {
			case !tt.on && rec.Args != nil:
				t.Errorf("arguments recorded without AuditArgs: %v", rec.Args)
			case tt.on && !reflect.DeepEqual(rec.Args, want):
				t.Errorf("args = %#v\nwant %#v", rec.Args, want)
			}
			if err := g.g.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"p@ss-1", "123-45", "k-2"} {
				if strings.Contains(string(data), secret) {
					t.Errorf("secret %q in the audit file:\n%s", secret, data)
				}
			}
			if tt.on && !strings.Contains(string(data), `"text":"hi"`) {
				t.Errorf("arguments missing from the audit file:\n%s", data)
			}
		})
	}
}
