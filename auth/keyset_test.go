package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
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
			tr := &keySetTransport{next: http.DefaultTransport, url: srv.URL + "/keys", now: func() time.Time { return now }}
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
	client := &http.Client{Transport: &keySetTransport{next: http.DefaultTransport, url: srv.URL + "/keys", now: time.Now}}
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
