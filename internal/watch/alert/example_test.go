package alert_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/alert"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

func ExampleSummary() {
	e := model.Event{Time: time.Now(), Type: model.ToolChanged, URL: "http://127.0.0.1:3000/mcp", Subject: "fetch_url",
		Detail: json.RawMessage(`{"tool":"fetch_url","description_changed":true}`)}
	fmt.Println(alert.Severity(e))
	fmt.Println(alert.Summary(e))
	fmt.Println(alert.RedactURL("https://hooks.slack.example/services/T0/B0/secret"))
	// Output:
	// high
	// [high] tool "fetch_url" changed on http://127.0.0.1:3000/mcp (description)
	// https://hooks.slack.example/...
}
