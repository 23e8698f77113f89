package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// logRecords collects what is logged.
type logRecords struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// lines returns each record as its message and attributes.
func (l *logRecords) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		out = append(out, line)
	}
	return out
}

func newIdentityHeaders(t *testing.T, cfg IdentityConfig) *IdentityHeaders {
	t.Helper()
	ih, err := NewIdentityHeaders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ih
}

func TestStrip(t *testing.T) {
	ih := newIdentityHeaders(t, IdentityConfig{Names: HeaderNames{User: "X-User", Assertion: "X-Signed"}, PassAccessToken: true})
	h := http.Header{}
	// Keys as a handler could have put them, not canonicalised.
	for _, key := range []string{
		"x-forwarded-user", "X_FORWARDED_USER", "X-Forwarded_Email", "x_forwarded_preferred_username", "X-FORWARDED-GROUPS",
		"X-Latchkey-Assertion", "x_latchkey_assertion", "X-User", "x_user", "X-Signed", "x-signed",
		"Authorization", "authorization", "X-Forwarded-Access-Token", "X-Auth-Request-Email", "x_auth_request_user", "REMOTE_USER", "Remote-Groups",
	} {
		h[key] = []string{"mallory"}
	}
	kept := []string{"X-Forwarded-Userx", "X-Forwarded-Use", "X-Forwarded-For", "X-App", "Accept"}
	for _, key := range kept {
		h[key] = []string{"kept"}
	}
	ih.Strip(h)
	var left []string
	for key := range h {
		left = append(left, key)
	}
	slices.Sort(left)
	slices.Sort(kept)
	if !slices.Equal(left, kept) {
		t.Errorf("left %q, want %q", left, kept)
	}
}

func TestSet(t *testing.T) {
	long := strings.Repeat("x", maxValueBytes+1)
	manyGroups := make([]string, 0, 100)
	for i := range 100 {
		manyGroups = append(manyGroups, fmt.Sprintf("group-%03d-%s", i, strings.Repeat("g", 90)))
	}
	tests := []struct {
		name       string
		id         Identity
		passToken  bool
		wantHeader map[string]string // "" means: absent
		wantLogs   int
	}{
		{
			name: "every value",
			id:   Identity{Subject: "ada", Email: "ada@example.com", PreferredUsername: "Ada Lovelace ✓", Groups: []string{"staff", "admins"}},
			wantHeader: map[string]string{
				"X-Forwarded-User": "ada", "X-Forwarded-Email": "ada@example.com",
				"X-Forwarded-Preferred-Username": "Ada Lovelace ✓", "X-Forwarded-Groups": "staff,admins",
			},
		},
		{
			name:       "empty values are not sent",
			id:         Identity{Subject: "ada"},
			wantHeader: map[string]string{"X-Forwarded-User": "ada", "X-Forwarded-Email": "", "X-Forwarded-Groups": ""},
		},
		{
			name:       "CR LF in the subject",
			id:         Identity{Subject: "ada\r\nX-Admin: true", Email: "ada@example.com"},
			wantHeader: map[string]string{"X-Forwarded-User": "", "X-Forwarded-Email": "ada@example.com"},
			wantLogs:   1,
		},
		{
			name:       "NUL in the email",
			id:         Identity{Subject: "ada", Email: "ada@example.com\x00.evil"},
			wantHeader: map[string]string{"X-Forwarded-User": "ada", "X-Forwarded-Email": ""},
			wantLogs:   1,
		},
		{
			name:       "tab",
			id:         Identity{Subject: "ada\tb"},
			wantHeader: map[string]string{"X-Forwarded-User": ""},
			wantLogs:   1,
		},
		{
			name:       "a Unicode line separator",
			id:         Identity{Subject: "ada", PreferredUsername: "ada\u2028x"},
			wantHeader: map[string]string{"X-Forwarded-Preferred-Username": ""},
			wantLogs:   1,
		},
		{
			name:       "a C1 control",
			id:         Identity{Subject: "ada", PreferredUsername: "ada\u0085x"},
			wantHeader: map[string]string{"X-Forwarded-Preferred-Username": ""},
			wantLogs:   1,
		},
		{
			name:       "invalid UTF-8",
			id:         Identity{Subject: "ada\xff"},
			wantHeader: map[string]string{"X-Forwarded-User": ""},
			wantLogs:   1,
		},
		{
			name:       "a leading space, which the app's server would drop",
			id:         Identity{Subject: " admin"},
			wantHeader: map[string]string{"X-Forwarded-User": ""},
			wantLogs:   1,
		},
		{
			name:       "too long",
			id:         Identity{Subject: "ada", Email: long},
			wantHeader: map[string]string{"X-Forwarded-User": "ada", "X-Forwarded-Email": ""},
			wantLogs:   1,
		},
		{
			name:       "a group with a comma",
			id:         Identity{Subject: "ada", Groups: []string{"staff", "admins,root", "dev"}},
			wantHeader: map[string]string{"X-Forwarded-Groups": "staff,dev"},
			wantLogs:   1,
		},
		{
			name:       "a group with a newline",
			id:         Identity{Subject: "ada", Groups: []string{"staff\n", "dev"}},
			wantHeader: map[string]string{"X-Forwarded-Groups": "dev"},
			wantLogs:   1,
		},
		{
			name:       "too many groups",
			id:         Identity{Subject: "ada", Groups: manyGroups},
			wantHeader: map[string]string{"X-Forwarded-User": "ada", "X-Forwarded-Groups": ""},
			wantLogs:   1,
		},
		{
			name:       "the access token",
			id:         Identity{Subject: "ada", AccessToken: "eyJ.abc.def"},
			passToken:  true,
			wantHeader: map[string]string{"Authorization": "Bearer eyJ.abc.def"},
		},
		{
			name:       "an access token with a space",
			id:         Identity{Subject: "ada", AccessToken: "abc def"},
			passToken:  true,
			wantHeader: map[string]string{"Authorization": ""},
			wantLogs:   1,
		},
		{
			name:       "access token not passed",
			id:         Identity{Subject: "ada", AccessToken: "eyJ.abc.def"},
			wantHeader: map[string]string{"Authorization": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecords{}
			ih := newIdentityHeaders(t, IdentityConfig{PassAccessToken: tt.passToken, Log: slog.New(logs)})
			tt.id.SessionKey = "key"
			for range 3 { // the problems are logged once, not per request
				h := http.Header{}
				ih.Set(h, &tt.id)
				for name, want := range tt.wantHeader {
					if got := h.Values(name); (want == "" && len(got) > 0) || (want != "" && !slices.Equal(got, []string{want})) {
						t.Fatalf("%s = %q, want %q", name, got, want)
					}
				}
			}
			if lines := logs.lines(); len(lines) != tt.wantLogs {
				t.Errorf("logged %q, want %d lines", lines, tt.wantLogs)
			}
			for _, line := range logs.lines() {
				if strings.ContainsAny(line, "\r\n\x00") {
					t.Errorf("the log line carries the raw value: %q", line)
				}
			}
		})
	}
}

