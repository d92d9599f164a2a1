package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func ExampleNew() {
	w, err := report.New(report.FormatJSONL, os.Stdout, report.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = w.Write(&result.Endpoint{
		URL:       "http://127.0.0.1:8000/mcp",
		Host:      "127.0.0.1",
		Port:      8000,
		Status:    result.StatusMCP,
		MCP:       &result.MCPInfo{Transport: result.TransportStreamable, Confidence: "confirmed"},
		Findings:  []finding.Finding{rules.Default(rules.Unauthenticated, "tools/list succeeded without credentials.")},
		ScannedAt: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC),
		ElapsedMS: 40,
	})
	_ = w.Close(nil)
	// Output:
	// {"schema":"mcpwarden.scan/v1","url":"http://127.0.0.1:8000/mcp","host":"127.0.0.1","port":8000,"status":"mcp","mcp":{"transport":"streamable-http","session":false,"server":{},"confidence":"confirmed"},"findings":[{"rule":"MCPW-001","severity":"high","title":"MCP server reachable without authentication","evidence":"tools/list succeeded without credentials."}],"scanned_at":"2026-03-14T09:00:00Z","elapsed_ms":40}
}

func ExampleSafeText() {
	name := "\x1b]0;pwned\x07evil\n\x1b[31mserver\x1b[0m"
	fmt.Println(report.SafeText(name, 0))
	fmt.Println(report.SafeText("a-very-long-server-name", 10))
	// Output:
	// evil server
	// a-very-lo…
}

func ExampleParseFormat() {
	_, err := report.ParseFormat("xml")
	fmt.Println(err)
	// Output:
	// report: unknown format "xml" (valid: table, jsonl, json, sarif, markdown)
}
