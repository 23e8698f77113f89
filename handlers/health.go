package handlers

import (
	"net/http"

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

// handleReady answers 200 once the provider's discovery has loaded, 503
// until then.
func handleReady(provider *auth.Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !provider.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("identity provider not reachable yet\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	}
}
