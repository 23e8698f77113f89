package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// KeyRefetchInterval is the shortest time between two fetches of the
// provider's keys made because a token named a key not seen before: a
// flood of tokens with made-up key ids costs the provider one request per
// interval, not one each.
const KeyRefetchInterval = time.Minute

// keySetTransport stands between the relying party and the provider's
// JWKS endpoint. The relying party fetches the keys once and again only
// for an unknown key id; this limits those refetches to one per
// KeyRefetchInterval, and keeps serving the last good key set when the
// endpoint fails or answers something that is not one.
type keySetTransport struct {
	next http.RoundTripper
	url  string
	now  func() time.Time

	mu          sync.Mutex
	keys        []byte    // the last good key set
	contentType string    // its Content-Type
	refetched   time.Time // when keys were last fetched again
}

func (t *keySetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.String() != t.url {
		return t.next.RoundTrip(req)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.keys != nil && now.Sub(t.refetched) < KeyRefetchInterval {
		return t.cached(req), nil
	}
	fresh, contentType, err := t.fetch(req)
	if err != nil {
		if t.keys == nil {
			return nil, err
		}
		t.refetched = now // keep using the old keys until the next interval
		return t.cached(req), nil
	}
	if t.keys != nil {
		t.refetched = now
	}
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
