package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"latchkey/proxy"
)

// The settings of latchkey in front of an app.

func TestFrontSettings(t *testing.T) {
	// What openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 writes.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "assertion-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, cfg *config)
	}{
		{
			name: "no upstream: latchkey at the root, as ever",
			env:  map[string]string{},
			check: func(t *testing.T, cfg *config) {
				if cfg.front() || cfg.prefix != "" || cfg.upstream != nil {
					t.Errorf("front %v, prefix %q, upstream %v", cfg.front(), cfg.prefix, cfg.upstream)
				}
			},
		},
		{
			name: "an upstream puts latchkey's routes under /.latchkey",
			env:  map[string]string{"UPSTREAM": "http://127.0.0.1:8080"},
			check: func(t *testing.T, cfg *config) {
				if cfg.upstream.String() != "http://127.0.0.1:8080" || cfg.prefix != "/.latchkey" {
					t.Errorf("upstream %v, prefix %q", cfg.upstream, cfg.prefix)
				}
				if !cfg.passHostHeader || cfg.passAccessToken || cfg.groupsClaim != "groups" {
					t.Errorf("pass host %v, pass token %v, groups claim %q", cfg.passHostHeader, cfg.passAccessToken, cfg.groupsClaim)
				}
				if cfg.identityHeaders != proxy.DefaultHeaderNames() {
					t.Errorf("identity headers = %+v, want oauth2-proxy's", cfg.identityHeaders)
				}
				if !cfg.devIdP || !cfg.loopbackOnly {
					t.Error("the development provider should work in front of an app too")
				}
			},
		},
		{
			name: "every front setting",
			env: map[string]string{
				"UPSTREAM":              "unix:/run/app.sock:/base",
				"PROXY_PREFIX":          "/_auth/",
				"PUBLIC_PATHS":          "/static/*, /favicon.ico,,",
				"ALLOWED_EMAILS":        "ada@example.com",
				"ALLOWED_EMAIL_DOMAINS": "example.org, example.net",
				"ALLOWED_GROUPS":        "staff",
				"GROUPS_CLAIM":          "realm_access.roles",
				"PASS_ACCESS_TOKEN":     "yes",
				"PASS_HOST_HEADER":      "off",
				"IDENTITY_HEADERS":      "user=Remote-User, groups=none",
				"ASSERTION_KEY_FILE":    keyFile,
				"ASSERTION_AUDIENCE":    "https://app.internal",
			},
			check: func(t *testing.T, cfg *config) {
				if cfg.upstream.Socket != "/run/app.sock" || cfg.prefix != "/_auth" {
					t.Errorf("upstream %v, prefix %q", cfg.upstream, cfg.prefix)
				}
				if got := cfg.publicPaths.Patterns(); !slices.Equal(got, []string{"/static/*", "/favicon.ico"}) {
					t.Errorf("public paths = %q", got)
				}
				want := proxy.PolicyConfig{Emails: []string{"ada@example.com"}, EmailDomains: []string{"example.org", "example.net"}, Groups: []string{"staff"}}
				if !slices.Equal(cfg.allowed.Emails, want.Emails) || !slices.Equal(cfg.allowed.EmailDomains, want.EmailDomains) || !slices.Equal(cfg.allowed.Groups, want.Groups) {
					t.Errorf("allowed = %+v", cfg.allowed)
				}
				if cfg.groupsClaim != "realm_access.roles" || !cfg.passAccessToken || cfg.passHostHeader {
					t.Errorf("groups claim %q, pass token %v, pass host %v", cfg.groupsClaim, cfg.passAccessToken, cfg.passHostHeader)
				}
				names := proxy.DefaultHeaderNames()
				names.User, names.Groups = "Remote-User", ""
				if cfg.identityHeaders != names {
					t.Errorf("identity headers = %+v, want %+v", cfg.identityHeaders, names)
				}
				if len(cfg.assertionKeys) != 1 || cfg.assertionAudience != "https://app.internal" {
					t.Errorf("%d assertion keys, audience %q", len(cfg.assertionKeys), cfg.assertionAudience)
				}
			},
		},
		{
			name: "a prefix alone is forward auth",
			env:  map[string]string{"PROXY_PREFIX": "/.latchkey", "ALLOWED_GROUPS": "staff"},
			check: func(t *testing.T, cfg *config) {
				if !cfg.front() || cfg.upstream != nil || cfg.prefix != "/.latchkey" {
					t.Errorf("front %v, upstream %v, prefix %q", cfg.front(), cfg.upstream, cfg.prefix)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig([]string{"latchkey", "--env-file="}, tt.env, &bytes.Buffer{})
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestFrontSettingErrors(t *testing.T) {
	notAKey := filepath.Join(t.TempDir(), "not-a-key.pem")
	if err := os.WriteFile(notAKey, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := map[string]string{"UPSTREAM": "http://127.0.0.1:8080"}
	tests := []struct {
		name string
		env  map[string]string
		want []string // what each problem says, in order
	}{
		{name: "an upstream without a scheme", env: map[string]string{"UPSTREAM": "127.0.0.1:8080"}, want: []string{`UPSTREAM: upstream "127.0.0.1:8080" has no scheme: write http://127.0.0.1:8080`}},
		{name: "an upstream that is latchkey itself", env: map[string]string{"UPSTREAM": "http://localhost:3000"}, want: []string{"UPSTREAM: http://localhost:3000 is latchkey itself"}},
		{name: "an upstream on another port", env: map[string]string{"UPSTREAM": "http://localhost:3000", "PORT": "4000"}},
		{name: "the root as prefix", env: changed(upstream, map[string]string{"PROXY_PREFIX": "/"}), want: []string{`PROXY_PREFIX: "/": latchkey's routes need a path of their own`}},
		{name: "a prefix with dot segments", env: changed(upstream, map[string]string{"PROXY_PREFIX": "/a/../b"}), want: []string{`PROXY_PREFIX: "/a/../b" must be a plain path`}},
		{name: "a prefix without a slash", env: changed(upstream, map[string]string{"PROXY_PREFIX": "auth"}), want: []string{`PROXY_PREFIX: "auth" must start with /`}},
		{name: "a public path without a slash", env: changed(upstream, map[string]string{"PUBLIC_PATHS": "/ok,static/*"}), want: []string{`PUBLIC_PATHS: public path "static/*" must start with /`}},
		{name: "public paths without an upstream", env: map[string]string{"PUBLIC_PATHS": "/static/*"}, want: []string{"PUBLIC_PATHS: applies to the requests latchkey proxies: set UPSTREAM"}},
		{name: "public paths with forward auth", env: map[string]string{"PROXY_PREFIX": "/.latchkey", "PUBLIC_PATHS": "/static/*"}, want: []string{"PUBLIC_PATHS: applies to the requests latchkey proxies, with UPSTREAM; with forward auth, the front server's configuration"}},
		{name: "an allow-list without an app", env: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.com"}, want: []string{"ALLOWED_EMAIL_DOMAINS: applies only in front of an app"}},
		{name: "a bad address", env: changed(upstream, map[string]string{"ALLOWED_EMAILS": "ada"}), want: []string{`ALLOWED_EMAILS: allowed email "ada" is not an email address`}},
		{name: "a domain with @", env: changed(upstream, map[string]string{"ALLOWED_EMAIL_DOMAINS": "@example.com"}), want: []string{`ALLOWED_EMAIL_DOMAINS: allowed email domain "@example.com": write the domain without @`}},
		{name: "a wildcard domain", env: changed(upstream, map[string]string{"ALLOWED_EMAIL_DOMAINS": "*.example.com"}), want: []string{"ALLOWED_EMAIL_DOMAINS: allowed email domain \"*.example.com\": wildcards are not supported"}},
		{name: "not a boolean", env: changed(upstream, map[string]string{"PASS_ACCESS_TOKEN": "maybe"}), want: []string{`PASS_ACCESS_TOKEN: "maybe" is not true or false`}},
		{name: "an unknown header key", env: changed(upstream, map[string]string{"IDENTITY_HEADERS": "name=X-Name"}), want: []string{`IDENTITY_HEADERS: "name=X-Name" is not key=Header-Name`}},
		{name: "no user header", env: changed(upstream, map[string]string{"IDENTITY_HEADERS": "user=none"}), want: []string{"IDENTITY_HEADERS: the user header cannot be turned off"}},
		{name: "no assertion header", env: changed(upstream, map[string]string{"IDENTITY_HEADERS": "assertion=none"})},
		{name: "a reserved header", env: changed(upstream, map[string]string{"IDENTITY_HEADERS": "email=Cookie"}), want: []string{`IDENTITY_HEADERS: header name "Cookie" is reserved`}},
		{name: "a missing key file", env: changed(upstream, map[string]string{"ASSERTION_KEY_FILE": "/no/such/key.pem"}), want: []string{"ASSERTION_KEY_FILE: read the key file: open /no/such/key.pem"}},
		{name: "a file that holds no key", env: changed(upstream, map[string]string{"ASSERTION_KEY_FILE": notAKey}), want: []string{"ASSERTION_KEY_FILE: " + notAKey + ": no PEM private key found"}},
		{name: "a pass-host setting without an upstream", env: map[string]string{"PASS_HOST_HEADER": "false"}, want: []string{"PASS_HOST_HEADER: applies to the requests latchkey proxies"}},
		{name: "a misspelt upstream", env: map[string]string{"UPSTREAM_URL": "http://127.0.0.1:8080"}, want: []string{"UPSTREAM_URL: not a latchkey setting; did you mean UPSTREAM?"}},
		{name: "a misspelt allow-list", env: map[string]string{"ALLOWED_EMAIL": "ada@example.com"}, want: []string{"ALLOWED_EMAIL: not a latchkey setting; did you mean ALLOWED_EMAILS?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig([]string{"latchkey", "--env-file="}, tt.env, &bytes.Buffer{})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				return
			}
			var cfgErr *configError
			if !errors.As(err, &cfgErr) {
				t.Fatalf("loadConfig = %+v, %v; want a configuration error", cfg, err)
			}
			if len(cfgErr.problems) != len(tt.want) {
				t.Fatalf("problems %q, want %d", cfgErr.problems, len(tt.want))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(cfgErr.problems[i], want) {
					t.Errorf("problem %q, want it to start %q", cfgErr.problems[i], want)
				}
			}
		})
	}
}

// TestHelpPrintsTheURLsToRegister: --help ends with the URLs to register
// at the provider, for the settings given.
func TestHelpPrintsTheURLsToRegister(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{name: "latchkey alone", want: []string{
			"redirect (callback) URL:    http://localhost:3000/callback\n",
			"post-logout redirect URL:   http://localhost:3000/\n",
			"back-channel logout URL:    http://localhost:3000/backchannel-logout\n",
		}},
		{name: "in front of an app", env: map[string]string{"UPSTREAM": "http://127.0.0.1:8080", "BASE_URL": "https://app.example.com"}, want: []string{
			"(BASE_URL https://app.example.com, in front of http://127.0.0.1:8080)",
			"redirect (callback) URL:    https://app.example.com/.latchkey/callback\n",
			"post-logout redirect URL:   https://app.example.com/.latchkey/\n",
			"back-channel logout URL:    https://app.example.com/.latchkey/backchannel-logout\n",
		}},
		{name: "forward auth, with flags", args: []string{"--proxy-prefix=/auth", "--port=8000"}, want: []string{
			"answering a front server's forward auth",
			"redirect (callback) URL:    http://localhost:8000/auth/callback\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			args := append(append([]string{"latchkey", "--env-file="}, tt.args...), "--help")
			if _, err := loadConfig(args, tt.env, &stdout); !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error = %v, want flag.ErrHelp", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("--help lacks %q:\n%s", want, stdout.String()[max(0, stdout.Len()-600):])
				}
			}
		})
	}
}
