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
			srv := redistest.Start(t)
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
