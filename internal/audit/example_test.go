package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// A gate writes one record per request in sync mode, so the record is on
// disk before the response is sent, and 'mcpwarden audit' reads it back.
func Example() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	spec := "jsonl:" + filepath.Join(dir, "audit.jsonl")

	sink, err := audit.OpenWith(spec, &audit.Options{Durability: audit.DurabilitySync})
	if err != nil {
		fmt.Println(err)
		return
	}
	args := json.RawMessage(`{"cmd":"ls","password":"hunter2"}`)
	var m map[string]any
	json.Unmarshal(args, &m)
	sink.Write(context.Background(), &audit.Record{
		Time: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), RequestID: "r1",
		Principal: "key:ci-bot", AuthMethod: "apikey", Method: "tools/call", Name: "shell",
		ArgsDigest: audit.Digest(args), Args: audit.Redact(m, audit.DefaultRedactFields),
		Decision: "deny", Reason: "policy",
	})
	sink.Close()

	for r, err := range audit.Query(context.Background(), spec, audit.Filter{Decision: "deny"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(r.Principal, r.Name, r.Decision, r.Args["password"])
	}
	// Output: key:ci-bot shell deny [redacted]
}