func TestSetReusesHeaders(t *testing.T) {
	ih := newIdentityHeaders(t, IdentityConfig{})
	id := Identity{SessionKey: "k", Subject: "ada", Email: "ada@example.com", Groups: []string{"staff"}}
	h1, h2 := http.Header{}, http.Header{}
	ih.Set(h1, &id)
	same := id
	same.Groups = []string{"staff"} // an equal identity, loaded again
	ih.Set(h2, &same)
	if &h1["X-Forwarded-User"][0] != &h2["X-Forwarded-User"][0] {
		t.Error("the headers of a session were made twice")
	}
	changed := same
	changed.Groups = []string{"staff", "admins"}
	h3 := http.Header{}
	ih.Set(h3, &changed)
	if got := h3.Get("X-Forwarded-Groups"); got != "staff,admins" {
		t.Errorf("after the groups changed, X-Forwarded-Groups = %q", got)
	}
	// The header values are shared and must not be extended in place.
	if v := h3["X-Forwarded-User"]; cap(v) != len(v) {
		t.Errorf("a shared value slice has room to grow: len %d cap %d", len(v), cap(v))
	}

	h := http.Header{}
	ih.Set(h, &changed)
	if allocs := testing.AllocsPerRun(100, func() { ih.Set(h, &changed) }); allocs != 0 {
		t.Errorf("Set for a known session allocates %v times", allocs)
	}
}

func TestSetCacheBounded(t *testing.T) {
	ih := newIdentityHeaders(t, IdentityConfig{CacheSize: 32})
	for i := range 1000 {
		ih.Set(http.Header{}, &Identity{SessionKey: fmt.Sprint("key-", i), Subject: fmt.Sprint("user-", i)})
	}
	if n := ih.cache.len(); n > 32 {
		t.Errorf("%d sessions kept, want at most 32", n)
	}
}

func TestSetConcurrent(t *testing.T) {
	ih := newIdentityHeaders(t, IdentityConfig{CacheSize: 16})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := &Identity{SessionKey: fmt.Sprint("key-", i%20), Subject: fmt.Sprint("user-", i%20), Groups: []string{fmt.Sprint(g % 2)}}
				h := http.Header{}
				ih.Set(h, id)
				if got := h.Get("X-Forwarded-User"); got != id.Subject {
					t.Errorf("X-Forwarded-User = %q, want %q", got, id.Subject)
					return
				}
				if got := h.Get("X-Forwarded-Groups"); got != id.Groups[0] {
					t.Errorf("X-Forwarded-Groups = %q, want %q", got, id.Groups[0])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewIdentityHeadersRefuses(t *testing.T) {
	d := DefaultHeaderNames()
	tests := []struct {
		name  string
		names HeaderNames
		want  string
	}{
		{name: "space in a name", names: HeaderNames{User: "X User"}, want: "not a valid header name"},
		{name: "colon in a name", names: HeaderNames{User: "X-User:"}, want: "not a valid header name"},
		{name: "the Cookie header", names: HeaderNames{User: "cookie"}, want: "reserved"},
		{name: "the Host header", names: HeaderNames{Email: "Host"}, want: "reserved"},
		{name: "X-Forwarded-For", names: HeaderNames{Groups: "X_Forwarded_For"}, want: "reserved"},
		{name: "the same name twice", names: HeaderNames{User: d.User, Email: "x-forwarded-user"}, want: "twice"},
		{name: "the same name with an underscore", names: HeaderNames{User: "X-Id", Email: "X_Id"}, want: "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIdentityHeaders(IdentityConfig{Names: tt.names})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestSetAllSendsEveryHeader(t *testing.T) {
	ih, err := NewIdentityHeaders(IdentityConfig{PassAccessToken: true})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Forwarded-Groups": {"forged"}}
	ih.SetAll(h, &Identity{Subject: "ada"})
	want := http.Header{
		"X-Forwarded-User":               {"ada"},
		"X-Forwarded-Email":              {""},
		"X-Forwarded-Preferred-Username": {""},
		"X-Forwarded-Groups":             {""},
		"X-Latchkey-Assertion":           {""},
		"Authorization":                  {""},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("SetAll = %v, want %v", h, want)
	}
}
