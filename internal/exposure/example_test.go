package exposure_test

import (
	"fmt"
	"log"
	"net/http"
	"net/netip"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
)

// Keep only what an index lists inside the operator's own targets, and
// classify it from the recorded banner.
func ExampleCollector() {
	scope, err := exposure.ParseScope([]string{"198.51.100.0/24", "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(scope.Shodan().Searches)

	c := exposure.NewCollector(scope)
	sse := &exposure.Service{
		Source: exposure.SourceShodan, IP: netip.MustParseAddr("198.51.100.7"), Port: 8000, Transport: "tcp",
		HTTP: &exposure.HTTPBanner{Status: 200, Path: "/sse",
			Headers: http.Header{"Content-Type": {"text/event-stream"}},
			Body:    "event: endpoint\ndata: /messages/?session_id=42\n\n"},
	}
	elsewhere := &exposure.Service{Source: exposure.SourceShodan, IP: netip.MustParseAddr("192.0.2.1"), Port: 80, Transport: "tcp"}
	fmt.Println(c.Add(sse), c.Add(elsewhere), c.OutOfScope(exposure.SourceShodan))
	for _, ix := range c.Indexed() {
		fmt.Println(ix.URL(), ix.Verdict.Class, ix.Verdict.Signals[0])
	}
	// Output:
	// [net:198.51.100.0/24 hostname:example.com]
	// true false 1
	// http://198.51.100.7:8000/sse likely-mcp sse endpoint event
}
