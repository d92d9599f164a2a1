// Command mcpwarden finds MCP servers that anyone on a network can use
// without authentication, and closes them. See 'mcpwarden --help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcpwarden/mcpwarden/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
