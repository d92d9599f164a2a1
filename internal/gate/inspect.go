package gate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// JSON-RPC error codes the gate answers with.
const (
	CodeParseError     = -32700 // malformed JSON
	CodeInvalidRequest = -32600 // valid JSON, not a JSON-RPC 2.0 message
	// CodeForbidden: the gate's policy or authentication refused the call.
	CodeForbidden = -32001
	// CodeRateLimited: a rate or concurrency limit refused the call.
	CodeRateLimited = -32003
	// CodeHeaderMismatch: Mcp-Method or Mcp-Name disagrees with the body
	// (2026-07-28).
	CodeHeaderMismatch = -32020
	// CodeSessionNotFound: the session id is unknown to the gate or bound
	// to another principal.
	CodeSessionNotFound = -32004
)

// Errors Inspect returns; each wraps one JSON-RPC error code.
var (
	ErrParse          = errors.New("gate: malformed JSON")
	ErrInvalidRequest = errors.New("gate: not a JSON-RPC 2.0 message")
	ErrHeaderMismatch = errors.New("gate: header does not match body")
)

// maxDepth bounds JSON nesting in a client message.
const maxDepth = 128

// Kind is what a message addresses: a tool, a resource or a prompt.
type Kind string

// The kinds the policy knows.
const (
	KindTool     Kind = "tool"
	KindResource Kind = "resource"
	KindPrompt   Kind = "prompt"
)

// Call is one JSON-RPC message of a client POST, as the gate sees it.
type Call struct {
	// ID is the raw JSON id (nil for a notification or a response).
	ID json.RawMessage
	// Method is the JSON-RPC method ("" for a response the client sends
	// back to a server request).
	Method string
	// Kind and Name say what the call addresses: the tool name of
	// tools/call, the URI of resources/read and resources/(un)subscribe,
	// the prompt name of prompts/get, the ref of completion/complete.
	// Kind is "" for methods that address nothing in particular.
	Kind Kind
	Name string
	// Args is the raw arguments object of tools/call or prompts/get.
	Args json.RawMessage
}

// IsRequest reports whether c expects a response (has an id and a method).
func (c *Call) IsRequest() bool { return c.Method != "" && len(c.ID) > 0 }

// Inspect parses the body of a client POST: one JSON-RPC message or a batch.
// It is stricter than a JSON parser needs to be, so that the gate and the
// upstream cannot read the same bytes differently: the body must be valid
// UTF-8, no object may repeat a key (compared case-insensitively, at any
// depth, arguments included), member names are matched exactly
// (not case-insensitively) and nesting is bounded.
//
// Errors wrap ErrParse (malformed JSON) or ErrInvalidRequest.
func Inspect(body []byte) (calls []Call, batch bool, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, fmt.Errorf("%w: empty body", ErrParse)
	}
	if !utf8.Valid(body) {
		return nil, false, fmt.Errorf("%w: body is not valid UTF-8", ErrParse)
	}
	if err := scanJSON(body); err != nil {
		if !errors.Is(err, ErrParse) && !json.Valid(body) {
			// A message both invalid and malformed is a parse error,
			// whichever problem comes first.
			return nil, false, fmt.Errorf("%w: not a single valid JSON value", ErrParse)
		}
		return nil, false, err
	}
	if body[0] == '[' {
		raws, ok := arrayElements(body)
		if !ok {
			return nil, false, fmt.Errorf("%w: not an array", ErrParse)
		}
		if len(raws) == 0 {
			return nil, true, fmt.Errorf("%w: empty batch", ErrInvalidRequest)
		}
		for i, raw := range raws {
			c, err := inspectOne(raw)
			if err != nil {
				return nil, true, fmt.Errorf("batch member %d: %w", i, err)
			}
			calls = append(calls, c)
		}
		return calls, true, nil
	}
	c, err := inspectOne(body)
	if err != nil {
		return nil, false, err
	}
	return []Call{c}, false, nil
}

