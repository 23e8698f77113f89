package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
	"latchkey/auth/oidctest"
	"latchkey/auth/redisstore/redistest"
)

// What the session store holds, seen from outside the program: its bytes.

// storeDump reads every byte a session store holds.
type storeDump func(t *testing.T) string

// storesToDump are the stores that keep sessions outside the process,
// each with the environment that selects it and a way to read its bytes.
func storesToDump() []struct {
	name string
	open func(t *testing.T) (map[string]string, storeDump)
} {
	return []struct {
		name string
		open func(t *testing.T) (map[string]string, storeDump)
	}{
		{"embedded", func(t *testing.T) (map[string]string, storeDump) {
			dir := t.TempDir()
			return map[string]string{"DATA_DIR": dir}, func(t *testing.T) string {
				data, err := os.ReadFile(filepath.Join(dir, "sessions.db"))
				if err != nil {
					t.Fatalf("read the store's file: %v", err)
				}
				return string(data)
			}
		}},
		{"redis", func(t *testing.T) (map[string]string, storeDump) {
			srv := startRedis(t)
			return map[string]string{"SESSION_STORE": srv.URL()}, func(t *testing.T) string {
				return redisDump(t, srv)
			}
		}},
	}
}

// redisDump returns every key and value in srv, sets' members included.
func redisDump(t *testing.T, srv *redistest.Server) string {
	t.Helper()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	var dump strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		dump.WriteString(key + "\n")
		kind, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		switch kind {
		case "string":
			v, err := rdb.Get(ctx, key).Result()
			if err != nil && err != redis.Nil {
				t.Fatalf("GET %s: %v", key, err)
			}
			dump.WriteString(v + "\n")
		case "set":
			members, err := rdb.SMembers(ctx, key).Result()
			if err != nil {
				t.Fatalf("SMEMBERS %s: %v", key, err)
			}
			dump.WriteString(strings.Join(members, "\n") + "\n")
		default:
			t.Fatalf("key %s is a %s, which the dump does not read", key, kind)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return dump.String()
}

// TestStoreHoldsNoToken: a copy of the session store is no set of
// credentials. After a login and after a refresh, no token the provider
// issued, nor the session's CSRF token, is in the store's bytes, while
// the profile is.
func TestStoreHoldsNoToken(t *testing.T) {
	t.Parallel()
	for _, store := range storesToDump() {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			env, dump := store.open(t)
			p, app := startWithProvider(t, env)
			// Access tokens that expire at once: every profile refresh
			// refreshes them first.
			p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: time.Second})
			b := newBrowser(t)
			dash := b.get(app.URL + "/login")
			if dash.url.Path != "/dashboard" {
				t.Fatalf("login should land on the dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
			}
			csrf := dash.doc.Find(`[data-testid="refresh-profile-form"] input[name="csrf"]`).AttrOr("value", "")
			secrets := map[string]string{
				"CSRF token":   csrf,
				"ID token":     p.LastIDToken(),
				"access token": lastBearer(t, p),
			}
			afterLogin := dump(t)

			// The refresh sends the refresh token the login stored.
			refreshed := b.post(app.URL+"/profile/refresh", url.Values{"csrf": {csrf}},
				http.Header{"Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}})
			if refreshed.status != http.StatusOK || refreshed.url.Path != "/dashboard" {
				t.Fatalf("Refresh profile answered %d at %s:\n%s", refreshed.status, refreshed.url, refreshed.body)
			}
			secrets["refresh token"] = lastRefreshToken(t, p)
			afterRefresh := dump(t)
			newSecrets := map[string]string{"refreshed ID token": p.LastIDToken(), "refreshed access token": lastBearer(t, p)}

			for name, secret := range secrets {
				if secret == "" {
					t.Fatalf("no %s to look for", name)
				}
				if strings.Contains(afterLogin, secret) {
					t.Errorf("the store holds the %s after login", name)
				}
				if strings.Contains(afterRefresh, secret) {
					t.Errorf("the store holds the %s after a refresh", name)
				}
			}
			for name, secret := range newSecrets {
				if strings.Contains(afterRefresh, secret) {
					t.Errorf("the store holds the %s", name)
				}
			}
			// The dump reads the right bytes: the profile is stored as is.
			for _, dump := range []string{afterLogin, afterRefresh} {
				if !strings.Contains(dump, oidctest.DefaultEmail) {
					t.Fatalf("the store's bytes lack the user's email: the test reads the wrong bytes")
				}
			}
		})
	}
}

