package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// TestAuditConfigs checks the configuration half of the audit: one record
// per entry (status static), an error record per malformed file, and
// --all-users reading every home directory of the passwd file.
func TestAuditConfigs(t *testing.T) {
	root := t.TempDir()
	me := filepath.Join(root, "me")
	other := filepath.Join(root, "other")
	for _, d := range []string{filepath.Join(me, ".cursor"), filepath.Join(other, ".gemini")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(me, ".cursor", "mcp.json"), `{"mcpServers": {"ok": {"url": "https://mcp.example.test/mcp", "headers": {"Authorization": "Bearer ${env:TOK}"}}}}`)
	write(filepath.Join(other, ".gemini", "settings.json"), `{"mcpServers": {"plain": {"url": "http://198.51.100.3/sse"}}}`)
	bad := filepath.Join(root, "bad.json")
	write(bad, `{"mcpServers": [`)
	passwd := filepath.Join(root, "passwd")
	write(passwd, "root:x:0:0::/:/bin/sh\nme:x:1000:1000::"+me+":/bin/sh\nother:x:1001:1001::"+other+":/bin/sh\ngone:x:1002:1002::"+filepath.Join(root, "gone")+":/bin/sh\n")

	run := func(allUsers bool) []*result.Endpoint {
		var recs []*result.Endpoint
		res, err := Audit(context.Background(), Options{NoListeners: true, Home: me, Project: root, AllUsers: allUsers, Passwd: passwd,
			Configs: []string{bad}}, func(ep *result.Endpoint) error {
			recs = append(recs, ep)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Summary.Targets != int64(len(recs)) || res.Summary.ByStatus[result.StatusError] != 1 {
			t.Errorf("summary %+v for %d records", res.Summary, len(recs))
		}
		return recs
	}
	recs := run(false)
	if len(recs) != 2 {
		t.Fatalf("%d records, want the cursor entry and the bad file", len(recs))
	}
	for _, r := range recs {
		switch {
		case r.Status == result.StatusError:
			if r.Config.Path != bad || r.Config.Client != "custom" || !strings.Contains(r.Error, "unexpected end") {
				t.Errorf("error record %+v %+v", r, r.Config)
			}
		case r.Status == result.StatusNotProbed:
			if r.Config.Client != "cursor" || r.Config.ServerName != "ok" || r.Host != "mcp.example.test" || r.Port != 443 || len(r.Findings) != 0 {
				t.Errorf("record %+v %+v", r, r.Config)
			}
		default:
			t.Errorf("status %q", r.Status)
		}
	}
	recs = run(true)
	var plain *result.Endpoint
	for _, r := range recs {
		if r.Config != nil && r.Config.ServerName == "plain" {
			plain = r
		}
	}
	if len(recs) != 3 || plain == nil {
		t.Fatalf("--all-users: %d records, plain %v", len(recs), plain)
	}
	if findRule(plain.Findings, rules.ConfigPlaintextRemote) == nil || findRule(plain.Findings, rules.ConfigRemoteNoAuth) == nil {
		t.Errorf("findings %v", ruleSev(plain.Findings))
	}
}

func TestUserHomes(t *testing.T) {
	if _, err := userHomes(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing passwd file")
	}
}

func TestURLService(t *testing.T) {
	svc, err := urlService("http://[::1]:8080/mcp?x=1")
	if err != nil || svc.Host != "::1" || svc.Port != 8080 || svc.Scheme != "http" || svc.Paths[0] != "/mcp?x=1" {
		t.Errorf("svc %+v err %v", svc, err)
	}
	svc, err = urlService("https://h.example.test")
	if err != nil || svc.Port != 443 || svc.Paths[0] != "/" {
		t.Errorf("svc %+v err %v", svc, err)
	}
	for _, bad := range []string{"ftp://h/x", "http://", "::nope"} {
		if _, err := urlService(bad); err == nil {
			t.Errorf("urlService(%q): no error", bad)
		}
	}
}
