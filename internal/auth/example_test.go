package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/auth"
)

// A gate answers a request without credentials with a challenge that
// points the client at the resource's metadata.
func ExampleChallenge() {
	md, _ := auth.MetadataURL("https://gw.example/mcp")
	w := httptest.NewRecorder()
	auth.Challenge(w, http.StatusUnauthorized, md, []string{"tools:call"}, "", "")
	fmt.Println(w.Code)
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output:
	// 401
	// Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", scope="tools:call"
}

// API keys are made with NewKey; the keys file stores only the hash line.
func ExampleNewKey() {
	key, line, _ := auth.NewKey("ci-bot")
	keys, _ := auth.LoadAPIKeys("keys.txt", strings.NewReader(line+"\n"))

	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8443/mcp", nil)
	r.Header.Set("X-API-Key", key)
	p, err := auth.Chain(keys).Authenticate(r)
	fmt.Println(p.Method, p.KeyName, err)

	other, _, _ := auth.NewKey("not-in-the-file")
	r.Header.Set("X-API-Key", other)
	_, err = keys.Authenticate(r)
	fmt.Println(errors.Is(err, auth.ErrInvalidCredentials), auth.ReasonOf(err))
	// Output:
	// apikey ci-bot <nil>
	// true unknown api key
}
