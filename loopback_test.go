package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type ctxKey struct{}

func TestLoopback(t *testing.T) {
	origin, _ := url.Parse("http://app.test:3000")
	elsewhere := errors.New("sent elsewhere")
	l := &loopback{origin: origin, next: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, elsewhere })}
	client := &http.Client{Transport: l}

	if _, err := client.Get("http://app.test:3000/before"); !errors.Is(err, elsewhere) {
		t.Fatalf("before a handler is set: %v, want the request sent on", err)
	}
	l.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic(http.ErrAbortHandler)
		case "/created":
			if r.Context().Value(ctxKey{}) != nil {
				t.Error("the handler sees the caller's context values")
			}
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Seen", r.Method+" "+r.RequestURI+" "+r.Host+" "+string(body))
			w.WriteHeader(http.StatusCreated)
			w.Header().Set("X-Too-Late", "yes")
			_, _ = io.WriteString(w, "made")
		}
	}))

	ctx := context.WithValue(context.Background(), ctxKey{}, "caller's")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://app.test:3000/created?x=1", strings.NewReader("form"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || string(body) != "made" || resp.ContentLength != 4 ||
		resp.Header.Get("X-Seen") != "POST /created?x=1 app.test:3000 form" || resp.Header.Get("X-Too-Late") != "" {
		t.Errorf("response: %d %q, length %d, header %v", resp.StatusCode, body, resp.ContentLength, resp.Header)
	}

	if resp, err := client.Get("http://app.test:3000/nothing"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a handler that writes nothing: %v, %v; want 200", resp, err)
	}
	if _, err := client.Get("http://app.test:3000/panic"); err == nil {
		t.Error("a handler that aborts gave a response")
	}
	if _, err := client.Get("https://app.test:3000/created"); !errors.Is(err, elsewhere) {
		t.Errorf("another scheme: %v, want the request sent on", err)
	}
	if _, err := client.Get("http://other.test:3000/created"); !errors.Is(err, elsewhere) {
		t.Errorf("another host: %v, want the request sent on", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
