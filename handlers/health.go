package handlers

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"latchkey/auth"
)

// handleHealth answers while the process is up.
func handleHealth() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	}
}

// storeCheckEvery bounds how often /readyz asks the session store, however
// often it is asked itself.
const storeCheckEvery = time.Second

// handleReady answers 200 once the provider's discovery has loaded and
// while the session store can be reached, 503 otherwise, with one line
// per part saying which is not ready: for a provider that is
// misconfigured, what is wrong. The store's error goes to the log only.
func handleReady(p *pages, provider *auth.Provider, sessions *auth.Sessions) http.HandlerFunc {
	store := &storeCheck{sessions: sessions}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var lines []string
		ready := true
		switch mis := provider.Misconfiguration(); {
		case provider.Ready():
			lines = append(lines, "identity provider: ready")
		case mis != nil:
			ready = false
			lines = append(lines, "identity provider: "+mis.Problem)
		default:
			ready = false
			lines = append(lines, "identity provider: not reachable yet")
		}
		if err := store.check(r.Context()); err != nil {
			ready = false
			lines = append(lines, "session store: cannot be reached")
			p.log.WarnContext(r.Context(), "readiness: session store cannot be reached", "err", err)
		} else {
			lines = append(lines, "session store: ready")
		}
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	}
}

// storeCheck remembers the session store's last answer for storeCheckEvery.
type storeCheck struct {
	sessions *auth.Sessions

	mu  sync.Mutex
	at  time.Time
	err error
}

func (c *storeCheck) check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.at) >= storeCheckEvery {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c.err, c.at = c.sessions.Ping(ctx), now
	}
	return c.err
}
