package alert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// Payload is the generic JSON body of a webhook and the stdin of a
// command hook: the event's fields plus where it comes from.
type Payload struct {
	ID       int64           `json:"id"`
	Time     time.Time       `json:"time"`
	Type     model.Type      `json:"type"`
	URL      string          `json:"url"`
	Subject  string          `json:"subject,omitempty"`
	Detail   json.RawMessage `json:"detail"`
	Key      string          `json:"key"`
	Severity string          `json:"severity"`
	Group    string          `json:"group,omitempty"`
	Route    string          `json:"route"`
	Summary  string          `json:"summary"`
}

// PayloadOf builds the payload of an alert.
func PayloadOf(a store.Alert) Payload {
	e := a.Event
	det := e.Detail
	if len(det) == 0 {
		det = json.RawMessage("{}")
	}
	return Payload{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, URL: e.URL, Subject: e.Subject, Detail: det, Key: e.Key,
		Severity: Severity(e).String(), Group: a.Group, Route: a.Route, Summary: Summary(e)}
}

// IdempotencyKey is the same for every attempt of one event on one route.
func IdempotencyKey(a store.Alert) string {
	h := sha256.Sum256([]byte(a.Route + "\x00" + a.Event.Key))
	return hex.EncodeToString(h[:16])
}

// Summary is a one-line description of an event.
func Summary(e model.Event) string {
	var d map[string]any
	_ = json.Unmarshal(e.Detail, &d)
	str := func(k string) string { s, _ := d[k].(string); return s }
	sev := Severity(e).String()
	var what string
	switch e.Type {
	case model.EndpointNew:
		auth := "without authentication"
		if a, ok := d["auth"].(map[string]any); ok && a["required"] == true {
			auth = "behind authentication"
		}
		n := 0
		if ts, ok := d["tools"].([]any); ok {
			n = len(ts)
		}
		what = fmt.Sprintf("new MCP endpoint %s %s (%d tools)", e.URL, auth, n)
	case model.EndpointGone:
		what = fmt.Sprintf("MCP endpoint %s is gone (%s)", e.URL, str("status"))
	case model.AuthDropped:
		what = fmt.Sprintf("%s no longer requires authentication", e.URL)
	case model.AuthAdded:
		what = fmt.Sprintf("%s now requires authentication", e.URL)
	case model.ToolAdded:
		what = fmt.Sprintf("tool %q added on %s", e.Subject, e.URL)
	case model.ToolRemoved:
		what = fmt.Sprintf("tool %q removed from %s", e.Subject, e.URL)
	case model.ToolChanged:
		var parts []string
		for _, k := range []string{"description", "schema", "annotations"} {
			if d[k+"_changed"] == true {
				parts = append(parts, k)
			}
		}
		what = fmt.Sprintf("tool %q changed on %s (%s)", e.Subject, e.URL, strings.Join(parts, ", "))
	case model.FindingNew:
		what = fmt.Sprintf("new finding %s on %s: %s", e.Subject, e.URL, str("title"))
	case model.ConnectionExternal:
		what = fmt.Sprintf("new peer %s (%s) connected to the MCP listener %s of %s", str("peer"), str("peer_class"), str("listener"), e.URL)
	case model.ConnectionBypass:
		what = fmt.Sprintf("%s reached the gated MCP listener %s of %s without the gate", e.Subject, str("listener"), e.URL)
	case model.IndexNew:
		what = fmt.Sprintf("%s now lists %s (%s)", e.Subject, e.URL, str("class"))
	case model.FindingResolved:
		what = fmt.Sprintf("finding %s resolved on %s", e.Subject, e.URL)
	case model.TLSExpiring:
		days, _ := d["days_left"].(float64)
		what = fmt.Sprintf("certificate of %s expires in %d days", str("host_port"), int(days))
	default:
		what = fmt.Sprintf("%s on %s", e.Type, e.URL)
	}
	return fmt.Sprintf("[%s] %s", sev, what)
}

