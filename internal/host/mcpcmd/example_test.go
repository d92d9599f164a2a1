package mcpcmd_test

import (
	"fmt"

	"github.com/mcpwarden/mcpwarden/internal/host/mcpcmd"
)

// Recognise a FastMCP server from its command line and read its bind
// address.
func ExampleRecognize() {
	argv := []string{"/srv/.venv/bin/python", "/srv/.venv/bin/fastmcp", "run", "server.py", "--transport", "http", "--host", "0.0.0.0"}
	m, ok := mcpcmd.Recognize(argv)
	bind := mcpcmd.BindAddress(argv, nil)
	fmt.Println(ok, m.MCP, m.Server)
	fmt.Println(bind, mcpcmd.Exposed(bind))
	// Output:
	// true true fastmcp
	// 0.0.0.0 true
}
