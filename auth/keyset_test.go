package auth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keyServer is a JWKS endpoint whose answer the test changes.
type keyServer struct {
	fetches atomic.Int32
	status  atomic.Int32
	body    atomic.Value // string
}

func (k *keyServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	k.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(k.status.Load()))
	_, _ = io.WriteString(w, k.body.Load().(string))
}

func TestKeySetTransport(t *testing.T) {
	const (
		keysA = `{"keys":[{"kty":"EC","kid":"a"}]}`
		keysB = `{"keys":[{"kty":"EC","kid":"b"}]}`
	)
	tests := []struct {
		name string
		// after the first fetch (keysA), the endpoint answers status and body
		status       int
		body         string
		requests     int
		refetchFirst bool          // spend the interval's refetch before advancing
		advance      time.Duration // before the requests
		wantFetches  int32
		wantBody     string
	}{
		{name: "unknown kids within the interval cost one refetch", status: 200, body: keysB, requests: 100, wantFetches: 2, wantBody: keysB},
		{name: "after the interval another refetch is allowed", status: 200, body: keysB, refetchFirst: true, requests: 1, advance: KeyRefetchInterval, wantFetches: 3, wantBody: keysB},
		{name: "a failing endpoint keeps the last good keys", status: 500, body: "oops", requests: 3, wantFetches: 2, wantBody: keysA},
		{name: "an answer that is not a key set keeps the last good keys", status: 200, body: "<html>maintenance</html>", requests: 3, wantFetches: 2, wantBody: keysA},
		{name: "an empty key set keeps the last good keys", status: 200, body: `{"keys":[]}`, requests: 1, wantFetches: 2, wantBody: keysA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := &keyServer{}
			ks.status.Store(200)
			ks.body.Store(keysA)
			srv := httptest.NewServer(ks)
			defer srv.Close()
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			tr := &keySetTransport{next: http.DefaultTransport, url: srv.URL + "/keys", now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
			client := &http.Client{Transport: tr}
			get := func() string {
				t.Helper()
				resp, err := client.Get(srv.URL + "/keys")
				if err != nil {
					t.Fatalf("get keys: %v", err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				return string(b)
			}
			if got := get(); got != keysA {
				t.Fatalf("first fetch = %s", got)
			}
			ks.status.Store(int32(tt.status))
			ks.body.Store(tt.body)
			if tt.refetchFirst {
				get()
			}
			now = now.Add(tt.advance)
			var got string
			for range tt.requests {
				got = get()
			}
			if got != tt.wantBody {
				t.Errorf("keys served = %s, want %s", got, tt.wantBody)
			}
			if n := ks.fetches.Load(); n != tt.wantFetches {
				t.Errorf("%d fetches reached the provider, want %d", n, tt.wantFetches)
			}
		})
	}
}

func TestKeySetTransportPassesOtherRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &keySetTransport{next: http.DefaultTransport, url: srv.URL + "/keys", now: time.Now, log: slog.New(slog.DiscardHandler)}}
	for range 3 {
		resp, err := client.Get(srv.URL + "/userinfo")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "/userinfo" {
			t.Fatalf("other request answered %q", b)
		}
	}
}

// TestKeySetTransportRecoversWithinSeconds: a key rotation during a short
// outage of the key endpoint is picked up seconds after the endpoint is
// back, and a second rotation soon after too; meanwhile failed fetches
// back off, and throttling is logged at most once per interval (L10 in
// docs/security.md).
func TestKeySetTransportRecoversWithinSeconds(t *testing.T) {
	const (
		keysA = `{"keys":[{"kty":"EC","kid":"a"}]}`
		keysB = `{"keys":[{"kty":"EC","kid":"b"}]}`
		keysC = `{"keys":[{"kty":"EC","kid":"c"}]}`
	)
	ks := &keyServer{}
	ks.status.Store(200)
	ks.body.Store(keysA)
	srv := httptest.NewServer(ks)
	defer srv.Close()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	tr := &keySetTransport{next: http.DefaultTransport, url: srv.URL + "/keys", now: func() time.Time { return now }, log: slog.New(slog.NewTextHandler(&logs, nil))}
	client := &http.Client{Transport: tr}
	get := func(step string, wantKeys string, wantFetches int32) {
		t.Helper()
		resp, err := client.Get(srv.URL + "/keys")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != wantKeys {
			t.Errorf("%s: keys %s, want %s", step, b, wantKeys)
		}
		if n := ks.fetches.Load(); n != wantFetches {
			t.Errorf("%s: %d fetches, want %d", step, n, wantFetches)
		}
	}
	get("first fetch", keysA, 1)

	// The provider rotates to B while its key endpoint fails.
	ks.status.Store(500)
	get("refetch during the outage", keysA, 2)
	now = now.Add(500 * time.Millisecond)
	get("half a second later", keysA, 2)
	get("again", keysA, 2)
	now = now.Add(500 * time.Millisecond)
	get("a second after the failure", keysA, 3)
	ks.status.Store(200)
	ks.body.Store(keysB)
	now = now.Add(time.Second)
	get("one second into the doubled wait", keysA, 3)
	now = now.Add(time.Second)
	get("back up, two seconds after the second failure", keysB, 4)

	// A second rotation soon after.
	ks.body.Store(keysC)
	now = now.Add(KeyRefetchInterval)
	get("second rotation", keysC, 5)

	// Both throttled stretches lie within one interval: logged once.
	if n := strings.Count(logs.String(), "unknown key id; refetch throttled"); n != 1 {
		t.Errorf("throttling logged %d times, want once per interval:\n%s", n, logs.String())
	}
}