// keySet holds the (folded) member names seen in one object: a slice
// while the object is small, as JSON-RPC messages are, and a map once it
// grows, so that a huge object cannot make the check quadratic.
type keySet struct {
	few  []string
	many map[string]struct{}
}

// smallObject is the number of members keySet keeps in its slice.
const smallObject = 16

// add records k and reports whether it was new.
func (s *keySet) add(k string) bool {
	if s.many != nil {
		if _, dup := s.many[k]; dup {
			return false
		}
		s.many[k] = struct{}{}
		return true
	}
	for _, x := range s.few {
		if x == k {
			return false
		}
	}
	if len(s.few) < smallObject {
		s.few = append(s.few, k)
		return true
	}
	s.many = make(map[string]struct{}, 2*smallObject)
	for _, x := range s.few {
		s.many[x] = struct{}{}
	}
	s.few = nil
	s.many[k] = struct{}{}
	return true
}

// inspectOne reads one message with exact member names.
func inspectOne(raw json.RawMessage) (Call, error) {
	m, ok := objectMembers(raw)
	if !ok {
		return Call{}, fmt.Errorf("%w: a message must be a JSON object", ErrInvalidRequest)
	}
	if version, ok := decodeString(m["jsonrpc"]); !ok || version != "2.0" {
		return Call{}, fmt.Errorf(`%w: "jsonrpc" must be "2.0"`, ErrInvalidRequest)
	}
	var c Call
	if id, ok := m["id"]; ok {
		switch t := bytes.TrimSpace(id); {
		case len(t) > 0 && (t[0] == '"' || t[0] == '-' || t[0] >= '0' && t[0] <= '9'):
			c.ID = t
		case string(t) == "null":
			// a null id: answered without one
		default:
			return Call{}, fmt.Errorf("%w: id must be a string or a number", ErrInvalidRequest)
		}
	}
	rawMethod, hasMethod := m["method"]
	if !hasMethod {
		_, hasResult := m["result"]
		_, hasError := m["error"]
		if hasResult == hasError {
			return Call{}, fmt.Errorf("%w: neither a request nor a response", ErrInvalidRequest)
		}
		return c, nil // a response to a server request
	}
	if c.Method, ok = decodeString(rawMethod); !ok || c.Method == "" {
		return Call{}, fmt.Errorf("%w: method must be a non-empty string", ErrInvalidRequest)
	}
	params := m["params"]
	if len(params) > 0 && string(params) != "null" && params[0] != '{' && params[0] != '[' {
		return Call{}, fmt.Errorf("%w: params must be an object or an array", ErrInvalidRequest)
	}
	var p map[string]json.RawMessage
	if len(params) > 0 && params[0] == '{' {
		if p, ok = objectMembers(params); !ok {
			return Call{}, fmt.Errorf("%w: params: not an object", ErrInvalidRequest)
		}
	}
	str := func(obj map[string]json.RawMessage, key string) (string, error) {
		v, ok := obj[key]
		if !ok {
			return "", fmt.Errorf("%w: %s needs params.%s", ErrInvalidRequest, c.Method, key)
		}
		s, ok := decodeString(v)
		if !ok {
			return "", fmt.Errorf("%w: %s: params.%s must be a string", ErrInvalidRequest, c.Method, key)
		}
		return s, nil
	}
	var err error
	switch c.Method {
	case "tools/call":
		c.Kind = KindTool
		c.Name, err = str(p, "name")
		c.Args = p["arguments"]
	case "prompts/get":
		c.Kind = KindPrompt
		c.Name, err = str(p, "name")
		c.Args = p["arguments"]
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		c.Kind = KindResource
		c.Name, err = str(p, "uri")
	case "completion/complete":
		ref, ok := objectMembers(p["ref"])
		if !ok {
			return Call{}, fmt.Errorf("%w: completion/complete needs params.ref", ErrInvalidRequest)
		}
		typ, _ := str(ref, "type")
		switch typ {
		case "ref/prompt":
			c.Kind = KindPrompt
			c.Name, err = str(ref, "name")
		case "ref/resource":
			c.Kind = KindResource
			c.Name, err = str(ref, "uri")
		default:
			return Call{}, fmt.Errorf("%w: completion/complete: unknown ref type %q", ErrInvalidRequest, typ)
		}
		c.Args = p["argument"]
	}
	if err != nil {
		return Call{}, err
	}
	return c, nil
}

