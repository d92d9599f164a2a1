// Package mcpwire decodes the untrusted bytes an MCP peer sends: JSON-RPC 2.0
// messages (single or batched) and Server-Sent Events framing, with every
// read capped in size. It knows nothing of HTTP or of MCP methods.
package mcpwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrTooLarge is returned when a body, line or event exceeds its cap.
var ErrTooLarge = errors.New("mcpwire: size cap exceeded")

// ErrNotJSONRPC is returned when bytes are valid JSON but not JSON-RPC 2.0.
var ErrNotJSONRPC = errors.New("mcpwire: not a JSON-RPC 2.0 message")

// Message is one JSON-RPC 2.0 message: a request, notification or response.
type Message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message) }

// IsResponse reports whether m answers a request (has an id and a result or
// an error, and no method).
func (m *Message) IsResponse() bool {
	return m.Method == "" && len(m.ID) > 0 && (m.Result != nil || m.Error != nil)
}

// HasID reports whether m carries the given id, comparing the JSON values
// (1 and 1.0 differ on purpose: servers must echo ids exactly).
func (m *Message) HasID(id json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(m.ID), bytes.TrimSpace(id))
}

// Decode reads one JSON value from b and returns the JSON-RPC messages in it:
// one for an object, several for a batch array. Any other JSON, an empty
// batch, or a member without "jsonrpc":"2.0" gives ErrNotJSONRPC.
func Decode(b []byte) ([]Message, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrNotJSONRPC)
	}
	if !utf8.Valid(b) {
		// JSON must be UTF-8; encoding/json would silently replace bad
		// bytes. Keep going (strings get U+FFFD) but a caller that cares
		// can check Valid itself.
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	switch b[0] {
	case '{':
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotJSONRPC, err)
		}
		if err := m.check(); err != nil {
			return nil, err
		}
		return []Message{m}, nil
	case '[':
		var ms []Message
		if err := json.Unmarshal(b, &ms); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotJSONRPC, err)
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("%w: empty batch", ErrNotJSONRPC)
		}
		for i := range ms {
			if err := ms[i].check(); err != nil {
				return nil, err
			}
		}
		return ms, nil
	default:
		return nil, fmt.Errorf("%w: body starts with %q", ErrNotJSONRPC, b[:1])
	}
}

func (m *Message) check() error {
	if m.JSONRPC != "2.0" {
		return fmt.Errorf("%w: jsonrpc is %q", ErrNotJSONRPC, m.JSONRPC)
	}
	if m.Method == "" && m.Result == nil && m.Error == nil {
		return fmt.Errorf("%w: neither method, result nor error", ErrNotJSONRPC)
	}
	if m.Result != nil && m.Error != nil {
		return fmt.Errorf("%w: both result and error", ErrNotJSONRPC)
	}
	return nil
}

// ReadAll reads r to the end, failing with ErrTooLarge once more than max
// bytes arrive. The buffer never grows past max+1 bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, max+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > max {
		return buf.Bytes()[:max], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// Request encodes a JSON-RPC request (or a notification when id is nil).
func Request(id any, method string, params any) []byte {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if id != nil {
		m["id"] = id
	}
	if params != nil {
		m["params"] = params
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Only our own values reach here; they always marshal.
		panic("mcpwire: marshal request: " + err.Error())
	}
	return b
}
