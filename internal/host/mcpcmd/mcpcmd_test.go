package mcpcmd

import (
	"strings"
	"testing"
)

func TestRecognize(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		ok     bool
		mcp    bool
		server string
		known  bool
		fixHas string
	}{
		{"npx everything", []string{"npx", "-y", "@modelcontextprotocol/server-everything@2026.8.31", "streamableHttp"}, true, true, "@modelcontextprotocol/server-everything", true, "no bind-address option"},
		{"node everything bin", []string{"node", "/home/dev/.npm/_npx/9f/node_modules/.bin/mcp-server-everything", "streamableHttp"}, true, true, "mcp-server-everything", true, "stdio"},
		{"node everything dist", []string{"/usr/bin/node", "/srv/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "sse"}, true, true, "", false, ""},
		{"node with preload", []string{"/usr/bin/node", "--require", "/x/loopback-preload.cjs", "/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "streamableHttp"}, true, true, "@modelcontextprotocol/server-everything", true, "stdio"},
		{"inspector", []string{"node", "/home/dev/.npm/_npx/1a2b/node_modules/.bin/mcp-inspector"}, true, true, "mcp-inspector", true, "HOST=127.0.0.1"},
		{"fastmcp venv", []string{"/p/.venv/bin/python", "/p/.venv/bin/fastmcp", "run", "server.py", "--transport", "http", "--host", "0.0.0.0"}, true, true, "fastmcp", true, "--host 127.0.0.1"},
		{"uvx fastmcp", []string{"uvx", "fastmcp", "run", "server.py"}, true, true, "fastmcp", true, "FASTMCP_HOST=127.0.0.1"},
		{"uv run mcp", []string{"uv", "run", "mcp", "run", "server.py"}, true, true, "mcp", true, "FASTMCP_HOST"},
		{"python -m module", []string{"python3", "-m", "mcp_server_time", "--transport", "streamable-http"}, true, true, "mcp_server_time", false, "mcpwarden gate"},
		{"uvx server pkg", []string{"uvx", "mcp-server-fetch==2025.4.7"}, true, true, "mcp-server-fetch", false, "mcpwarden gate"},
		{"uvx from", []string{"uvx", "--from", "git+https://example.invalid/x", "weather-mcp"}, true, true, "weather-mcp", false, ""},
		{"mcp-proxy", []string{"/usr/local/bin/mcp-proxy", "--host", "0.0.0.0", "--port", "8080", "uvx", "mcp-server-fetch"}, true, true, "mcp-proxy", true, "--host 127.0.0.1"},
		{"playwright", []string{"npx", "@playwright/mcp@latest", "--port", "8931", "--host", "0.0.0.0"}, true, true, "@playwright/mcp", true, "--host localhost"},
		{"supergateway", []string{"npx", "-y", "supergateway", "--stdio", "npx -y @modelcontextprotocol/server-filesystem /"}, true, true, "supergateway", false, "mcpwarden gate"},
		{"go binary", []string{"/usr/local/bin/github-mcp-server", "http"}, true, true, "/usr/local/bin/github-mcp-server", false, ""},
		{"docker image", []string{"docker", "run", "-i", "--rm", "-p", "8080:8080", "-e", "X=1", "mcp/fetch"}, true, true, "mcp/fetch", false, ""},
		{"docker-proxy", []string{"/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "8811"}, true, false, "docker-proxy", true, "-p 127.0.0.1:HOSTPORT"},
		{"bun script", []string{"bun", "run", "./src/mcp-server.ts"}, true, true, "./src/mcp-server.ts", false, ""},
		{"scoped mcp package", []string{"npx", "-y", "@upstash/context7-mcp"}, true, true, "@upstash/context7-mcp", false, ""},
		{"sshd", []string{"/usr/sbin/sshd", "-D"}, false, false, "", false, ""},
		{"plain node", []string{"node", "server.js"}, false, false, "", false, ""},
		{"mcpwarden itself", []string{"/usr/local/bin/mcpwarden", "gate", "--listen", "0.0.0.0:8443"}, false, false, "", false, ""},
		{"flag value mentioning mcp", []string{"nginx", "-c", "/etc/mcp/nginx.conf"}, false, false, "", false, ""},
		{"python web app", []string{"python3", "-m", "http.server", "8000"}, false, false, "", false, ""},
		{"empty", nil, false, false, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := Recognize(tt.argv)
			if ok != tt.ok || m.MCP != tt.mcp {
				t.Fatalf("Recognize(%q) = %+v, %v; want ok=%v mcp=%v", tt.argv, m, ok, tt.ok, tt.mcp)
			}
			if !ok {
				return
			}
			if tt.server != "" && m.Server != tt.server {
				t.Errorf("Server = %q, want %q", m.Server, tt.server)
			}
			if tt.server != "" && m.Known != tt.known {
				t.Errorf("Known = %v, want %v", m.Known, tt.known)
			}
			if m.Fix == "" || (tt.fixHas != "" && !strings.Contains(m.Fix, tt.fixHas)) {
				t.Errorf("Fix = %q, want it to contain %q", m.Fix, tt.fixHas)
			}
		})
	}
}

func TestBindAddress(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		env     map[string]string
		want    string
		exposed bool
	}{
		{"--host sep", []string{"fastmcp", "run", "s.py", "--host", "0.0.0.0"}, nil, "0.0.0.0", true},
		{"--host=", []string{"x", "--host=127.0.0.1"}, nil, "127.0.0.1", false},
		{"--bind ipv6 wildcard", []string{"x", "--bind", "[::]:8000"}, nil, "[::]:8000", true},
		{"--listen port only", []string{"x", "--listen", ":8080"}, nil, ":8080", true},
		{"gunicorn -b", []string{"gunicorn", "-b", "0.0.0.0:8000", "app:app"}, nil, "0.0.0.0:8000", true},
		{"docker-proxy", []string{"docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0"}, nil, "0.0.0.0", true},
		{"docker -p all", []string{"docker", "run", "-p", "8080:8080", "img"}, nil, "0.0.0.0", true},
		{"docker -p loopback", []string{"docker", "run", "--publish=127.0.0.1:8080:8080", "img"}, nil, "127.0.0.1", false},
		{"docker -p ipv6 loopback", []string{"docker", "run", "-p", "[::1]:8080:80/tcp", "img"}, nil, "::1", false},
		{"-p for non-docker", []string{"node", "x.js", "-p", "8080"}, nil, "", false},
		{"HOST env", []string{"node", "x.js"}, map[string]string{"HOST": "0.0.0.0"}, "0.0.0.0", true},
		{"FASTMCP_HOST env", []string{"python", "s.py"}, map[string]string{"FASTMCP_HOST": "127.0.0.1", "HOST": "0.0.0.0"}, "127.0.0.1", false},
		{"flag wins over env", []string{"x", "--host", "localhost"}, map[string]string{"HOST": "0.0.0.0"}, "localhost", false},
		{"private address", []string{"x", "--host", "192.168.1.5"}, nil, "192.168.1.5", true},
		{"host name", []string{"x", "--host", "myhost.lan"}, nil, "myhost.lan", true},
		{"nothing", []string{"x", "--port", "80"}, nil, "", false},
		{"dangling flag", []string{"x", "--host"}, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BindAddress(tt.argv, tt.env)
			if got != tt.want {
				t.Errorf("BindAddress = %q, want %q", got, tt.want)
			}
			if e := Exposed(got); e != tt.exposed {
				t.Errorf("Exposed(%q) = %v, want %v", got, e, tt.exposed)
			}
		})
	}
	for in, want := range map[string]bool{"*": true, "::": true, "::1": false, "[::1]:80": false, "127.0.0.5:9": false, "app.localhost": false} {
		if Exposed(in) != want {
			t.Errorf("Exposed(%q) != %v", in, want)
		}
	}
}
