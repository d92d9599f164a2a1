package risk_test

import (
	"encoding/json"
	"fmt"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/risk"
)

func ExampleClassifyTool() {
	tool := result.Tool{
		Name:        "write_file",
		Description: "Create a new file or completely overwrite an existing file with new content.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}}}`),
		Annotations: json.RawMessage(`{"readOnlyHint":false,"destructiveHint":true}`),
	}
	for _, m := range risk.ClassifyTool(tool) {
		fmt.Println(m.Category, risk.Tier(m.Category))
	}
	fmt.Println(risk.ResourceCategories("file:///home/alice/.aws/credentials", ""))
	// Output:
	// destructive critical
	// file-write critical
	// [file-read secrets]
}
