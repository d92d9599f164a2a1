package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/watch/dashboard"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// serveDashboard serves the dashboard and /metrics on listen until stop
// is called or ctx ends. It returns the address it listens on.
func serveDashboard(ctx context.Context, st store.Store, metrics http.Handler, listen string, auths []auth.Authenticator,
	logger *slog.Logger) (stop func(), addr string, err error) {
	dash, err := dashboard.New(dashboard.Options{Store: st, Logger: logger, Authenticators: auths})
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", protectMetrics(metrics, auths))
	mux.Handle("/", dash)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("dashboard stopped", "error", err)
		}
	}()
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-done
	}
	return stop, ln.Addr().String(), nil
}

// protectMetrics asks the dashboard's authenticators; without any it
// answers only requests whose Host is an IP literal or localhost (DNS
// rebinding), as the dashboard does.
func protectMetrics(h http.Handler, auths []auth.Authenticator) http.Handler {
	var a auth.Authenticator
	if len(auths) > 0 {
		a = auth.Chain(auths...)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if a != nil {
			if _, err := a.Authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mcpwarden watch"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		} else if !literalHost(r.Host) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func literalHost(hostport string) bool {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}
