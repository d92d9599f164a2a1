package mcpwire

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, maxEvent int, maxTotal int64) ([]Event, error) {
	t.Helper()
	r := NewSSEReader(strings.NewReader(in), maxEvent, maxTotal)
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return evs, nil
			}
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Event
	}{
		{"endpoint event", "event: endpoint\ndata: /message?sessionId=abc\n\n",
			[]Event{{Type: "endpoint", Data: []byte("/message?sessionId=abc")}}},
		{"default type and id", "id: 7\ndata: {\"a\":1}\n\n", []Event{{Type: "message", ID: "7", Data: []byte(`{"a":1}`)}}},
		{"multi-line data", "data: a\ndata: b\n\n", []Event{{Type: "message", Data: []byte("a\nb")}}},
		{"CRLF and CR line ends", "event: x\r\ndata: 1\r\n\r\ndata: 2\r\r", []Event{
			{Type: "x", Data: []byte("1")}, {Type: "message", Data: []byte("2")}}},
		{"comments and empty events skipped", ": ping\n\n: ping\n\nevent: e\n\ndata: z\n\n", []Event{{Type: "message", Data: []byte("z")}}},
		{"no space after colon", "data:x\n\n", []Event{{Type: "message", Data: []byte("x")}}},
		{"field without colon", "data\n\n", []Event{{Type: "message", Data: []byte("")}}},
		{"unterminated last event dropped", "data: a\n\ndata: b", []Event{{Type: "message", Data: []byte("a")}}},
		{"type does not leak to next event", "event: endpoint\ndata: 1\n\ndata: 2\n\n", []Event{
			{Type: "endpoint", Data: []byte("1")}, {Type: "message", Data: []byte("2")}}},
		{"id with NUL ignored", "id: a\x00b\ndata: q\n\n", []Event{{Type: "message", Data: []byte("q")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.in, 1024, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || got[i].ID != tt.want[i].ID || string(got[i].Data) != string(tt.want[i].Data) {
					t.Errorf("event %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSSEReaderCaps(t *testing.T) {
	if _, err := readAll(t, "data: "+strings.Repeat("x", 100)+"\n\n", 50, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long line: %v, want ErrTooLarge", err)
	}
	many := strings.Repeat("data: 0123456789\n", 20) + "\n"
	if _, err := readAll(t, many, 100, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big event: %v, want ErrTooLarge", err)
	}
	stream := strings.Repeat(": keepalive\n\n", 1000)
	if _, err := readAll(t, stream, 100, 500); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless comments: %v, want ErrTooLarge on the stream cap", err)
	}
}

func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{
		"event: endpoint\ndata: /message?sessionId=1\n\n",
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
		": c\r\n\r\nid: 1\rdata: x\r\r",
		"data", "\n\n\n", "event:\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewSSEReader(strings.NewReader(string(b)), 256, 4096)
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if len(ev.Data) > 256 || ev.Type == "" {
				t.Fatalf("event over the cap or without a type: %+v", ev)
			}
			if i > len(b) {
				t.Fatal("more events than input bytes")
			}
		}
	})
}
