package audit

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"
)

// MaxLine caps one JSON Lines record when reading; longer lines are
// reported as unreadable and skipped.
const MaxLine = 16 << 20

// Filter selects records. Zero fields match everything.
type Filter struct {
	Principal string    // exact principal key
	Tool      string    // exact tool, resource or prompt name (Record.Name)
	Method    string    // exact JSON-RPC method
	Decision  string    // allow, deny or error
	Since     time.Time // records at or after Since
	Until     time.Time // records before Until
	Limit     int       // at most Limit records; 0 means no limit
}

// Match reports whether r passes every condition of f except Limit.
func (f *Filter) Match(r *Record) bool {
	return (f.Principal == "" || r.Principal == f.Principal) &&
		(f.Tool == "" || r.Name == f.Tool) &&
		(f.Method == "" || r.Method == f.Method) &&
		(f.Decision == "" || r.Decision == f.Decision) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || r.Time.Before(f.Until))
}

// LineError is an unreadable line of a JSON Lines log. It wraps ErrBadLine;
// iteration goes on after it.
type LineError struct {
	Name    string // the source's name
	Line    int    // 1-based
	Partial bool   // the last line, without a newline: a write cut short
	Err     error
}

func (e *LineError) Error() string {
	if e.Partial {
		return fmt.Sprintf("%s:%d: partial final record skipped (a write cut short by a crash?): %v", e.Name, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: unreadable record skipped: %v", e.Name, e.Line, e.Err)
}

// Unwrap lets errors.Is(err, ErrBadLine) hold.
func (e *LineError) Unwrap() []error { return []error{ErrBadLine, e.Err} }

// Query reads the records in source ("jsonl:PATH" or "sqlite:PATH") that
// match f, oldest first for SQLite and in file order for JSON Lines. An
// error wrapping ErrBadLine concerns one line and iteration continues
// after it; any other error ends the iteration.
func Query(ctx context.Context, source string, f Filter) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		kind, path, err := splitSpec(source)
		if err == nil && kind == "stdout" {
			err = fmt.Errorf("audit: cannot read back %q; give jsonl:PATH or sqlite:PATH", source)
		}
		if err != nil {
			yield(nil, err)
			return
		}
		if f.Limit < 0 {
			yield(nil, fmt.Errorf("audit: negative limit %d", f.Limit))
			return
		}
		if kind == "sqlite" {
			querySQLite(ctx, path, f, yield)
			return
		}
		file, err := os.Open(path)
		if err != nil {
			yield(nil, fmt.Errorf("audit: %w", err))
			return
		}
		defer file.Close()
		for r, err := range ScanJSONL(ctx, file, path, f) {
			if !yield(r, err) {
				return
			}
		}
	}
}

// ScanJSONL reads JSON Lines records from r (named name in errors) that
// match f. Blank lines are ignored; an unreadable line, including a
// partial final line, yields a *LineError and reading goes on.
func ScanJSONL(ctx context.Context, r io.Reader, name string, f Filter) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		n, line := 0, 0
		var buf []byte
		for {
			if f.Limit > 0 && n >= f.Limit {
				return
			}
			if line%256 == 0 {
				if err := ctx.Err(); err != nil {
					yield(nil, fmt.Errorf("audit: %w", err))
					return
				}
			}
			b, tooLong, eof, err := readLine(br, buf[:0])
			buf = b
			if err != nil {
				yield(nil, fmt.Errorf("audit: %s: %w", name, err))
				return
			}
			if eof && len(b) == 0 && !tooLong {
				return
			}
			line++
			partial := eof // the final line had no newline
			switch {
			case tooLong:
				if !yield(nil, &LineError{Name: name, Line: line, Partial: partial, Err: fmt.Errorf("longer than %d bytes", MaxLine)}) {
					return
				}
			case len(bytes.TrimSpace(b)) == 0:
			default:
				rec, err := decodeRecord(b)
				if err != nil {
					if !yield(nil, &LineError{Name: name, Line: line, Partial: partial, Err: err}) {
						return
					}
				} else if f.Match(rec) {
					n++
					if !yield(rec, nil) {
						return
					}
				}
			}
			if eof {
				return
			}
		}
	}
}

// readLine reads one line without its newline into buf. tooLong means the
// line exceeded MaxLine and was discarded; eof means the input ended
// before a newline.
func readLine(br *bufio.Reader, buf []byte) (b []byte, tooLong, eof bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLine+1 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte{'\n'}), tooLong, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return buf, tooLong, true, nil
		default:
			return buf, tooLong, false, err
		}
	}
}

// decodeRecord parses one line strictly: a single JSON object.
func decodeRecord(b []byte) (*Record, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	return &r, nil
}

// querySQLite reads matching records from the database at path, read-only.
func querySQLite(ctx context.Context, path string, f Filter, yield func(*Record, error) bool) {
	if _, err := os.Stat(path); err != nil {
		yield(nil, fmt.Errorf("audit: %w", err))
		return
	}
	db, err := sql.Open("sqlite", sqliteDSN(path, "mode=ro", "_pragma=busy_timeout(5000)"))
	if err != nil {
		yield(nil, fmt.Errorf("audit: sqlite %s: %w", path, err))
		return
	}
	defer db.Close()
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Principal != "" {
		add("principal = ?", f.Principal)
	}
	if f.Tool != "" {
		add("name = ?", f.Tool)
	}
	if f.Method != "" {
		add("method = ?", f.Method)
	}
	if f.Decision != "" {
		add("decision = ?", f.Decision)
	}
	if !f.Since.IsZero() {
		add("time >= ?", sqliteTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", sqliteTime(f.Until))
	}
	q := "SELECT id, record FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			err = errors.New("not an mcpwarden audit database (no audit table)")
		}
		yield(nil, fmt.Errorf("audit: sqlite %s: %w", path, err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var text string
		if err := rows.Scan(&id, &text); err != nil {
			yield(nil, fmt.Errorf("audit: sqlite %s: %w", path, err))
			return
		}
		rec, err := decodeRecord([]byte(text))
		if err != nil {
			if !yield(nil, &LineError{Name: path, Line: int(id), Err: err}) {
				return
			}
			continue
		}
		if !yield(rec, nil) {
			return
		}
	}
	if err := rows.Err(); err != nil {
		yield(nil, fmt.Errorf("audit: sqlite %s: %w", path, err))
	}
}
