package ratelimit_test

import (
	"fmt"

	"github.com/mcpwarden/mcpwarden/internal/ratelimit"
)

func Example() {
	lim := ratelimit.New(ratelimit.Limits{
		RequestsPerSecond:  10,
		ToolCallsPerSecond: 5,
		PerTool:            map[string]ratelimit.Rate{"shell": {PerSecond: 0.1}},
		MaxConcurrent:      8,
	})
	release, ok := lim.Acquire("key:ci-bot")
	if !ok {
		fmt.Println("429: too many requests in flight")
		return
	}
	defer release()
	for range 2 {
		ok, retryAfter, which := lim.Allow("key:ci-bot", "tools/call", "shell")
		if !ok {
			fmt.Printf("429 Retry-After: %.0f (%s)\n", retryAfter.Seconds(), which)
			continue
		}
		fmt.Println("allowed")
	}
	// Output:
	// allowed
	// 429 Retry-After: 10 (tool:shell)
}
