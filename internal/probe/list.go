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

	s.paginate(ctx, ep, rpc, "tools/list", "tools", first, firstErr, func(raw json.RawMessage) {
		var t struct {
			Name         any             `json:"name"`
			Title        any             `json:"title"`
			Description  any             `json:"description"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
			Annotations  json.RawMessage `json:"annotations"`
		}
		if json.Unmarshal(raw, &t) != nil {
			return
		}
		ep.Tools = append(ep.Tools, result.Tool{
			Name: str(t.Name, maxName), Title: str(t.Title, maxName), Description: str(t.Description, maxDescription),
			InputSchema: compact(t.InputSchema), OutputSchema: compact(t.OutputSchema), Annotations: compact(t.Annotations),
		})
	})
	if has("resources") {
		s.paginate(ctx, ep, rpc, "resources/list", "resources", nil, nil, func(raw json.RawMessage) {
			var r struct {
				URI, Name, Title, Description, MimeType any
			}
			if json.Unmarshal(raw, &r) != nil {
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
			if json.Unmarshal(raw, &r) != nil {
				return
			}
			ep.ResourceTemplates = append(ep.ResourceTemplates, result.ResourceTemplate{
				URITemplate: str(r.URITemplate, 2048), Name: str(r.Name, maxName), Title: str(r.Title, maxName),
				Description: str(r.Description, maxDescription), MimeType: str(r.MimeType, 128),
			})
		})
	}
	if has("prompts") {
		s.paginate(ctx, ep, rpc, "prompts/list", "prompts", nil, nil, func(raw json.RawMessage) {
			var p struct {
				Name, Title, Description any
				Arguments                []struct {
					Name, Description any
					Required          bool
				}
			}
			if json.Unmarshal(raw, &p) != nil {
				return
			}
			pr := result.Prompt{Name: str(p.Name, maxName), Title: str(p.Title, maxName), Description: str(p.Description, maxDescription)}
			for i, a := range p.Arguments {
				if i == 64 {
					break
				}
				pr.Arguments = append(pr.Arguments, result.PromptArgument{Name: str(a.Name, maxName), Description: str(a.Description, 1024), Required: a.Required})
			}
			ep.Prompts = append(ep.Prompts, pr)
		})
	}
	if !ep.Listing.Truncated && len(ep.Listing.Errors) == 0 && ep.Listing.Pages == 0 {
		ep.Listing = nil
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
		if seen[next] || len(next) > 4096 {
			ep.Listing.Truncated = true
			ep.Listing.Errors = append(ep.Listing.Errors, method+": the cursor did not advance")
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
