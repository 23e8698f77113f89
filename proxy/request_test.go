package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Header sets as browsers and tools send them.
const (
	chromeNavigationAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	safariNavigationAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		method string
		header http.Header
		want   Kind
	}{
		{name: "Chrome loading a page", method: "GET", header: header("Accept", chromeNavigationAccept, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"), want: Navigation},
		{name: "Chrome loading an iframe", method: "GET", header: header("Accept", chromeNavigationAccept, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"), want: Navigation},
		{name: "old Chrome nested navigation", method: "GET", header: header("Sec-Fetch-Mode", "nested-navigate"), want: Navigation},
		{name: "a browser without Sec-Fetch headers", method: "GET", header: header("Accept", safariNavigationAccept), want: Navigation},
		{name: "HEAD of a page", method: "HEAD", header: header("Accept", "text/html"), want: Navigation},
		{name: "XHTML", method: "GET", header: header("Accept", "application/xhtml+xml"), want: Navigation},
		{name: "media type in upper case", method: "GET", header: header("Accept", "TEXT/HTML"), want: Navigation},
		{name: "HTML with a low q", method: "GET", header: header("Accept", "text/html;q=0.1"), want: Navigation},
		{name: "HTML refused with q=0", method: "GET", header: header("Accept", "text/html;q=0, */*"), want: Other},
		{name: "HTML refused with q=0.000", method: "GET", header: header("Accept", "text/html; q=0.000"), want: Other},
		{name: "a look-alike media type", method: "GET", header: header("Accept", "text/htmlx"), want: Other},
		{name: "fetch asking for HTML", method: "GET", header: header("Accept", "text/html", "Sec-Fetch-Mode", "cors"), want: Other},
		{name: "fetch with defaults", method: "GET", header: header("Accept", "*/*", "Sec-Fetch-Mode", "same-origin"), want: Other},
		{name: "an image", method: "GET", header: header("Accept", "image/avif,image/webp,*/*", "Sec-Fetch-Mode", "no-cors"), want: Other},
		{name: "curl", method: "GET", header: header("Accept", "*/*"), want: Other},
		{name: "no Accept at all", method: "GET", header: header(), want: Other},
		{name: "JSON API", method: "GET", header: header("Accept", "application/json"), want: Other},
		{name: "htmx", method: "GET", header: header("HX-Request", "true", "Accept", "text/html", "Sec-Fetch-Mode", "cors"), want: HTMX},
		{name: "htmx post", method: "POST", header: header("Hx-Request", "true"), want: HTMX},
		{name: "HX-Request other than true", method: "GET", header: header("HX-Request", "false", "Accept", "text/html"), want: Navigation},
		{name: "CORS preflight", method: "OPTIONS", header: header("Access-Control-Request-Method", "POST", "Origin", "https://other.example"), want: Preflight},
		{name: "OPTIONS without a preflight header", method: "OPTIONS", header: header("Accept", "text/html"), want: Other},
		{name: "a form post navigating", method: "POST", header: header("Accept", chromeNavigationAccept, "Sec-Fetch-Mode", "navigate"), want: Other},
		{name: "DELETE from a script", method: "DELETE", header: header(), want: Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.method, tt.header); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReturnTo(t *testing.T) {
	long := strings.Repeat("a", MaxReturnTo)
	tests := []struct {
		name   string
		method string
		target string
		header http.Header
		want   string
	}{
		{name: "a page comes back to itself", method: "GET", target: "/a/b?x=1&y=%20", header: header("Accept", "text/html"), want: "/a/b?x=1&y=%20"},
		{name: "canonical path", method: "GET", target: "/static/../admin?x", header: header("Accept", "text/html"), want: "/admin?x"},
		{name: "encoded path kept encoded", method: "GET", target: "/caf%C3%A9", header: header("Accept", "text/html"), want: "/caf%C3%A9"},
		{name: "no protocol-relative path", method: "GET", target: "//evil.example/x", header: header("Accept", "text/html"), want: "/evil.example/x"},
		{name: "too long a query is dropped", method: "GET", target: "/p?q=" + long, header: header("Accept", "text/html"), want: "/p"},
		{name: "too long a path goes home", method: "GET", target: "/" + long, header: header("Accept", "text/html"), want: "/"},
		{name: "htmx comes back to its page", method: "GET", target: "/fragment", header: header("HX-Request", "true", "HX-Current-URL", "http://app.test/page?tab=2#top"), want: "/page?tab=2"},
		{name: "htmx page on another host", method: "GET", target: "/fragment", header: header("HX-Request", "true", "HX-Current-URL", "http://evil.example/page"), want: "/"},
		{name: "htmx page that is not a URL", method: "GET", target: "/fragment", header: header("HX-Request", "true", "HX-Current-URL", "javascript:alert(1)"), want: "/"},
		{name: "htmx page with credentials", method: "GET", target: "/fragment", header: header("HX-Request", "true", "HX-Current-URL", "http://u@app.test/page"), want: "/"},
		{name: "htmx page, canonical", method: "GET", target: "/fragment", header: header("HX-Request", "true", "HX-Current-URL", "http://app.test//evil.example/../x"), want: "/x"},
		{name: "htmx without a page", method: "GET", target: "/fragment", header: header("HX-Request", "true"), want: "/"},
		{name: "htmx boosted link comes back to its target", method: "GET", target: "/next?p=2", header: header("HX-Request", "true", "HX-Boosted", "true", "HX-Current-URL", "http://app.test/page"), want: "/next?p=2"},
		{name: "htmx boosted form post comes back to its page", method: "POST", target: "/save", header: header("HX-Request", "true", "HX-Boosted", "true", "HX-Current-URL", "http://app.test/edit"), want: "/edit"},
		{name: "a form post comes back to its page", method: "POST", target: "/save", header: header("Referer", "http://app.test/edit?id=3"), want: "/edit?id=3"},
		{name: "a form post from another site", method: "POST", target: "/save", header: header("Referer", "https://evil.example/edit"), want: "/"},
		{name: "a form post without Referer", method: "POST", target: "/save", header: header(), want: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://app.test"+tt.target, nil)
			r.Header = tt.header
			q, err := ParseRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.ReturnTo(); got != tt.want {
				t.Errorf("ReturnTo() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	const login = "/.latchkey/login?return_to=%2Fpage"
	tests := []struct {
		name         string
		kind         Kind
		noRedirect   bool
		wantStatus   int
		wantLocation string
		wantAuth     bool
		wantHTMX     bool
	}{
		{name: "navigation", kind: Navigation, wantStatus: http.StatusSeeOther, wantLocation: login},
		{name: "navigation behind nginx auth_request", kind: Navigation, noRedirect: true, wantStatus: http.StatusUnauthorized, wantLocation: login, wantAuth: true},
		{name: "htmx", kind: HTMX, wantStatus: http.StatusUnauthorized, wantAuth: true, wantHTMX: true},
		{name: "htmx behind nginx", kind: HTMX, noRedirect: true, wantStatus: http.StatusUnauthorized, wantAuth: true, wantHTMX: true},
		{name: "preflight", kind: Preflight, wantStatus: http.StatusUnauthorized, wantAuth: true},
		{name: "fetch, API or form post", kind: Other, wantStatus: http.StatusUnauthorized, wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &Request{Method: "GET", Kind: tt.kind, CanRedirect: !tt.noRedirect}
			h := http.Header{}
			status := q.Challenge(h, login, "app.test")
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got := h.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			wantAuth := ""
			if tt.wantAuth {
				wantAuth = `Latchkey realm="app.test", login_url="` + login + `"`
			}
			if got := h.Get("WWW-Authenticate"); got != wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantAuth)
			}
			if !tt.wantHTMX {
				if h.Get("HX-Trigger") != "" || h.Get("HX-Redirect") != "" {
					t.Errorf("htmx headers on a %v answer: %v", tt.kind, h)
				}
				return
			}
			if got := h.Get("HX-Redirect"); got != login {
				t.Errorf("HX-Redirect = %q, want %q", got, login)
			}
			var trigger map[string]struct {
				LoginURL string `json:"loginURL"`
			}
			if err := json.Unmarshal([]byte(h.Get("HX-Trigger")), &trigger); err != nil {
				t.Fatalf("HX-Trigger %q: %v", h.Get("HX-Trigger"), err)
			}
			if got := trigger[LoginRequiredEvent].LoginURL; got != login {
				t.Errorf("HX-Trigger %q: loginURL %q, want %q", h.Get("HX-Trigger"), got, login)
			}
		})
	}
}

func TestChallengeQuotes(t *testing.T) {
	q := &Request{Kind: Other}
	h := http.Header{}
	q.Challenge(h, `/login?x="y"`, "a\"b\\c\r\n")
	want := `Latchkey realm="a\"b\\c", login_url="/login?x=\"y\""`
	if got := h.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %s, want %s", got, want)
	}
	h = http.Header{}
	q.Challenge(h, "/login", "")
	if got := h.Get("WWW-Authenticate"); got != `Latchkey realm="latchkey", login_url="/login"` {
		t.Errorf("default realm: %s", got)
	}
}

func TestWriteChallenge(t *testing.T) {
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			q := &Request{Method: method, Kind: Other, CanRedirect: true}
			q.WriteChallenge(rec, "/login", "")
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			wantBody := "Sign in required: /login\n"
			if method == "HEAD" {
				wantBody = ""
			}
			if rec.Body.String() != wantBody {
				t.Errorf("body %q, want %q", rec.Body.String(), wantBody)
			}
		})
	}
}

func TestParseRequestRefuses(t *testing.T) {
	r := httptest.NewRequest("GET", "/static%2f..%2fadmin", nil)
	if _, err := ParseRequest(r); err == nil {
		t.Fatal("an encoded slash was accepted")
	}
}
