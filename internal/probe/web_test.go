package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		name     string
		a        checkAnswer
		baseline int
		want     string
	}{
		{"mcp answer", checkAnswer{status: 200, mcp: true}, 0, "false"},
		{"403", checkAnswer{status: 403}, 0, "true"},
		{"400", checkAnswer{status: 400}, 0, "true"},
		{"421", checkAnswer{status: 421}, 0, "true"},
		{"401 on an open endpoint", checkAnswer{status: 401}, 0, "true"},
		{"408 says nothing", checkAnswer{status: 408}, 0, "null"},
		{"429 says nothing", checkAnswer{status: 429}, 0, "null"},
		{"200 without mcp", checkAnswer{status: 200}, 0, "null"},
		{"redirect", checkAnswer{status: 307}, 0, "null"},
		{"server error", checkAnswer{status: 502}, 0, "null"},
		{"no answer", checkAnswer{}, 0, "null"},
		{"protected: the same challenge", checkAnswer{status: 401}, 401, "null"},
		{"protected: 401 after a 403 challenge", checkAnswer{status: 401}, 403, "null"},
		{"protected: 403 after 401", checkAnswer{status: 403}, 401, "true"},
		{"protected: 403 after 403", checkAnswer{status: 403}, 403, "null"},
		{"protected: 421 after 401", checkAnswer{status: 421}, 401, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := "null"
			if v := verdict(tt.a, tt.baseline); v != nil {
				got = strconv.FormatBool(*v)
			}
			if got != tt.want {
				t.Errorf("verdict = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLocalIP(t *testing.T) {
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.1.2.3": true, "172.16.0.1": true, "172.32.0.1": false, "192.168.1.1": true, "100.64.0.1": true,
		"169.254.169.254": true, "fd00::1": true, "fe80::1": true,
		"8.8.8.8": false, "2001:db8::1": false, "203.0.113.9": false, "": false, "localhost": false,
	} {
		if got := localIP(ip); got != want {
			t.Errorf("localIP(%q) = %v, want %v", ip, got, want)
		}
	}
}

func TestSameHost(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Example.TEST", "example.test", true},
		{"127.0.0.1", "127.0.0.1", true},
		{"::1", "0:0::1", true},
		{"::ffff:127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"localhost", "127.0.0.1", false},
		{"a.example.test", "example.test", false},
	}
	for _, tt := range tests {
		if got := sameHost(tt.a, tt.b); got != tt.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// fakeMCP is a minimal stateless-looking streamable server: discover is an
// unknown method, initialize succeeds, tools/list is empty. react decides,
// before that, how a request with a foreign Origin or Host is answered
// (return false to let it through).
type fakeMCP struct {
	requests atomic.Int64
	react    func(w http.ResponseWriter, r *http.Request) bool
}

func (f *fakeMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if f.react != nil && f.react(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = json.Unmarshal(body, &req)
	w.Header().Set("Content-Type", "application/json")
	switch req.Method {
	case "initialize":
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}}`, req.ID)
	case "tools/list":
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"tools":[]}}`, req.ID)
	case "":
		w.WriteHeader(http.StatusBadRequest)
	default:
		if len(req.ID) == 0 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}`, req.ID)
	}
}

func foreignOrigin(r *http.Request) bool { return r.Header.Get("Origin") == ForeignOrigin }
func foreignHost(r *http.Request) bool   { return r.Host == ForeignHost }

// TestWebChecks runs the Origin and Host checks against fake servers that
// answer the foreign values in the ways the verdicts distinguish.
func TestWebChecks(t *testing.T) {
	const ip = "127.0.0.73"
	tests := []struct {
		name     string
		react    func(w http.ResponseWriter, r *http.Request) bool
		origin   result.OriginCheck
		host     result.HostCheck
		requests int64
	}{
		{
			name: "wildcard CORS only without an Origin",
			react: func(w http.ResponseWriter, r *http.Request) bool {
				if r.Header.Get("Origin") == "" {
					w.Header().Set("Access-Control-Allow-Origin", "*")
				}
				return false
			},
			origin: result.OriginCheck{Validated: ptr(false), TestedWith: ForeignOrigin, Status: 200, AllowOrigin: "*"},
			host:   result.HostCheck{Validated: ptr(false), TestedWith: ForeignHost, Status: 200},
			// discover, initialize, initialized, tools/list; one
			// initialize per check (no session to delete).
			requests: 4 + 1 + 1,
		},
		{
			name: "an allowlisted origin without the foreign one is not recorded",
			react: func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Access-Control-Allow-Origin", "https://app.example.test")
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				if foreignOrigin(r) {
					w.Header().Del("Access-Control-Allow-Origin")
					w.Header().Del("Access-Control-Allow-Credentials")
					http.Error(w, "bad origin", http.StatusForbidden)
					return true
				}
				return false
			},
			origin:   result.OriginCheck{Validated: ptr(true), TestedWith: ForeignOrigin, Status: 403},
			host:     result.HostCheck{Validated: ptr(false), TestedWith: ForeignHost, Status: 200},
			requests: 4 + 1 + 1,
		},
		{
			name: "refusals other than 403",
			react: func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case foreignOrigin(r):
					http.Error(w, "bad request", http.StatusBadRequest)
				case foreignHost(r):
					http.Error(w, "misdirected", http.StatusMisdirectedRequest)
				default:
					return false
				}
				return true
			},
			origin:   result.OriginCheck{Validated: ptr(true), TestedWith: ForeignOrigin, Status: 400},
			host:     result.HostCheck{Validated: ptr(true), TestedWith: ForeignHost, Status: 421},
			requests: 4 + 1 + 1,
		},
		{
			name: "inconclusive answers",
			react: func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case foreignOrigin(r):
					// Followed, this would reach the MCP answer.
					w.Header().Set("Location", r.URL.Path)
					w.WriteHeader(http.StatusTemporaryRedirect)
				case foreignHost(r):
					http.Error(w, "slow down", http.StatusTooManyRequests)
				default:
					return false
				}
				return true
			},
			origin:   result.OriginCheck{Validated: nil, TestedWith: ForeignOrigin, Status: 307},
			host:     result.HostCheck{Validated: nil, TestedWith: ForeignHost, Status: 429},
			requests: 4 + 1 + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMCP{react: tt.react}
			host, port := listen(t, ip, f, false)
			p := New(Options{Dial: loopbackOnly(t)})
			eps := p.Probe(t.Context(), target.Service{Host: host, Port: port, Scheme: "http", Paths: []string{"/mcp"}})
			if len(eps) != 1 || eps[0].Status != result.StatusMCP || eps[0].MCP.Confidence != "confirmed" {
				t.Fatalf("records %+v, want one confirmed MCP endpoint", eps)
			}
			if checkString(eps[0].Origin) != checkString(&tt.origin) {
				t.Errorf("origin %s, want %s", checkString(eps[0].Origin), checkString(&tt.origin))
			}
			if h := eps[0].HostHeader; h == nil || h.Status != tt.host.Status || h.TestedWith != tt.host.TestedWith || !sameBool(h.Validated, tt.host.Validated) {
				t.Errorf("host_header %+v, want %+v", h, tt.host)
			}
			if got := f.requests.Load(); got != tt.requests || p.Requests() != tt.requests {
				t.Errorf("server saw %d requests, prober counted %d; want %d", got, p.Requests(), tt.requests)
			}
		})
	}
}

// TestWebChecksPublicAddress checks that the Host check is reserved to
// loopback and private addresses: the record of an endpoint on a public
// address gets the Origin check only. (The connection still goes to the
// loopback test server: only the recorded address is public.)
func TestWebChecksPublicAddress(t *testing.T) {
	f := &fakeMCP{}
	host, port := listen(t, "127.0.0.74", f, false)
	p := New(Options{Dial: loopbackOnly(t)})
	s := &svcProbe{p: p, c: newClient(p, host, host, port, "http"), schemeFixed: true}
	defer s.c.close()
	ep := &result.Endpoint{
		URL: s.c.urlFor("/mcp"), IP: "203.0.113.9", Status: result.StatusMCP,
		MCP:  &result.MCPInfo{Transport: result.TransportStreamable, Confidence: "confirmed"},
		Auth: &result.AuthInfo{Scheme: result.AuthNone},
	}
	s.webChecks(t.Context(), ep)
	if ep.HostHeader != nil {
		t.Errorf("host_header %+v on a public address", ep.HostHeader)
	}
	if o := ep.Origin; o == nil || !sameBool(o.Validated, ptr(false)) || o.Status != 200 {
		t.Errorf("origin %s, want validated=false status=200", checkString(o))
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests, want the one initialize", n)
	}
}

func ptr(b bool) *bool { return &b }

func sameBool(a, b *bool) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func checkString(o *result.OriginCheck) string {
	if o == nil {
		return "<nil>"
	}
	v := "null"
	if o.Validated != nil {
		v = strconv.FormatBool(*o.Validated)
	}
	return fmt.Sprintf("{validated=%s tested_with=%s status=%d allow_origin=%q allow_credentials=%v}", v, o.TestedWith, o.Status, o.AllowOrigin, o.AllowCredentials)
}
