package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNewKeyAndAuthenticate(t *testing.T) {
	k1, l1, err := NewKey("ci-bot")
	if err != nil {
		t.Fatal(err)
	}
	k2, l2, err := NewKey("laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k1, APIKeyPrefix) || len(k1) != apiKeyLen || k1 == k2 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	if strings.Contains(l1, k1) || !strings.HasPrefix(l1, "ci-bot::sha256:") {
		t.Fatalf("line %q", l1)
	}
	sum := sha256.Sum256([]byte(k1))
	if !strings.HasSuffix(l1, hex.EncodeToString(sum[:])) {
		t.Fatalf("line %q does not hold the key's SHA-256", l1)
	}
	// Scopes go in the second field.
	l2 = strings.Replace(l2, "laptop::", "laptop:tools:read,tools:call:", 1)
	file := "# keys\n\n" + l1 + "\r\n  " + l2 + "  \n"
	keys, err := LoadAPIKeys("keys.txt", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() != 2 || !slices.Equal(keys.Names(), []string{"ci-bot", "laptop"}) {
		t.Fatalf("loaded %v", keys.Names())
	}
	wrong, _, _ := NewKey("x")

	hdr := func(kv ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9/mcp", nil)
		for i := 0; i < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
		return r
	}
	tests := []struct {
		name    string
		req     *http.Request
		wantKey string // key name on success
		wantErr error
		reason  Reason
	}{
		{"bearer", hdr("Authorization", "Bearer "+k1), "ci-bot", nil, ""},
		{"x-api-key", hdr("X-API-Key", k2), "laptop", nil, ""},
		{"both the same", hdr("X-API-Key", k2, "Authorization", "Bearer "+k2), "laptop", nil, ""},
		{"no credentials", hdr(), "", ErrNoCredentials, ""},
		{"jwt bearer is not ours", hdr("Authorization", "Bearer eyJ.eyJ.sig"), "", ErrNoCredentials, ""},
		{"malformed bearer is not ours", hdr("Authorization", "Bearer a b"), "", ErrNoCredentials, ""},
		{"wrong key", hdr("Authorization", "Bearer "+wrong), "", ErrInvalidCredentials, ReasonUnknownAPIKey},
		{"wrong key in x-api-key", hdr("X-API-Key", wrong), "", ErrInvalidCredentials, ReasonUnknownAPIKey},
		{"key one char off", hdr("X-API-Key", k1[:len(k1)-1]+flip(k1[len(k1)-1])), "", ErrInvalidCredentials, ReasonUnknownAPIKey},
		{"truncated key", hdr("X-API-Key", k1[:20]), "", ErrInvalidCredentials, ReasonMalformed},
		{"no prefix in x-api-key", hdr("X-API-Key", strings.TrimPrefix(k1, APIKeyPrefix)), "", ErrInvalidCredentials, ReasonMalformed},
		{"empty x-api-key", hdr("X-API-Key", ""), "", ErrInvalidCredentials, ReasonMalformed},
		{"two x-api-key", hdr("X-API-Key", k1, "X-API-Key", k1), "", ErrInvalidCredentials, ReasonAmbiguous},
		{"different keys", hdr("X-API-Key", k1, "Authorization", "Bearer "+k2), "", ErrInvalidCredentials, ReasonAmbiguous},
		{"x-api-key with a jwt", hdr("X-API-Key", k1, "Authorization", "Bearer eyJ.eyJ.sig"), "", ErrInvalidCredentials, ReasonAmbiguous},
		{"key in query only", httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/mcp?api_key="+k1, nil), "", ErrNoCredentials, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := keys.Authenticate(tt.req)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Method != "apikey" || p.KeyName != tt.wantKey || p.Subject != tt.wantKey {
					t.Errorf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || ReasonOf(err) != tt.reason {
				t.Fatalf("err %v (reason %q), want %v / %q", err, ReasonOf(err), tt.wantErr, tt.reason)
			}
			if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), k2) {
				t.Errorf("error %q holds a key", err)
			}
		})
	}
	p, _ := keys.Authenticate(hdr("X-API-Key", k2))
	if !slices.Equal(p.Scopes, []string{"tools:read", "tools:call"}) {
		t.Errorf("scopes %v", p.Scopes)
	}
	p.Scopes[0] = "changed"
	if p, _ := keys.Authenticate(hdr("X-API-Key", k2)); p.Scopes[0] != "tools:read" {
		t.Error("principal shares the key's scopes")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestLoadAPIKeysErrors(t *testing.T) {
	h := strings.Repeat("ab", 32)
	file := strings.Join([]string{
		"good:s1:sha256:" + h,    // 1
		"nocolon",                // 2
		"name-only:",             // 3
		"bad name!::sha256:" + h, // 4
		"md5key::md5:" + h,       // 5
		"short::sha256:abcd",     // 6
		"nothex::sha256:" + strings.Repeat("zz", 32),     // 7
		"good::sha256:" + strings.Repeat("cd", 32),       // 8 duplicate name
		"other::sha256:" + h,                             // 9 duplicate hash
		"scopes:a,,b:sha256:" + strings.Repeat("ef", 32), // 10
		"long::sha256:" + strings.Repeat("0", 5000),      // 11
		"fine:a,b:sha256:" + strings.Repeat("12", 32),    // 12
	}, "\n")
	_, err := LoadAPIKeys("keys.txt", strings.NewReader(file))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"keys.txt:2: want", "keys.txt:3: want", `keys.txt:4: key name "bad name!"`, `keys.txt:5: key "md5key": hash must start with "sha256:"`,
		"keys.txt:6: key \"short\": hash must be 64 hex digits, got 4", `keys.txt:7: key "nothex": hash is not hex`,
		`keys.txt:8: key name "good" already used on line 1`, "keys.txt:9: same hash as line 1",
		`keys.txt:10: key "scopes": bad scope ""`, "keys.txt:11: line longer than 4096 bytes",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, bad := range []string{"keys.txt:1:", "keys.txt:12:"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error blames a good line %q:\n%v", bad, err)
		}
	}
	if strings.Count(err.Error(), "\n") != 9 {
		t.Errorf("want 10 error lines, got:\n%v", err)
	}

	empty, err := LoadAPIKeys("empty", strings.NewReader("# nothing\n"))
	if err != nil || empty.Len() != 0 {
		t.Fatalf("empty file: %v", err)
	}
	k, _, _ := NewKey("a")
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil)
	r.Header.Set("X-API-Key", k)
	if _, err := empty.Authenticate(r); ReasonOf(err) != ReasonUnknownAPIKey {
		t.Errorf("empty key set: %v", err)
	}
	for _, name := range []string{"", strings.Repeat("n", 65), "a:b", "a b"} {
		if _, _, err := NewKey(name); err == nil {
			t.Errorf("NewKey(%q) accepted", name)
		}
	}
}

