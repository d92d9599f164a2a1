package mcptest

import (
	"slices"
	"strings"
	"testing"
)

func TestTSClientArgs(t *testing.T) {
	tests := []struct {
		name    string
		opts    TSClientOptions
		want    []string
		wantErr string
	}{
		{"oauth default transport", TSClientOptions{URL: "http://127.0.0.1:8080/mcp", Mode: TSClientOAuth},
			[]string{"--url", "http://127.0.0.1:8080/mcp", "--mode", "oauth", "--transport", "streamable"}, ""},
		{"apikey sse tools", TSClientOptions{URL: "http://[::1]:9/sse", Mode: TSClientAPIKey, APIKey: "k", Transport: TSClientSSE, Allowed: "a", Denied: "d"},
			[]string{"--url", "http://[::1]:9/sse", "--mode", "apikey", "--transport", "sse", "--allowed", "a", "--denied", "d"}, ""},
		{"public address", TSClientOptions{URL: "http://192.0.2.1/mcp", Mode: TSClientOAuth}, nil, "not a loopback address"},
		{"host name", TSClientOptions{URL: "http://localhost:1/mcp", Mode: TSClientOAuth}, nil, "not an IP literal"},
		{"bad scheme", TSClientOptions{URL: "ws://127.0.0.1/mcp", Mode: TSClientOAuth}, nil, "want an http(s) URL"},
		{"bad mode", TSClientOptions{URL: "http://127.0.0.1/mcp", Mode: "basic"}, nil, `mode "basic"`},
		{"apikey without key", TSClientOptions{URL: "http://127.0.0.1/mcp", Mode: TSClientAPIKey}, nil, "needs an APIKey"},
		{"bad transport", TSClientOptions{URL: "http://127.0.0.1/mcp", Mode: TSClientOAuth, Transport: "ws"}, nil, `transport "ws"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tsClientArgs(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTSClientRunRequestsTo(t *testing.T) {
	run := &TSClientRun{Requests: []TSRequest{
		{Method: "GET", URL: "http://127.0.0.1:1/authorize?client_id=x", Status: 302},
		{Method: "POST", URL: "http://127.0.0.1:1/token", Status: 200},
		{Method: "GET", URL: "http://127.0.0.1:1/authorize", Status: 302},
	}}
	if got := run.RequestsTo("GET", "http://127.0.0.1:1/authorize"); len(got) != 2 {
		t.Errorf("RequestsTo(GET /authorize) = %+v, want 2", got)
	}
	if got := run.RequestsTo("GET", "http://127.0.0.1:1/token"); len(got) != 0 {
		t.Errorf("RequestsTo(GET /token) = %+v, want none", got)
	}
}