// RedactURL returns u without anything that may be a secret: only the
// scheme and host are kept (webhook URLs carry tokens in their paths and
// queries).
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(webhook URL)"
	}
	out := p.Scheme + "://" + p.Host
	if p.Path != "" && p.Path != "/" || p.RawQuery != "" {
		out += "/..."
	}
	return out
}

// maxErrBody bounds what is read of a failed webhook response.
const maxErrBody = 512

func (d *Dispatcher) send(ctx context.Context, r config.Route, a store.Alert) error {
	switch r.Kind {
	case config.RouteWebhook:
		body, err := json.Marshal(PayloadOf(a))
		if err != nil {
			return err
		}
		return d.post(ctx, r, a, body)
	case config.RouteSlack:
		body, err := json.Marshal(map[string]string{"text": slackText(a)})
		if err != nil {
			return err
		}
		return d.post(ctx, r, a, body)
	case config.RouteCommand:
		return runCommand(ctx, r, a)
	case config.RouteLog:
		p := PayloadOf(a)
		d.log.Warn("mcpwarden alert", "route", r.Name, "severity", p.Severity, "type", p.Type, "url", p.URL,
			"subject", p.Subject, "group", p.Group, "summary", p.Summary, "detail", string(p.Detail))
		return nil
	}
	return fmt.Errorf("unknown route type %q", r.Kind)
}

// slackText is the message of a Slack-compatible webhook.
func slackText(a store.Alert) string {
	t := "mcpwarden: " + Summary(a.Event)
	if a.Group != "" {
		t += " (group " + a.Group + ")"
	}
	if a.Event.Type == model.ToolChanged {
		var d struct {
			Diff string `json:"description_diff"`
		}
		if json.Unmarshal(a.Event.Detail, &d) == nil && d.Diff != "" {
			diff := d.Diff
			if len(diff) > 2000 {
				diff = strings.ToValidUTF8(diff[:2000], "") + "\n..."
			}
			t += "\n```\n" + strings.ReplaceAll(diff, "```", "'''") + "\n```"
		}
	}
	return t
}

func (d *Dispatcher) post(ctx context.Context, r config.Route, a store.Alert, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: bad request", RedactURL(r.URL))
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mcpwarden-watch")
	req.Header.Set("Idempotency-Key", IdempotencyKey(a))
	req.Header.Set("X-Mcpwarden-Event", string(a.Event.Type))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		// The *url.Error repeats the URL, secret included: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("webhook %s: no answer within %v", RedactURL(r.URL), r.Timeout)
		}
		return fmt.Errorf("webhook %s: %s", RedactURL(r.URL), strings.ReplaceAll(err.Error(), r.URL, RedactURL(r.URL)))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(snippet), ""))
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("webhook %s: HTTP %d%s", RedactURL(r.URL), resp.StatusCode, msg)
}

// runCommand runs the hook with the payload on stdin; it is killed (with
// its process group) when the route's timeout ends.
func runCommand(ctx context.Context, r config.Route, a store.Alert) error {
	body, err := json.Marshal(PayloadOf(a))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, r.Command[0], r.Command[1:]...)
	cmd.Stdin = bytes.NewReader(append(body, '\n'))
	var out bytes.Buffer
	cmd.Stdout = &limited{w: &out, n: maxErrBody}
	cmd.Stderr = cmd.Stdout
	cmd.Env = append(cmd.Environ(), "MCPWARDEN_EVENT_TYPE="+string(a.Event.Type), "MCPWARDEN_EVENT_URL="+a.Event.URL,
		"MCPWARDEN_SEVERITY="+Severity(a.Event).String(), "MCPWARDEN_ROUTE="+a.Route)
	killGroup(cmd)
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("command %s: killed after %v", r.Command[0], r.Timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(strings.ToValidUTF8(out.String(), ""))
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("command %s: %v%s", r.Command[0], err, msg)
	}
	return nil
}

// limited keeps the first n bytes written and discards the rest.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
