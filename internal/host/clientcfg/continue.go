package clientcfg

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// parseContinueJSON reads Continue's config.json
// (experimental.modelContextProtocolServers, a list of {transport: {...}})
// and JSON server files in the Claude format ({"mcpServers": {...}}) or
// as a list.
func parseContinueJSON(loc Location, doc map[string]json.RawMessage) ([]Server, error) {
	var out []Server
	if raw, ok := doc["mcpServers"]; ok {
		if len(raw) > 0 && raw[0] == '[' {
			var list []map[string]any
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("mcpServers: %w", err)
			}
			out = append(out, listServers(loc, "mcpServers", list)...)
		} else {
			s, err := entries(loc, doc, "mcpServers")
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
	}
	if raw, ok := doc["experimental"]; ok {
		var exp struct {
			Servers []map[string]any `json:"modelContextProtocolServers"`
		}
		if err := json.Unmarshal(raw, &exp); err != nil {
			return nil, fmt.Errorf("experimental.modelContextProtocolServers: %w", err)
		}
		for i, e := range exp.Servers {
			t, ok := e["transport"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("experimental.modelContextProtocolServers[%d]: no transport object", i)
			}
			name := str(e["name"])
			if name == "" {
				name = fmt.Sprintf("modelContextProtocolServers[%d]", i)
			}
			out = append(out, entryServer(loc, name, t))
		}
	}
	return out, nil
}

// parseContinueYAML reads config.yaml or a block file: mcpServers is a
// list of {name, command, args, env} or {name, type, url, requestOptions}.
func parseContinueYAML(loc Location, b []byte) ([]Server, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil
	}
	raw, ok := doc["mcpServers"]
	if !ok || raw == nil {
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, errors.New("mcpServers: want a list")
	}
	var list []map[string]any
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("mcpServers[%d]: want a mapping", i)
		}
		list = append(list, jsonish(m).(map[string]any))
	}
	return listServers(loc, "mcpServers", list), nil
}

func listServers(loc Location, key string, list []map[string]any) []Server {
	var out []Server
	for i, e := range list {
		name := str(e["name"])
		if name == "" {
			name = fmt.Sprintf("%s[%d]", key, i)
		}
		out = append(out, entryServer(loc, name, e))
	}
	return out
}

// jsonish converts YAML-decoded values to what encoding/json would give
// (numbers as float64), so that entryServer reads both alike.
func jsonish(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonish(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = jsonish(x)
		}
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}
