package diff

import (
	"fmt"
	"strings"
)

// maxDiffCells caps the size of the table the line diff builds; beyond it
// the whole text is shown as replaced.
const maxDiffCells = 4_000_000

// opKind is one line of an edit script.
type opKind byte

const (
	opKeep opKind = ' '
	opDel  opKind = '-'
	opAdd  opKind = '+'
)

type lineOp struct {
	kind opKind
	text string
	// a and b are the 0-based line numbers in the old and new text of the
	// line, or of the position it is inserted at.
	a, b int
}

// Unified returns a unified line diff of before and after with context
// lines of context around each change, under the headers "--- from" and
// "+++ to". Equal texts give "". A text that does not end with a newline
// is treated as if it did.
func Unified(before, after, from, to string, context int) string {
	if before == after {
		return ""
	}
	if context < 0 {
		context = 0
	}
	a, b := splitLines(before), splitLines(after)
	ops := editScript(a, b)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", from, to)
	for i := 0; i < len(ops); {
		// Find the next change.
		for i < len(ops) && ops[i].kind == opKeep {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		// Extend the hunk while changes are at most 2*context apart.
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != opKeep {
				end = j
				continue
			}
			if j-end > 2*context {
				break
			}
		}
		stop := min(end+context+1, len(ops))
		writeHunk(&sb, ops[start:stop])
		i = stop
	}
	return sb.String()
}

func writeHunk(sb *strings.Builder, ops []lineOp) {
	var na, nb int
	for _, op := range ops {
		if op.kind != opAdd {
			na++
		}
		if op.kind != opDel {
			nb++
		}
	}
	sa, sbn := ops[0].a+1, ops[0].b+1
	if na == 0 {
		sa--
	}
	if nb == 0 {
		sbn--
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(sa, na), hunkRange(sbn, nb))
	for _, op := range ops {
		sb.WriteByte(byte(op.kind))
		sb.WriteString(op.text)
		sb.WriteByte('\n')
	}
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// editScript is a longest-common-subsequence edit script from a to b.
func editScript(a, b []string) []lineOp {
	// Trim the common prefix and suffix: descriptions usually change in
	// one place, and this keeps the table small.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	var ops []lineOp
	for i := 0; i < pre; i++ {
		ops = append(ops, lineOp{opKeep, a[i], i, i})
	}
	if len(ma)*len(mb) > maxDiffCells {
		for i, l := range ma {
			ops = append(ops, lineOp{opDel, l, pre + i, pre})
		}
		for j, l := range mb {
			ops = append(ops, lineOp{opAdd, l, pre + len(ma), pre + j})
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int32, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				ops = append(ops, lineOp{opKeep, ma[i], pre + i, pre + j})
				i++
				j++
			case i < len(ma) && (j == len(mb) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				ops = append(ops, lineOp{opDel, ma[i], pre + i, pre + j})
				i++
			default:
				ops = append(ops, lineOp{opAdd, mb[j], pre + i, pre + j})
				j++
			}
		}
	}
	for k := 0; k < suf; k++ {
		ops = append(ops, lineOp{opKeep, a[len(a)-suf+k], len(a) - suf + k, len(b) - suf + k})
	}
	return ops
}
