package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

func TestOptParams(t *testing.T) {
	// A typed nil map must not become "params": null (the TypeScript SDK
	// rejects it with 400).
	var none map[string]any
	if b := mcpwire.Request(json.RawMessage("1"), "tools/list", optParams(none)); bytes.Contains(b, []byte("params")) {
		t.Errorf("nil params encoded: %s", b)
	}
	if b := mcpwire.Request(json.RawMessage("1"), "tools/list", optParams(map[string]any{"cursor": "c"})); !bytes.Contains(b, []byte(`"params":{"cursor":"c"}`)) {
		t.Errorf("params lost: %s", b)
	}
}

func TestReplyMessage(t *testing.T) {
	decode := func(s string) []mcpwire.Message {
		ms, err := mcpwire.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	tests := []struct {
		name    string
		r       *reply
		wantErr string
	}{
		{"the response", &reply{status: 200, msgs: decode(`{"jsonrpc":"2.0","id":7,"result":{}}`)}, ""},
		{"a stringified id", &reply{status: 200, msgs: decode(`{"jsonrpc":"2.0","id":"7","result":{}}`)}, ""},
		{"an error without id", &reply{status: 400, msgs: decode(`{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: No valid session ID provided"}}`)},
			"HTTP 400: error -32000: Bad Request: No valid session ID provided"},
		{"another id", &reply{status: 200, msgs: decode(`{"jsonrpc":"2.0","id":8,"result":{}}`)}, "HTTP 200 without a JSON-RPC response"},
		{"undecodable", &reply{status: 502, decodeErr: mcpwire.ErrNotJSONRPC}, "HTTP 502: " + mcpwire.ErrNotJSONRPC.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := replyMessage(tt.r, "7")
			if tt.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("replyMessage = %v, %v", m, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestEncoded(t *testing.T) {
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"identity"}, false},
		{[]string{"Identity, "}, false},
		{[]string{"gzip"}, true},
		{[]string{"identity, br"}, true},
		{[]string{"identity", "deflate"}, true},
	}
	for _, tt := range tests {
		if got := encoded(http.Header{"Content-Encoding": tt.values}); got != tt.want {
			t.Errorf("encoded(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

func TestClassifyAndSchemeHints(t *testing.T) {
	if !looksLikePlain(errors.New(`Post "https://127.0.0.1:1/mcp": http: server gave HTTP response to HTTPS client`)) {
		t.Error("net/http's plain-server error is not recognised")
	}
	if looksLikePlain(errors.New("x509: certificate signed by unknown authority")) {
		t.Error("a certificate error taken for a plain server")
	}
	st, msg := classify(fmt.Errorf("probe: %w", errUnrequestedEncoding))
	if st != result.StatusError || !strings.Contains(msg, "not asked for") {
		t.Errorf("classify(unrequested encoding) = %s %q", st, msg)
	}
	if s := shortErr(errors.New(strings.Repeat("é", 150))); !strings.HasSuffix(s, "...") || len(s) > 203 || strings.ContainsRune(s, '\uFFFD') {
		t.Errorf("shortErr cut a rune: %q", s)
	}
}

// TestResourceMetadataOrigin checks that a resource_metadata URL is only
// fetched on the scanned origin: the client can only reach that address,
// so another port or scheme is reported, not fetched (and not silently
// fetched from the scanned port instead); the well-known fallback still
// applies.
func TestResourceMetadataOrigin(t *testing.T) {
	var wellKnown atomic.Bool
	var wellKnownHits, otherHits atomic.Int32
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+r.URL.Query().Get("rm")+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/.well-known/oauth-protected-resource/", func(w http.ResponseWriter, r *http.Request) {
		wellKnownHits.Add(1)
		if !wellKnown.Load() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"resource":%q,"authorization_servers":["https://as.example.test"]}`, base+"/mcp")
	})
	mux.HandleFunc("/other/prm", func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) })
	host, port := listen(t, "127.0.0.66", mux, false)
	base = "http://" + host + ":" + strconv.Itoa(port)
	otherPort := "http://" + host + ":" + strconv.Itoa(port+1)
	otherScheme := "https://" + host + ":" + strconv.Itoa(port)

	tests := []struct {
		name      string
		rm        string
		wellKnown bool
		wantMD    bool
		wantError string
		wantOther int32
	}{
		{"another port", otherPort + "/other/prm", false, false, "resource_metadata is on another origin (" + otherPort + "); not fetched", 0},
		{"another scheme", otherScheme + "/other/prm", false, false, "resource_metadata is on another origin (" + otherScheme + "); not fetched", 0},
		{"another host", "http://127.0.0.67:" + strconv.Itoa(port) + "/other/prm", false, false, "resource_metadata is on another host (127.0.0.67); not fetched", 0},
		{"another port, well-known fallback", otherPort + "/other/prm", true, true, "", 0},
		{"same origin, not metadata", base + "/other/prm", false, false, base + "/other/prm: not a JSON object", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wellKnown.Store(tt.wellKnown)
			wellKnownHits.Store(0)
			otherHits.Store(0)
			eps := New(Options{}).Probe(t.Context(), target.Service{Host: host, Port: port, Scheme: "http", Paths: []string{"/mcp?rm=" + tt.rm}})
			if len(eps) != 1 || eps[0].Auth == nil {
				t.Fatalf("records %+v", eps)
			}
			a := eps[0].Auth
			if a.Scheme != result.AuthOAuth || (a.ResourceMetadata != nil) != tt.wantMD || a.MetadataError != tt.wantError {
				t.Errorf("auth scheme %q metadata %+v error %q; want oauth, metadata %v, error %q", a.Scheme, a.ResourceMetadata, a.MetadataError, tt.wantMD, tt.wantError)
			}
			if a.ResourceMetadataURL != tt.rm {
				t.Errorf("resource_metadata_url %q, want the advertised %q", a.ResourceMetadataURL, tt.rm)
			}
			if got := otherHits.Load(); got != tt.wantOther {
				t.Errorf("the advertised path was fetched %d times, want %d", got, tt.wantOther)
			}
			if wellKnownHits.Load() == 0 {
				t.Error("the well-known locations were not tried")
			}
		})
	}
}
