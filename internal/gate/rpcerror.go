package gate

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// rpcError is a JSON-RPC error response.
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorBody    `json:"error"`
}

type rpcErrorBody struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

func newRPCError(id json.RawMessage, code int, msg string, data map[string]any) rpcError {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	return rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorBody{Code: code, Message: msg, Data: data}}
}

// writeJSON writes v as the whole response with status.
func writeJSON(w http.ResponseWriter, status int, v any) int64 {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	n, _ := w.Write(b)
	return int64(n)
}

// writeRPCError answers with one JSON-RPC error (id null) and status.
func writeRPCError(w http.ResponseWriter, status, code int, msg string) int64 {
	return writeJSON(w, status, newRPCError(nil, code, msg, nil))
}
