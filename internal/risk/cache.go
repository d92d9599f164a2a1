package risk

import (
	"crypto/sha256"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// toolCache remembers the categories of tool definitions already seen:
// fleets run the same server many times, and classification is regex-heavy
// (about a millisecond a tool). It is bounded: when full it starts over.
var toolCache = struct {
	sync.Mutex
	m map[[32]byte][]string
}{m: map[[32]byte][]string{}}

const toolCacheMax = 20000

func toolKey(t result.Tool) [32]byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(t.Name), []byte(t.Title), []byte(t.Description), t.InputSchema, t.Annotations} {
		var n [8]byte
		l := len(part)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(part)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// cachedToolCategories is ToolCategories with the cache. The returned slice
// is a copy the caller may keep.
func cachedToolCategories(t result.Tool) []string {
	k := toolKey(t)
	toolCache.Lock()
	cats, ok := toolCache.m[k]
	toolCache.Unlock()
	if !ok {
		cats = ToolCategories(t)
		toolCache.Lock()
		if len(toolCache.m) >= toolCacheMax {
			clear(toolCache.m)
		}
		toolCache.m[k] = cats
		toolCache.Unlock()
	}
	if cats == nil {
		return nil
	}
	return append([]string(nil), cats...)
}