// Header names of the 2026-07-28 transport.
const (
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerMethod          = "Mcp-Method"
	headerName            = "Mcp-Name"
	headerSession         = "Mcp-Session-Id"
	// standardHeadersVersion is the first revision whose requests carry
	// Mcp-Method and Mcp-Name.
	standardHeadersVersion = "2026-07-28"
)

// CheckHeaders verifies that the Mcp-Method and Mcp-Name headers of a POST
// agree with its body. From protocol revision 2026-07-28 on, Mcp-Method is
// required on every request and Mcp-Name on tools/call, resources/read and
// prompts/get; whatever the revision, a header that is present must match,
// so a header can never describe a different call than the body makes.
// An Mcp-Name may be sent as =?base64?...?= (non-ASCII names). Errors wrap
// ErrHeaderMismatch.
func CheckHeaders(h http.Header, calls []Call) error {
	methods, hasMethod := h[http.CanonicalHeaderKey(headerMethod)]
	names, hasName := h[http.CanonicalHeaderKey(headerName)]
	modern := h.Get(headerProtocolVersion) >= standardHeadersVersion
	if len(methods) > 1 || len(names) > 1 {
		return fmt.Errorf("%w: repeated Mcp-Method or Mcp-Name header", ErrHeaderMismatch)
	}
	var reqs []*Call
	for i := range calls {
		if calls[i].Method != "" {
			reqs = append(reqs, &calls[i])
		}
	}
	if !hasMethod && !hasName && (!modern || len(reqs) == 0) {
		return nil
	}
	if len(reqs) != 1 || len(calls) != 1 {
		return fmt.Errorf("%w: Mcp-Method/Mcp-Name need exactly one message in the body", ErrHeaderMismatch)
	}
	c := reqs[0]
	if !hasMethod {
		return fmt.Errorf("%w: missing Mcp-Method header", ErrHeaderMismatch)
	}
	if methods[0] != c.Method {
		return fmt.Errorf("%w: Mcp-Method %q, body method %q", ErrHeaderMismatch, methods[0], c.Method)
	}
	needsName := c.Method == "tools/call" || c.Method == "resources/read" || c.Method == "prompts/get"
	if !hasName {
		if needsName && modern {
			return fmt.Errorf("%w: missing Mcp-Name header for %s", ErrHeaderMismatch, c.Method)
		}
		return nil
	}
	if !needsName {
		return fmt.Errorf("%w: Mcp-Name header on %s", ErrHeaderMismatch, c.Method)
	}
	if decodeHeaderName(names[0]) != c.Name {
		return fmt.Errorf("%w: Mcp-Name %q, body name %q", ErrHeaderMismatch, names[0], c.Name)
	}
	return nil
}

// decodeHeaderName undoes the =?base64?...?= wrapping of a header value;
// a value that is not wrapped, or wrapped badly, is returned unchanged
// (and then cannot match a body name that needed wrapping).
func decodeHeaderName(v string) string {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v
	}
	b, err := base64.StdEncoding.DecodeString(inner)
	if err != nil || !utf8.Valid(b) {
		return v
	}
	return string(b)
}

// foldKey maps every rune of s to the least rune of its Unicode simple
// folding orbit, so that foldKey(a) == foldKey(b) exactly when
// strings.EqualFold(a, b).
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < least {
				least = f
			}
		}
		b.WriteRune(least)
	}
	return b.String()
}
