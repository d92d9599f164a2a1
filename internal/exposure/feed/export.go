package feed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxRecord caps one record of an export file.
const DefaultMaxRecord = 8 << 20

// ErrRecordTooLarge is passed to the malformed callback of ReadRecords for a
// record above the size cap (the record is skipped).
var ErrRecordTooLarge = errors.New("record too large")

// RecordFunc receives one raw JSON record of an export (a copy the callee
// may keep). A non-nil error stops the read and is returned.
type RecordFunc func(raw []byte) error

// ReadRecords streams the records of an export file: gzip-compressed or
// plain (detected from the first bytes), holding JSON Lines (one value per
// line, blank lines ignored) or one JSON array of values. A record above
// maxRecord bytes (0 means DefaultMaxRecord) is skipped and reported to
// bad with ErrRecordTooLarge; a JSON Lines line is otherwise handed over
// as is (the caller parses it and counts what it cannot). An array that is
// cut short or not well-formed stops the read with an error naming the
// record number. ctx is checked between records.
func ReadRecords(ctx context.Context, r io.Reader, maxRecord int, fn RecordFunc, bad func(n int, err error)) error {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	if bad == nil {
		bad = func(int, error) {}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	first, err := skipSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	if first == '[' {
		return readArray(ctx, br, maxRecord, fn, bad)
	}
	return readLines(ctx, br, maxRecord, fn, bad)
}

// skipSpace skips blanks and a UTF-8 byte order mark and returns the next
// byte without consuming it.
func skipSpace(br *bufio.Reader) (byte, error) {
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xef, 0xbb, 0xbf}) {
		br.Discard(3)
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		br.UnreadByte()
		return b, nil
	}
}

func readLines(ctx context.Context, br *bufio.Reader, maxRecord int, fn RecordFunc, bad func(int, error)) error {
	var line []byte
	n, skipping := 0, false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 && !skipping {
			if len(line)+len(chunk) > maxRecord+1 {
				n++
				bad(n, fmt.Errorf("line %d: %w (limit %d bytes)", n, ErrRecordTooLarge, maxRecord))
				line, skipping = line[:0], true
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read: %w", err)
		}
		if !skipping {
			if rec := bytes.TrimSpace(line); len(rec) > 0 {
				n++
				if e := ctx.Err(); e != nil {
					return e
				}
				if e := fn(bytes.Clone(rec)); e != nil {
					return e
				}
			}
		}
		line, skipping = line[:0], false
		if err == io.EOF {
			return nil
		}
	}
}

// readArray splits a top-level JSON array into its elements without
// decoding them, tracking strings and nesting depth.
func readArray(ctx context.Context, br *bufio.Reader, maxRecord int, fn RecordFunc, bad func(int, error)) error {
	br.ReadByte() // '['
	var rec []byte
	n := 0
	for {
		c, err := skipSpace(br)
		if err != nil {
			return fmt.Errorf("array cut short after record %d", n)
		}
		if c == ']' {
			br.ReadByte()
			return nil
		}
		if c == ',' {
			if n == 0 {
				return fmt.Errorf("record 1: unexpected comma")
			}
			br.ReadByte()
			if c, err = skipSpace(br); err != nil {
				return fmt.Errorf("array cut short after record %d", n)
			}
			if c == ']' || c == ',' {
				return fmt.Errorf("record %d: missing value after comma", n+1)
			}
		} else if n > 0 {
			return fmt.Errorf("record %d: missing comma before it", n+1)
		}
		n++
		rec = rec[:0]
		tooLarge, err := scanValue(br, &rec, maxRecord)
		if err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		if tooLarge {
			bad(n, fmt.Errorf("record %d: %w (limit %d bytes)", n, ErrRecordTooLarge, maxRecord))
			continue
		}
		if e := ctx.Err(); e != nil {
			return e
		}
		if e := fn(bytes.Clone(rec)); e != nil {
			return e
		}
	}
}

// scanValue reads one JSON value (object, array, string or scalar) into
// *out, stopping storing once it exceeds max (the value is still read to
// its end). It checks brackets balance, not full JSON grammar.
func scanValue(br *bufio.Reader, out *[]byte, max int) (tooLarge bool, err error) {
	var stack []byte
	inStr, esc := false, false
	put := func(c byte) {
		if tooLarge {
			return
		}
		if len(*out) >= max {
			tooLarge = true
			*out = (*out)[:0]
			return
		}
		*out = append(*out, c)
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			return tooLarge, errors.New("cut short")
		}
		if inStr {
			put(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
				if len(stack) == 0 {
					return tooLarge, nil
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			if len(stack) >= 10000 {
				return tooLarge, errors.New("nested too deeply")
			}
			stack = append(stack, c)
		case '}', ']':
			if len(stack) == 0 {
				// End of a top-level scalar: leave the bracket for the caller.
				br.UnreadByte()
				return tooLarge, checkScalar(*out)
			}
			open := stack[len(stack)-1]
			if (open == '{') != (c == '}') {
				return tooLarge, fmt.Errorf("mismatched %q", c)
			}
			stack = stack[:len(stack)-1]
			put(c)
			if len(stack) == 0 {
				return tooLarge, nil
			}
			continue
		case ',', ' ', '\t', '\r', '\n':
			if len(stack) == 0 {
				br.UnreadByte()
				return tooLarge, checkScalar(*out)
			}
		}
		put(c)
	}
}

func checkScalar(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	return nil
}
