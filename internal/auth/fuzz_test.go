package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func FuzzLoadAPIKeys(f *testing.F) {
	h := strings.Repeat("ab", 32)
	for _, s := range []string{
		"",
		"# comment\n\nbot::sha256:" + h + "\n",
		"bot:tools:read,tools:call:sha256:" + h,
		"a::sha256:" + h + "\na::sha256:" + strings.Repeat("cd", 32),
		"x:y",
		"x:::sha256:" + h,
		"bad name::sha256:" + h,
		"k::sha256:" + strings.Repeat("z", 64),
		"k::md5:" + h + "\r\n",
		strings.Repeat("k", 5000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ks, err := LoadAPIKeys("fuzz", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "auth: api keys: fuzz:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		// Whatever loaded must survive a round trip through the format.
		var lines []string
		for _, k := range ks.keys {
			if err := checkKeyName(k.Name); err != nil {
				t.Fatalf("loaded bad name: %v", err)
			}
			lines = append(lines, k.Name+":"+strings.Join(k.Scopes, ",")+":sha256:"+hex.EncodeToString(k.digest[:]))
		}
		again, err := LoadAPIKeys("again", strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("round trip of %q: %v", lines, err)
		}
		if len(again.keys) != len(ks.keys) {
			t.Fatalf("round trip: %d keys, want %d", len(again.keys), len(ks.keys))
		}
		for i := range again.keys {
			a, b := again.keys[i], ks.keys[i]
			if a.Name != b.Name || a.digest != b.digest || strings.Join(a.Scopes, ",") != strings.Join(b.Scopes, ",") {
				t.Fatalf("round trip changed %+v into %+v", b, a)
			}
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Bearer", "Bearer ", "Basic x", "Bearer a==", "Bearer =", "Bearer a b", "Bearer \x00", "BEARER mcpw_x"} {
		f.Add(s, "")
	}
	f.Add("Bearer a", "Bearer b")
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		h := http.Header{}
		h.Add("Authorization", v1)
		if v2 != "" {
			h.Add("Authorization", v2)
		}
		tok, err := BearerToken(h)
		if err != nil {
			if tok != "" || (!errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrInvalidCredentials)) {
				t.Fatalf("%q, %v", tok, err)
			}
			return
		}
		if v2 != "" || !isToken68(tok) || !strings.Contains(v1, tok) || len(tok) > maxCredentialLen {
			t.Fatalf("BearerToken(%q, %q) = %q", v1, v2, tok)
		}
	})
}

// FuzzJWTVerify feeds arbitrary tokens to a verifier (HMAC mode, so no
// network): it must refuse them with a reason and never panic.
func FuzzJWTVerify(f *testing.F) {
	secret := []byte(strings.Repeat("k", 32))
	j, err := NewJWT(context.Background(), JWTOptions{Issuer: "https://idp.example", Audiences: []string{"https://gw.example/mcp"}, SharedSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"",
		"a.b.c",
		"eyJhbGciOiJIUzI1NiJ9.e30.",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwiYXVkIjpbXX0.c2ln",
		"a.b.c.d.e",
		"...",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := j.Verify(context.Background(), tok)
		if err == nil {
			t.Fatalf("accepted %q as %+v", tok, p)
		}
		if ReasonOf(err) == "" {
			t.Fatalf("refusal without reason: %v", err)
		}
	})
}
