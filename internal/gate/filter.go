package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errBadList: a message that may carry a list could not be read, so it
// cannot be filtered and must not be passed on.
var errBadList = errors.New("gate: unreadable list response")

// listFields are the result members that list tools, resources, resource
// templates and prompts, with the kind and the member naming each entry.
type listField struct {
	field string
	kind  Kind
	key   string
}

var listFields = []listField{
	{"tools", KindTool, "name"},
	{"resources", KindResource, "uri"},
	{"resourceTemplates", KindResource, "uriTemplate"},
	{"prompts", KindPrompt, "name"},
}

// mayList is a cheap test for bytes that might hold a list result: one of
// the member names in any ASCII case, a backslash (an escape could spell
// one) or a non-ASCII byte (Unicode case folding could).
func mayList(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return true
		}
	}
	lower := bytes.ToLower(b)
	for _, f := range listFields {
		if bytes.Contains(lower, []byte(`"`+strings.ToLower(f.field)+`"`)) {
			return true
		}
	}
	return false
}

// FilterLists removes, from the JSON-RPC message or batch in data, every
// list entry that allow refuses: entries of the result members "tools",
// "resources", "resourceTemplates" and "prompts" of any response. The
// filter goes by the shape of the result, not by remembering which request
// id asked for a list, so a replayed or resumed response is filtered too.
// An entry whose name cannot be read is removed. When nothing is removed
// data is returned as it was (changed false). Bytes that might hold a list
// but are not valid JSON give errBadList.
func FilterLists(data []byte, allow func(kind Kind, name string) bool) (out []byte, changed bool, err error) {
	if !mayList(data) {
		return data, false, nil
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || !json.Valid(t) {
		return nil, false, fmt.Errorf("%w: not valid JSON", errBadList)
	}
	switch t[0] {
	case '[':
		var msgs []json.RawMessage
		if err := json.Unmarshal(t, &msgs); err != nil {
			return nil, false, fmt.Errorf("%w: %v", errBadList, err)
		}
		any := false
		for i, m := range msgs {
			nm, ch, err := filterMessage(m, allow)
			if err != nil {
				return nil, false, err
			}
			if ch {
				msgs[i], any = nm, true
			}
		}
		if !any {
			return data, false, nil
		}
		b, err := json.Marshal(msgs)
		return b, true, err
	case '{':
		nm, ch, err := filterMessage(t, allow)
		if err != nil || !ch {
			return data, false, err
		}
		return nm, true, nil
	}
	return data, false, nil
}

func filterMessage(raw json.RawMessage, allow func(Kind, string) bool) (json.RawMessage, bool, error) {
	if !mayList(raw) {
		return raw, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return raw, false, nil // not an object: nothing a client reads as a list
	}
	// Member names are matched case-insensitively, as a Go client
	// (encoding/json) would read them.
	changed := false
	for rk, res := range m {
		if foldKey(rk) != foldKey("result") || len(bytes.TrimSpace(res)) == 0 || bytes.TrimSpace(res)[0] != '{' {
			continue
		}
		var r map[string]json.RawMessage
		if err := json.Unmarshal(res, &r); err != nil {
			return nil, false, fmt.Errorf("%w: result: %v", errBadList, err)
		}
		rchanged := false
		for k, list := range r {
			var f *listField
			for i := range listFields {
				if foldKey(k) == foldKey(listFields[i].field) {
					f = &listFields[i]
				}
			}
			if f == nil {
				continue
			}
			var entries []json.RawMessage
			if err := json.Unmarshal(list, &entries); err != nil {
				// Not an array: a client cannot read it as a list
				// either; remove it rather than guess.
				delete(r, k)
				rchanged = true
				continue
			}
			kept := entries[:0]
			for _, e := range entries {
				if name, ok := entryName(e, f.key); ok && allow(f.kind, name) {
					kept = append(kept, e)
				}
			}
			// Always re-encode a present list: the output then holds
			// exactly what the gate checked.
			b, err := json.Marshal(kept)
			if err != nil {
				return nil, false, err
			}
			r[k] = b
			rchanged = true
		}
		if rchanged {
			b, err := json.Marshal(r)
			if err != nil {
				return nil, false, err
			}
			m[rk] = b
			changed = true
		}
	}
	if !changed {
		return raw, false, nil
	}
	out, err := json.Marshal(m)
	return out, err == nil, err
}

// entryName reads the naming member of a list entry; the entry must hold
// exactly one member that folds to key (a second spelling, such as "Name"
// beside "name", makes the entry unreadable: it is removed).
func entryName(e json.RawMessage, key string) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(e, &obj) != nil {
		return "", false
	}
	var name string
	found := 0
	for k, v := range obj {
		if foldKey(k) != foldKey(key) {
			continue
		}
		found++
		if json.Unmarshal(v, &name) != nil {
			return "", false
		}
	}
	return name, found == 1
}