// lastBearer returns the access token of the provider's last userinfo
// request.
func lastBearer(t *testing.T, p *oidctest.Provider) string {
	t.Helper()
	reqs := p.Requests(oidctest.EndpointUserinfo)
	if len(reqs) == 0 {
		t.Fatal("the provider's userinfo was never read")
	}
	token, ok := strings.CutPrefix(reqs[len(reqs)-1].Header.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("userinfo read without a bearer token: %q", reqs[len(reqs)-1].Header.Get("Authorization"))
	}
	return token
}

// lastRefreshToken returns the refresh token of the provider's last
// refresh grant.
func lastRefreshToken(t *testing.T, p *oidctest.Provider) string {
	t.Helper()
	reqs := p.Requests(oidctest.EndpointToken)
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Form.Get("grant_type") == "refresh_token" {
			return reqs[i].Form.Get("refresh_token")
		}
	}
	t.Fatal("the provider received no refresh grant")
	return ""
}

// fixedUserAgent sends every request with its User-Agent.
type fixedUserAgent struct {
	ua   string
	next http.RoundTripper
}

func (f fixedUserAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", f.ua)
	return f.next.RoundTrip(req)
}

// TestSessionsPerUserBounded: however often a user signs in, and whatever
// User-Agent the browser sends, what the store keeps for them is bounded:
// at most auth.MaxSessionsPerUser sessions, the oldest ended first, each
// with at most auth.MaxUserAgent bytes of User-Agent.
func TestSessionsPerUserBounded(t *testing.T) {
	t.Parallel()
	const logins = auth.MaxSessionsPerUser + 8
	const tail = "end-of-a-long-user-agent"
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 " + strings.Repeat("x", 4000) + tail
	for _, store := range storesToDump() {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			env, dump := store.open(t)
			// 40 logins from one client in a moment: more than the
			// per-client limit, which is not what this test is about.
			env["LOGIN_RATE_LIMIT"] = "0"
			_, app := startWithProvider(t, env)
			var cookies []string
			var dash *page
			for range logins {
				b := newBrowser(t)
				b.client.Transport = fixedUserAgent{ua: ua, next: http.DefaultTransport}
				dash = b.get(app.URL + "/login")
				if dash.url.Path != "/dashboard" {
					t.Fatalf("login should land on the dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
				}
				cookies = append(cookies, endSessionCookie(t, b, app))
			}

			rows := dash.doc.Find(`[data-testid="sessions-panel"] [data-testid="session"]`)
			if rows.Length() != auth.MaxSessionsPerUser {
				t.Errorf("after %d logins the sessions panel lists %d sessions, want %d", logins, rows.Length(), auth.MaxSessionsPerUser)
			}
			if name := strings.TrimSpace(rows.First().Find(`[data-testid="session-device"]`).Text()); name != "Firefox on Linux" {
				t.Errorf("the panel names the browser %q, want Firefox on Linux", name)
			}
			for i, cookie := range cookies {
				if ended := endAnonymous(t, app, cookie); ended != (i < logins-auth.MaxSessionsPerUser) {
					t.Errorf("login %d of %d: ended = %v; want only the %d oldest ended", i+1, logins, ended, logins-auth.MaxSessionsPerUser)
				}
			}
			if strings.Contains(dump(t), tail) {
				t.Error("the store keeps the User-Agent beyond its bound")
			}
		})
	}
}
