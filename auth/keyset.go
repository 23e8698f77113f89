package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeyRefetchInterval is the shortest time between two fetches of the
// provider's keys made because a token named a key not seen before: a
// flood of tokens with made-up key ids costs the provider one request per
// interval, not one each, while a real key rotation is picked up within
// seconds, twice in a row if need be.
const KeyRefetchInterval = 5 * time.Second

// Refetches that fail are tried again after a delay that doubles from
// keyRetryMin to keyRetryMax, so a short outage of the key endpoint
// delays logins by seconds, and a long one costs it little.
const (
	keyRetryMin = time.Second
	keyRetryMax = 30 * time.Second
)

// keySetTransport stands between the relying party and the provider's
// JWKS endpoint. The relying party fetches the keys once and again only
// for an unknown key id; this spaces those refetches by KeyRefetchInterval
// (backing off while they fail), and keeps serving the last good key set
// when the endpoint fails or answers something that is not one.
type keySetTransport struct {
	next http.RoundTripper
	url  string
	now  func() time.Time
	log  *slog.Logger

	mu          sync.Mutex
	keys        []byte    // the last good key set
	contentType string    // its Content-Type
	nextFetch   time.Time // no refetch before this
	failures    int       // refetches failed in a row
	loggedAt    time.Time // when throttling was last logged
}

func (t *keySetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.String() != t.url {
		return t.next.RoundTrip(req)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if now.Before(t.nextFetch) {
		if now.Sub(t.loggedAt) >= KeyRefetchInterval {
			t.loggedAt = now
			t.log.Warn("unknown key id; refetch throttled", "jwks_uri", t.url, "next_refetch_in", t.nextFetch.Sub(now).Round(time.Millisecond))
		}
		if t.keys == nil {
			return nil, fmt.Errorf("fetch keys: failed %d times; next attempt in %v", t.failures, t.nextFetch.Sub(now).Round(time.Millisecond))
		}
		return t.cached(req), nil
	}
	fresh, contentType, err := t.fetch(req)
	if err != nil {
		t.failures++
		t.nextFetch = now.Add(min(keyRetryMin<<min(t.failures-1, 8), keyRetryMax))
		t.log.Warn("fetch keys failed; keeping the last good keys", "jwks_uri", t.url, "err", err, "failures", t.failures)
		if t.keys == nil {
			return nil, err
		}
		return t.cached(req), nil
	}
	if t.keys != nil {
		// A refetch: the next one waits. The first fetch sets no wait, so
		// a key rotated just after it is picked up at once.
		t.nextFetch = now.Add(KeyRefetchInterval)
	}
	t.failures = 0
	t.keys, t.contentType = fresh, contentType
	return t.cached(req), nil
}

// fetch reads the key set from the provider and checks that it is one.
func (t *keySetTransport) fetch(req *http.Request) ([]byte, string, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch keys: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("fetch keys: %w", err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
		return nil, "", fmt.Errorf("fetch keys: not a key set")
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// published returns the keys of the last good key set; with refetch it
// asks for the key set first, which the provider is asked for only when
// the throttle allows.
func (t *keySetTransport) published(ctx context.Context, refetch bool) ([]jose.JSONWebKey, error) {
	var body []byte
	if refetch {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch keys: %w", err)
		}
		resp, err := t.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			return nil, fmt.Errorf("fetch keys: %w", err)
		}
	} else {
		t.mu.Lock()
		body = t.keys
		t.mu.Unlock()
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		// Keys of a type go-jose does not know are of no use here.
		var k jose.JSONWebKey
		if k.UnmarshalJSON(raw) == nil && k.Valid() && k.IsPublic() {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (t *keySetTransport) cached(req *http.Request) *http.Response {
	header := http.Header{}
	if t.contentType != "" {
		header.Set("Content-Type", t.contentType)
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(t.keys)),
		ContentLength: int64(len(t.keys)),
		Request:       req,
	}
}
