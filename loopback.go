package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"latchkey/handlers"
)

// loopback answers the requests this process makes to its own BASE_URL —
// the relying party calling the built-in provider, the provider delivering
// logout tokens — with the app's handler, in this process: no socket, no
// HTTP framing, no connection to keep. It is used only with the built-in
// development provider. Other requests, and any made before the handler is
// set, go to next.
type loopback struct {
	origin  *url.URL // BASE_URL: scheme and host are compared
	next    http.RoundTripper
	handler atomic.Pointer[http.Handler]
}

// serve makes h answer from now on.
func (l *loopback) serve(h http.Handler) { l.handler.Store(&h) }

func (l *loopback) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	h := l.handler.Load()
	if h == nil || req.URL.Scheme != l.origin.Scheme || req.URL.Host != l.origin.Host {
		return l.next.RoundTrip(req)
	}
	// The handler sees the request as a server would have read it: with
	// none of the caller's context values (its route, its session), only
	// its cancellation and deadline.
	ctx, cancel := context.WithCancel(handlers.InProcess(context.Background()))
	defer cancel()
	defer context.AfterFunc(req.Context(), cancel)()
	in := req.Clone(ctx)
	in.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.Proto, in.ProtoMajor, in.ProtoMinor = "HTTP/1.1", 1, 1
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	defer in.Body.Close()
	w := &recordedResponse{header: make(http.Header)}
	defer func() {
		// A handler that aborts (http.ErrAbortHandler) or panics fails
		// this request only, as a dropped connection would.
		if v := recover(); v != nil {
			resp, err = nil, fmt.Errorf("%s %s: handler panicked: %v", req.Method, req.URL.Path, v)
		}
	}()
	(*h).ServeHTTP(w, in)
	return w.response(req), nil
}

// recordedResponse is a response written by the handler, kept in memory.
type recordedResponse struct {
	header http.Header
	sent   http.Header // header as it was when the status was written
	status int
	body   bytes.Buffer
}

func (w *recordedResponse) Header() http.Header { return w.header }

func (w *recordedResponse) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *recordedResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

func (w *recordedResponse) response(req *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
	w.sent.Set("Content-Length", strconv.Itoa(w.body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}
}
