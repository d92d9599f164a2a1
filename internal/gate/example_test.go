package gate_test

import (
	"fmt"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/gate"
)

func ExampleFilterLists() {
	pol := &gate.Policy{Rules: []gate.Rule{{Effect: gate.Allow, Kinds: []gate.Kind{gate.KindTool}, Names: []string{"search"}}}}
	bot := &auth.Principal{Subject: "ci-bot", Method: "apikey", KeyName: "ci-bot"}
	resp := []byte(`{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"search"},{"name":"run_shell_command"}]}}`)
	out, changed, err := gate.FilterLists(resp, func(k gate.Kind, name string) bool {
		ok, _ := pol.Decide(bot, k, name)
		return ok
	})
	fmt.Println(string(out), changed, err)
	// Output: {"id":3,"jsonrpc":"2.0","result":{"tools":[{"name":"search"}]}} true <nil>
}

func ExamplePolicy_Decide() {
	pol, _ := gate.ParsePolicy([]byte(`{"rules":[{"effect":"allow","kinds":["tool"],"names":["read_*"],"groups":["ops"]}]}`))
	ops := &auth.Principal{Subject: "ana", Method: "oauth", Groups: []string{"ops"}}
	fmt.Println(pol.Decide(ops, gate.KindTool, "read_file"))
	fmt.Println(pol.Decide(ops, gate.KindTool, "Read_file"))
	// Output:
	// true rule 0 (allow)
	// false default deny
}
