package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Caps on what one listed item may carry into the record.
const (
	maxDescription = 8 << 10
	maxSchema      = 64 << 10
	maxName        = 256
	maxCursor      = 4096
)

// list enumerates tools always (stateless servers may not advertise them
// correctly) and resources, resource templates and prompts where the
// capabilities advertise them.
func (s *svcProbe) list(ctx context.Context, ep *result.Endpoint, rpc rpcFunc) {
	s.listWithFirst(ctx, ep, rpc, nil, nil)
}

// listWithFirst is list with the first tools/list answer already in hand.
func (s *svcProbe) listWithFirst(ctx context.Context, ep *result.Endpoint, rpc rpcFunc, first *mcpwire.Message, firstErr error) {
	ep.Listing = &result.Listing{}
	var caps map[string]json.RawMessage
	_ = json.Unmarshal(ep.MCP.Capabilities, &caps)
	has := func(k string) bool { v, ok := caps[k]; return ok && !bytes.Equal(v, []byte("null")) }

	// A name (URI for resources) listed twice is kept once: a stuck
	// cursor that repeats a page, or a server that lists a tool twice,
	// must not double the record.
	var tools, resources, templates, prompts dedup
	s.paginate(ctx, ep, rpc, "tools/list", "tools", first, firstErr, func(raw json.RawMessage) {
		var t struct {
			Name         any             `json:"name"`
			Title        any             `json:"title"`
			Description  any             `json:"description"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
			Annotations  json.RawMessage `json:"annotations"`
		}
		if json.Unmarshal(raw, &t) != nil || !tools.first(str(t.Name, maxName)) {
			return
		}
		ep.Tools = append(ep.Tools, result.Tool{
			Name: str(t.Name, maxName), Title: str(t.Title, maxName), Description: str(t.Description, maxDescription),
			InputSchema: compact(t.InputSchema), OutputSchema: compact(t.OutputSchema), Annotations: compact(t.Annotations),
		})
	})
	tools.report(ep, "tools/list", "tool name")
	if has("resources") {
		s.paginate(ctx, ep, rpc, "resources/list", "resources", nil, nil, func(raw json.RawMessage) {
			var r struct {
				URI, Name, Title, Description, MimeType any
			}
			if json.Unmarshal(raw, &r) != nil || !resources.first(str(r.URI, 2048)) {
				return
			}
			ep.Resources = append(ep.Resources, result.Resource{
				URI: str(r.URI, 2048), Name: str(r.Name, maxName), Title: str(r.Title, maxName),
				Description: str(r.Description, maxDescription), MimeType: str(r.MimeType, 128),
			})
		})
		s.paginate(ctx, ep, rpc, "resources/templates/list", "resourceTemplates", nil, nil, func(raw json.RawMessage) {
			var r struct {
				URITemplate, Name, Title, Description, MimeType any
			}
			if json.Unmarshal(raw, &r) != nil || !templates.first(str(r.URITemplate, 2048)) {
				return
			}
			ep.ResourceTemplates = append(ep.ResourceTemplates, result.ResourceTemplate{
				URITemplate: str(r.URITemplate, 2048), Name: str(r.Name, maxName), Title: str(r.Title, maxName),
				Description: str(r.Description, maxDescription), MimeType: str(r.MimeType, 128),
			})
		})
		resources.report(ep, "resources/list", "URI")
		templates.report(ep, "resources/templates/list", "URI template")
	}
	if has("prompts") {
		s.paginate(ctx, ep, rpc, "prompts/list", "prompts", nil, nil, func(raw json.RawMessage) {
			var p struct {
				Name, Title, Description any
				Arguments                []struct {
					Name, Description, Required any
				}
			}
			if json.Unmarshal(raw, &p) != nil || !prompts.first(str(p.Name, maxName)) {
				return
			}
			pr := result.Prompt{Name: str(p.Name, maxName), Title: str(p.Title, maxName), Description: str(p.Description, maxDescription)}
			for i, a := range p.Arguments {
				if i == 64 {
					break
				}
				pr.Arguments = append(pr.Arguments, result.PromptArgument{Name: str(a.Name, maxName), Description: str(a.Description, 1024), Required: a.Required == true})
			}
			ep.Prompts = append(ep.Prompts, pr)
		})
		prompts.report(ep, "prompts/list", "prompt name")
	}
	if !ep.Listing.Truncated && len(ep.Listing.Errors) == 0 && ep.Listing.Pages == 0 {
		ep.Listing = nil
	}
}

// dedup keeps the first item of each key of one list and counts the rest.
type dedup struct {
	seen    map[string]bool
	dropped int
}

func (d *dedup) first(key string) bool {
	if d.seen[key] {
		d.dropped++
		return false
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[key] = true
	return true
}

// report notes dropped duplicates among the listing's errors.
func (d *dedup) report(ep *result.Endpoint, method, what string) {
	switch {
	case d.dropped == 1:
		ep.Listing.Errors = append(ep.Listing.Errors, method+": 1 repeated "+what+" dropped")
	case d.dropped > 1:
		ep.Listing.Errors = append(ep.Listing.Errors, fmt.Sprintf("%s: %d repeated %ss dropped", method, d.dropped, what))
	}
}

// paginate follows nextCursor for one list method within the page and item
// caps, and stops on a cursor that does not advance.
func (s *svcProbe) paginate(ctx context.Context, ep *result.Endpoint, rpc rpcFunc, method, field string, first *mcpwire.Message, firstErr error, add func(json.RawMessage)) {
	seen := map[string]bool{}
	cursor := ""
	items := 0
	for page := 0; ; page++ {
		if page >= s.p.opts.MaxPages {
			ep.Listing.Truncated = true
			ep.Listing.Errors = append(ep.Listing.Errors, fmt.Sprintf("%s: stopped after %d pages", method, page))
			return
		}
		var m *mcpwire.Message
		var err error
		if page == 0 && (first != nil || firstErr != nil) {
			m, err = first, firstErr
		} else {
			var params map[string]any
			if cursor != "" {
				params = map[string]any{"cursor": cursor}
			}
			m, err = rpc(ctx, method, params)
		}
		ep.Listing.Pages++
		var pb *partialBody
		if errors.Is(err, mcpwire.ErrTooLarge) && errors.As(err, &pb) {
			// One page over the body cap: keep the items that arrived
			// whole before it.
			ep.Listing.Truncated = true
			capped, kept := false, 0
			salvageItems(pb.body, field, func(raw json.RawMessage) bool {
				if !isObject(raw) {
					return true
				}
				if items >= s.p.opts.MaxItems {
					capped = true
					return false
				}
				add(raw)
				items++
				kept++
				return true
			})
			msg := fmt.Sprintf("%s: response over %d bytes; kept the %d complete items before the cap", method, s.p.opts.MaxBodyBytes, kept)
			if capped {
				msg = fmt.Sprintf("%s: stopped at %d items (the response was also over %d bytes)", method, items, s.p.opts.MaxBodyBytes)
			}
			ep.Listing.Errors = append(ep.Listing.Errors, msg)
			return
		}
		if err != nil {
			ep.Listing.Errors = append(ep.Listing.Errors, method+": "+shortErr(err))
			if errors.Is(err, mcpwire.ErrTooLarge) {
				ep.Listing.Truncated = true
			}
			return
		}
		if m.Error != nil {
			ep.Listing.Errors = append(ep.Listing.Errors, fmt.Sprintf("%s: error %d: %s", method, m.Error.Code, capText(m.Error.Message, 200)))
			return
		}
		var res map[string]json.RawMessage
		if json.Unmarshal(m.Result, &res) != nil {
			ep.Listing.Errors = append(ep.Listing.Errors, method+": result is not an object")
			return
		}
		var list []json.RawMessage
		if json.Unmarshal(res[field], &list) != nil && len(res[field]) > 0 {
			ep.Listing.Errors = append(ep.Listing.Errors, method+": "+field+" is not an array")
			return
		}
		for _, raw := range list {
			if !isObject(raw) {
				continue // not an item: null, a number, a string
			}
			if items >= s.p.opts.MaxItems {
				ep.Listing.Truncated = true
				ep.Listing.Errors = append(ep.Listing.Errors, fmt.Sprintf("%s: stopped at %d items", method, items))
				return
			}
			add(raw)
			items++
		}
		var next string
		if json.Unmarshal(res["nextCursor"], &next) != nil || next == "" {
			return
		}
		if seen[next] || next == cursor {
			ep.Listing.Truncated = true
			ep.Listing.Errors = append(ep.Listing.Errors, method+": the cursor did not advance")
			return
		}
		if len(next) > maxCursor {
			ep.Listing.Truncated = true
			ep.Listing.Errors = append(ep.Listing.Errors, fmt.Sprintf("%s: the cursor is over %d bytes; not followed", method, maxCursor))
			return
		}
		seen[next] = true
		cursor = next
	}
}

func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || len(raw) > maxSchema || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	return b.Bytes()
}

// salvageItems walks a JSON-RPC response cut short by the body cap
// ({"jsonrpc":..,"result":{field:[item, item, ...) and calls fn with each
// item that arrived complete, until fn returns false or the bytes end. It
// returns how many items fn accepted. Nothing is decoded beyond the items.
func salvageItems(body []byte, field string, fn func(json.RawMessage) bool) int {
	body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	dec := json.NewDecoder(bytes.NewReader(body))
	if !enterDelim(dec, '{') || !seekKey(dec, "result") || !enterDelim(dec, '{') ||
		!seekKey(dec, field) || !enterDelim(dec, '[') {
		return 0
	}
	n := 0
	for dec.More() {
		var raw json.RawMessage
		if dec.Decode(&raw) != nil || !fn(raw) {
			break
		}
		n++
	}
	return n
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// enterDelim reads the next token and reports whether it is the delimiter d.
func enterDelim(dec *json.Decoder, d json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == d
}

// seekKey advances through the members of the object being read until the
// value of key is next; it reports whether key was found.
func seekKey(dec *json.Decoder, key string) bool {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if k, ok := tok.(string); ok && k == key {
			return true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