func TestLoadAPIKeysFile(t *testing.T) {
	_, line, err := NewKey("f")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadAPIKeysFile(path)
	if err != nil || ks.Len() != 1 {
		t.Fatalf("%v", err)
	}
	if _, err := LoadAPIKeysFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), "keys.missing") {
		t.Errorf("missing file: %v", err)
	}
}

// BenchmarkAPIKeyAuthenticate shows the per-request cost: one SHA-256 and
// a constant-time comparison with every stored digest.
func BenchmarkAPIKeyAuthenticate(b *testing.B) {
	var lines []string
	var key string
	for i := range 100 {
		k, l, err := NewKey("k" + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i)}))
		if err != nil {
			b.Fatal(err)
		}
		lines, key = append(lines, l), k
	}
	ks, err := LoadAPIKeys("bench", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil)
	r.Header.Set("X-API-Key", key)
	for b.Loop() {
		if _, err := ks.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAPIKeyComparesEveryDigest checks the constant-time path: whichever
// key matches (first, last, none), every stored digest is compared once,
// with the constant-time comparison, and no early exit.
func TestAPIKeyComparesEveryDigest(t *testing.T) {
	var lines, keys []string
	for _, n := range []string{"k0", "k1", "k2", "k3", "k4"} {
		k, l, err := NewKey(n)
		if err != nil {
			t.Fatal(err)
		}
		keys, lines = append(keys, k), append(lines, l)
	}
	ks, err := LoadAPIKeys("k", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	ks.equal = func(a, b []byte) int { calls++; return subtle.ConstantTimeCompare(a, b) }
	none, _, _ := NewKey("none")
	for _, tc := range []struct{ key, want string }{{keys[0], "k0"}, {keys[4], "k4"}, {keys[2], "k2"}, {none, ""}} {
		calls = 0
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil)
		r.Header.Set("X-API-Key", tc.key)
		p, err := ks.Authenticate(r)
		if calls != len(keys) {
			t.Errorf("%q: %d comparisons, want %d", tc.want, calls, len(keys))
		}
		if tc.want == "" && ReasonOf(err) != ReasonUnknownAPIKey || tc.want != "" && (err != nil || p.KeyName != tc.want) {
			t.Errorf("%q: %+v %v", tc.want, p, err)
		}
	}
}
