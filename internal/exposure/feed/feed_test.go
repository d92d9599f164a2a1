package feed

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "sk-TESTKEY-0123456789"

func newClient(t *testing.T, h http.HandlerFunc, mod func(*Options)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o := Options{Name: "test", BaseURL: srv.URL, Rate: 1000, RetryBase: 5 * time.Millisecond, Secrets: []string{secret}, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGet(t *testing.T) {
	var calls atomic.Int32
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		mod       func(*Options)
		wantBody  string
		wantErr   []string
		is        error
		wantCalls int32
		minWait   time.Duration
	}{
		{
			name: "success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("key") != secret || r.Header.Get("Accept") != "application/json" {
					w.WriteHeader(400)
					return
				}
				w.Write([]byte(`{"ok":true}`))
			},
			wantBody: `{"ok":true}`, wantCalls: 1,
		},
		{
			name: "401 names no key",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(401)
				w.Write([]byte(`{"error": "Invalid API key"}`))
			},
			wantErr: []string{"test: /x: HTTP 401: Invalid API key"}, is: ErrUnauthorized, wantCalls: 1,
		},
		{
			name: "429 with Retry-After then success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if calls.Load() == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(429)
					w.Write([]byte(`{"error": "Rate limit reached (1 request per second). Please wait a second."}`))
					return
				}
				w.Write([]byte(`{"ok":2}`))
			},
			wantBody: `{"ok":2}`, wantCalls: 2, minWait: 900 * time.Millisecond,
		},
		{
			name: "429 asking too long a wait",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(429)
			},
			wantErr: []string{"HTTP 429", "asks to wait 1h0m0s"}, is: ErrRateLimited, wantCalls: 1,
		},
		{
			name: "5xx retried then given up",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(502)
				w.Write([]byte("<html><body>Bad Gateway</body></html>"))
			},
			wantErr: []string{"HTTP 502: Bad Gateway", "after 4 attempts"}, wantCalls: 4,
		},
		{
			name: "5xx then success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if calls.Load() < 3 {
					w.WriteHeader(503)
					return
				}
				w.Write([]byte(`[]`))
			},
			wantBody: `[]`, wantCalls: 3,
		},
		{
			name: "oversized body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("x", 2048)))
			},
			mod:     func(o *Options) { o.MaxBody = 1024 },
			wantErr: []string{"response too large"}, is: ErrTooLarge, wantCalls: 1,
		},
		{
			name: "oversized by Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5000")
				w.Write([]byte(strings.Repeat("x", 5000)))
			},
			mod:     func(o *Options) { o.MaxBody = 1024 },
			wantErr: []string{"5000 bytes announced"}, is: ErrTooLarge, wantCalls: 1,
		},
		{
			name: "truncated body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				w.Write([]byte(`{"matches": [`))
				// The handler returns: the connection closes short.
			},
			wantErr: []string{"reading response", "unexpected EOF", "after 4 attempts"}, wantCalls: 4,
		},
		{
			name: "slow answer times out",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
			},
			mod:     func(o *Options) { o.Timeout = 50 * time.Millisecond; o.MaxRetries = -1 },
			wantErr: []string{"deadline exceeded"}, wantCalls: 1,
		},
		{
			name: "404 is not retried",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(404)
				w.Write([]byte(`{"error": "No information available for that IP."}`))
			},
			wantErr: []string{"HTTP 404: No information available for that IP."}, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.handler(w, r)
			}, tt.mod)
			start := time.Now()
			body, err := c.Get(context.Background(), "/x", map[string][]string{"key": {secret}}, nil)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if time.Since(start) < tt.minWait {
				t.Errorf("returned after %s, before the Retry-After", time.Since(start))
			}
			if tt.wantErr == nil {
				if err != nil || string(body) != tt.wantBody {
					t.Fatalf("got %q, %v; want %q", body, err, tt.wantBody)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, body %q", body)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the key: %q", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) false", err, tt.is)
			}
		})
	}
}

func TestTransportErrorRedacted(t *testing.T) {
	// A closed port on loopback: the transport error must not carry the URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := New(Options{Name: "test", BaseURL: "http://" + addr, Rate: 1000, RetryBase: time.Millisecond, MaxRetries: 1, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "/shodan/host/search", map[string][]string{"key": {secret}, "query": {"net:1.2.3.0/24"}}, nil)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "key=") {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "GET /shodan/host/search") {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Options{{BaseURL: "http://127.0.0.1"}, {Name: "x", BaseURL: "ftp://h"}, {Name: "x", BaseURL: "::"}, {Name: "x"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", -1}, {"2", 2 * time.Second}, {"0", 0}, {"soon", -1}, {"-3", -1},
		{"Sat, 01 Nov 2025 10:00:30 GMT", 30 * time.Second},
		{"Sat, 01 Nov 2025 09:00:00 GMT", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }, func(o *Options) { o.Rate = 20 })
	start := time.Now()
	for range 5 {
		if _, err := c.Get(context.Background(), "/", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Burst 1 at 20/s: 4 waits of 50ms.
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Errorf("5 requests in %s, faster than 20/s", d)
	}
}
