package lab_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Start an open server on a loopback address and list its tools with the
// official SDK client.
func ExampleStart() {
	ctx := context.Background()
	srv, err := lab.Start(ctx, lab.KindOpenStreamable, "127.0.0.7:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.URL}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()
	fmt.Println(cs.InitializeResult().ServerInfo.Name)
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tool.Name)
	}
	// Output:
	// acme-ops
	// list_deployments
	// query_database
	// read_file
	// run_shell_command
}

// Start one server of each kind on 127.0.0.10, 127.0.0.11, ...
func ExampleStartLab() {
	l, err := lab.StartLab(context.Background(), &lab.LabOptions{
		Kinds: []lab.Kind{lab.KindOAuth, lab.KindWeb},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for _, s := range l.Servers {
		fmt.Println(s.Kind, s.Name, s.Tools)
	}
	// Output:
	// oauth acme-crm [query_database search_customers update_customer]
	// web  []
}
