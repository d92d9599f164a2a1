package target_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/target"
)

func ExampleNewStream() {
	excl, err := target.ParseExclusions([]string{"127.0.0.3"})
	if err != nil {
		panic(err)
	}
	inputs := target.SpecInputs("http://127.0.0.1:8811/mcp", "127.0.0.2-3")
	inputs = append(inputs, target.FileInput("targets.txt", strings.NewReader("# lab\nlocalhost:3000\n")))
	s, err := target.NewStream(&target.Options{Ports: []int{80, 3000}, Exclude: excl}, inputs...)
	if err != nil {
		panic(err)
	}
	err = s.Each(context.Background(), func(svc target.Service) error {
		fmt.Println(svc.Host, svc.Port, svc.Scheme, svc.Paths, svc.Source)
		return nil
	})
	fmt.Println("excluded:", s.Excluded(), "error:", err)
	// Unordered output:
	// 127.0.0.1 8811 http [/mcp] args
	// 127.0.0.2 80  [] args
	// 127.0.0.2 3000  [] args
	// localhost 3000  [] targets.txt:2
	// excluded: 2 error: <nil>
}

func ExampleParseShard() {
	sh, err := target.ParseShard("2/3")
	fmt.Println(sh.Index, sh.Count, err)
	_, err = target.ParseShard("3/3")
	fmt.Println(err)
	// Output:
	// 2 3 <nil>
	// shard "3/3": shard index 3 out of range 0-2 (the index is 0-based)
}

func ExampleParsePorts() {
	ports, err := target.ParsePorts("3000,8000-8002,3000")
	fmt.Println(ports, err)
	_, err = target.ParsePorts("80,0")
	fmt.Println(err)
	// Output:
	// [3000 8000 8001 8002] <nil>
	// ports: "0": port 0 out of range (1-65535)
}

func ExampleParseSpec() {
	_, err := target.ParseSpec("10.0.0.0/33")
	fmt.Println(err)
	sp, _ := target.ParseSpec("[::1]:8080")
	fmt.Println(sp.Host, sp.Port)
	// Output:
	// target "10.0.0.0/33": invalid CIDR prefix length
	// ::1 8080
}
