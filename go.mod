module github.com/mcpwarden/mcpwarden

go 1.26.8

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
