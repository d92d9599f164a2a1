package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfigFiles makes the files a config may name and returns dir.
func writeConfigFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"keys.txt", "secret", "policy.json", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfigGood(t *testing.T) {
	dir := writeConfigFiles(t)
	src := strings.ReplaceAll(`
listen: 0.0.0.0:8443
public_names: [mcp.example.com]
allowed_origins: [https://app.example.com]
trusted_proxies: [10.0.0.0/8, 192.0.2.7]
tls:
  self_signed: true
  client_ca: DIR/ca.pem
limits:
  max_body: 1048576
  upstream_timeout: 45s
  requests_per_second: 20
  tool_calls_per_second: 5
  max_concurrent: 8
audit:
  sink: jsonl:DIR/audit.jsonl
  durability: sync
  args: true
  redact: [ssn, card_number]
metrics_listen: 127.0.0.1:9464
routes:
  - path: /github
    upstream: http://127.0.0.1:3000/mcp
    upstream_headers: {X-Upstream-Key: s3cret}
    scopes: [mcp]
    auth:
      api_keys: DIR/keys.txt
      jwt:
        issuer: https://auth.example.com
        audiences: [https://mcp.example.com/github, client-123]
      introspection:
        url: https://auth.example.com/introspect
        client_id: gate
        client_secret_file: DIR/secret
    policy:
      default: deny
      rules:
        - effect: allow
          kinds: [tool]
          names: [search, read_*]
          groups: [ops]
  - path: /files
    command: [npx, -y, some-mcp-server]
    auth: {mtls: true}
    policy_file: DIR/policy.json
`, "DIR", dir)
	c, err := ParseConfig(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("problems in a good config: %q", p)
	}
	if len(c.Routes) != 2 || c.Routes[0].Auth.JWT.Audiences[1] != "client-123" || c.Routes[1].Command[2] != "some-mcp-server" ||
		c.Routes[0].Policy.Default != "deny" || c.Routes[0].Policy.Rules[0].Kinds[0] != KindTool ||
		c.Limits.MaxConcurrent != 8 || c.Audit.Durability != "sync" || !c.TLS.SelfSigned ||
		!c.Audit.Args || len(c.Audit.Redact) != 2 || c.Audit.Redact[1] != "card_number" {
		t.Errorf("decoded %+v", c)
	}
}

func TestConfigProblemsTogether(t *testing.T) {
	src := `
listen: 0.0.0.0:8443
allowed_origins: ["*"]
audit: {sink: "syslog", durability: eventually}
routes:
  - path: /a
    upstream: ftp://127.0.0.1/mcp
  - path: /a
    upstream: http://127.0.0.1:3000/a
    auth:
      jwt: {issuer: "http://auth.example.com"}
`
	c, err := ParseConfig(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Problems()
	all := strings.Join(p, "\n")
	for _, want := range []string{
		"public_names is required",
		`allowed_origins: "*"`,
		`audit.sink "syslog"`,
		`audit.durability "eventually"`,
		`routes[0]: upstream "ftp://127.0.0.1/mcp"`,
		`routes[1]: path "/a" already used by routes[0]`,
		`routes[1].auth.jwt.issuer "http://auth.example.com": want https`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q", want)
		}
	}
	if len(p) < 7 {
		t.Errorf("%d problems, want at least 7:\n%s", len(p), all)
	}
}

func TestConfigAuditArgsProblems(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("audit: {args: true, redact: [ssn, \" \"]}\nroutes: [{upstream: \"http://127.0.0.1:3000/mcp\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(c.Problems(), "\n")
	for _, want := range []string{"audit.args and audit.redact need audit.sink", "audit.redact[1]: empty field name"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

func TestConfigDecodeErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "listen: 127.0.0.1:1\nlisten_addr: x\nroutes: []\n", "listen_addr"},
		{"unknown nested key", "routes:\n  - upstream: http://127.0.0.1:1/mcp\n    auth: {apikeys: k}\n", "apikeys"},
		{"two unknown keys reported together", "lisen: x\nrouts: y\n", "routs"},
		{"wrong type", "limits: {max_concurrent: many}\n", "many"},
		{"empty", "", "empty"},
		{"two documents", "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n", "more than one"},
		{"not yaml", "routes: [\n", "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one mentioning %q", err, tt.want)
			}
			if tt.name == "two unknown keys reported together" && !strings.Contains(err.Error(), "lisen") {
				t.Errorf("only some unknown keys reported: %v", err)
			}
		})
	}
}

func TestConfigMissingFilesAndAuth(t *testing.T) {
	dir := t.TempDir()
	c := &FileConfig{
		Listen:      "0.0.0.0:8443",
		PublicNames: []string{"mcp.example.com"},
		TLS:         &TLSFileConfig{Cert: filepath.Join(dir, "cert.pem")},
		Routes: []RouteFileConfig{
			{Upstream: "http://127.0.0.1:3000/mcp", Auth: RouteAuthFileConfig{APIKeys: filepath.Join(dir, "nokeys.txt"), MTLS: true}},
			{Path: "/open", Upstream: "http://127.0.0.1:3001/mcp"},
			{Path: "/both", Upstream: "http://127.0.0.1:3002/mcp", Command: []string{"cat"}, Policy: &Policy{}, PolicyFile: "p.json"},
		},
	}
	all := strings.Join(c.Problems(), "\n")
	for _, want := range []string{"cert and key go together", "nokeys.txt", "auth.mtls needs tls.client_ca",
		"routes[1]: no authentication method", "routes[2]: upstream and command exclude", "policy and policy_file exclude"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("nope: 1\n"), 0o600)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad file: %v", err)
	}
}

// TestConfigDocExample checks that the full example in docs/gate-config.md
// decodes, and that its only problems are the files it names not existing
// on this machine.
func TestConfigDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "gate-config.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml example in docs/gate-config.md")
	}
	c, err := ParseConfig(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 2 {
		t.Errorf("%d routes, want 2", len(c.Routes))
	}
	for _, p := range c.Problems() {
		if !strings.Contains(p, "/etc/mcpwarden/") {
			t.Errorf("unexpected problem: %s", p)
		}
	}
}

// FuzzParseConfig: no input makes decoding or checking panic or hang.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("routes:\n  - upstream: http://127.0.0.1:3000/mcp\n"))
	f.Add([]byte("listen: 0.0.0.0:1\nroutes: [{path: /a, command: [cat], auth: {mtls: true}}]\n"))
	f.Add([]byte("routes:\n  - upstream: x\n    policy: {default: deny, rules: [{effect: allow, kinds: [tool]}]}\n"))
	f.Add([]byte("tls: {self_signed: true}\nlimits: {upstream_timeout: 1h}\naudit: {sink: stdout}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		_ = c.Problems()
	})
}
