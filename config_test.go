package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
)

// Two secrets as openssl rand -base64 24 makes them.
const (
	goodSecret  = "EuPJdIjXQhCMfMv/V+VpjpXEPDPZzVBq"
	otherSecret = "ojg+gorSvEgdEdbkOfsShBCYAuhhlxWi"
)

// writeDotenv writes a .env file and returns its path.
func writeDotenv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write .env: %v", err)
	}
	return path
}

// problemsOf returns the settings a configuration error names.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var cfgErr *configError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error = %v (%T), want a *configError", err, err)
	}
	var names []string
	for _, p := range cfgErr.problems {
		name, _, _ := strings.Cut(p, ":")
		names = append(names, name)
	}
	return names
}

func TestLoadConfigValues(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		dotenv string // written to a file passed as --env-file when set
		args   []string
		check  func(t *testing.T, cfg *config)
	}{
		{
			name: "defaults: development provider, no secret needed",
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 3000 || cfg.host != "" || cfg.baseURL != nil {
					t.Errorf("listen = %q:%d base %v, want :3000 and no base URL", cfg.host, cfg.port, cfg.baseURL)
				}
				if !slices.Equal(cfg.scopes, []string{"openid", "profile", "email"}) {
					t.Errorf("scopes = %q", cfg.scopes)
				}
				if cfg.issuer != "" || cfg.clientID != "" || len(cfg.sessionSecrets) != 0 {
					t.Errorf("issuer %q, client %q, secrets %d: want the development provider", cfg.issuer, cfg.clientID, len(cfg.sessionSecrets))
				}
				if cfg.sessionMaxAge != 24*time.Hour || cfg.providerTimeout != 10*time.Second || cfg.logLevel != slog.LevelInfo {
					t.Errorf("max age %v, timeout %v, log level %v", cfg.sessionMaxAge, cfg.providerTimeout, cfg.logLevel)
				}
			},
		},
		{
			name: "environment",
			env: map[string]string{
				"PORT": "8080", "HOST": "127.0.0.1", "BASE_URL": "https://app.example.com/",
				"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid", "OIDC_CLIENT_SECRET": "csecret",
				"OIDC_SCOPES": "openid,email", "SESSION_SECRET": goodSecret + ", " + otherSecret,
				"SESSION_MAX_AGE": "2h", "PROVIDER_TIMEOUT": "3s", "LOG_LEVEL": "debug",
				"OIDC_TOKEN_AUTH_METHOD": "client_secret_post",
			},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 8080 || cfg.host != "127.0.0.1" || cfg.baseURL.String() != "https://app.example.com" {
					t.Errorf("listen = %q:%d base %v", cfg.host, cfg.port, cfg.baseURL)
				}
				if cfg.issuer != "https://id.example.com" || cfg.clientID != "cid" || cfg.clientSecret != "csecret" || cfg.tokenAuthMethod != "client_secret_post" {
					t.Errorf("provider = %q %q %q %q", cfg.issuer, cfg.clientID, cfg.clientSecret, cfg.tokenAuthMethod)
				}
				if !slices.Equal(cfg.scopes, []string{"openid", "email"}) {
					t.Errorf("scopes = %q", cfg.scopes)
				}
				if !slices.Equal(cfg.sessionSecrets, []string{goodSecret, otherSecret}) {
					t.Errorf("secrets = %q, want both, newest first", cfg.sessionSecrets)
				}
				if cfg.sessionMaxAge != 2*time.Hour || cfg.providerTimeout != 3*time.Second || cfg.logLevel != slog.LevelDebug {
					t.Errorf("max age %v, timeout %v, log level %v", cfg.sessionMaxAge, cfg.providerTimeout, cfg.logLevel)
				}
			},
		},
		{
			name: "a client key implies private_key_jwt",
			env: map[string]string{
				"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid", "SESSION_SECRET": goodSecret,
				"OIDC_CLIENT_KEY_FILE": clientKeyFile, "OIDC_CLIENT_KEY_ID": "k1",
			},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.clientKey == nil || cfg.clientKeyID != "k1" || cfg.clientSecret != "" {
					t.Errorf("client key %T, kid %q, secret %q; want the key, k1 and no secret", cfg.clientKey, cfg.clientKeyID, cfg.clientSecret)
				}
			},
		},
		{
			name: "flags override the environment",
			env:  map[string]string{"PORT": "4000", "OIDC_SCOPES": "openid"},
			args: []string{"--env-file=", "--port=5000", "--oidc-scopes", "openid profile"},
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 5000 || !slices.Equal(cfg.scopes, []string{"openid", "profile"}) {
					t.Errorf("port %d scopes %q, want the flags' 5000 and openid profile", cfg.port, cfg.scopes)
				}
			},
		},
		{
			name:   "a .env file fills in what the environment leaves out",
			dotenv: "PORT=4000\nOIDC_SCOPES=openid email\n",
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 4000 || !slices.Equal(cfg.scopes, []string{"openid", "email"}) {
					t.Errorf("port %d scopes %q, want .env's 4000 and openid email", cfg.port, cfg.scopes)
				}
			},
		},
		{
			name:   "the environment overrides .env",
			env:    map[string]string{"PORT": "5000"},
			dotenv: "PORT=4000\nLOG_LEVEL=warn\n",
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 5000 || cfg.logLevel != slog.LevelWarn {
					t.Errorf("port %d level %v, want the environment's 5000 and .env's warn", cfg.port, cfg.logLevel)
				}
			},
		},
		{
			name:   "flags override .env",
			dotenv: "PORT=4000\n",
			args:   []string{"--port=0"},
			check: func(t *testing.T, cfg *config) {
				if cfg.port != 0 {
					t.Errorf("port %d, want the flag's 0", cfg.port)
				}
			},
		},
		{
			name:   "a .env file configures a real provider",
			dotenv: "OIDC_ISSUER=https://id.example.com\nOIDC_CLIENT_ID=cid\nSESSION_SECRET=" + goodSecret + "\n",
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "https://id.example.com" || cfg.clientID != "cid" || !slices.Equal(cfg.sessionSecrets, []string{goodSecret}) {
					t.Errorf("issuer %q client %q secrets %q", cfg.issuer, cfg.clientID, cfg.sessionSecrets)
				}
			},
		},
		{
			name: "Auth0 names",
			env: map[string]string{
				"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_CLIENT_ID": "a0id", "AUTH0_CLIENT_SECRET": "a0secret",
				"APP_SECRET_KEY": goodSecret,
			},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "https://tenant.eu.auth0.com/" {
					t.Errorf("issuer = %q, want https://tenant.eu.auth0.com/", cfg.issuer)
				}
				if cfg.clientID != "a0id" || cfg.clientSecret != "a0secret" || !slices.Equal(cfg.sessionSecrets, []string{goodSecret}) {
					t.Errorf("client %q %q secrets %q", cfg.clientID, cfg.clientSecret, cfg.sessionSecrets)
				}
			},
		},
		{
			name: "Auth0 domain written as a URL",
			env:  map[string]string{"AUTH0_DOMAIN": "https://tenant.eu.auth0.com/", "AUTH0_CLIENT_ID": "a0id", "APP_SECRET_KEY": goodSecret},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "https://tenant.eu.auth0.com/" {
					t.Errorf("issuer = %q, want https://tenant.eu.auth0.com/", cfg.issuer)
				}
			},
		},
		{
			name: "OIDC names win over Auth0 names",
			env: map[string]string{
				"OIDC_ISSUER": "https://id.example.com", "AUTH0_DOMAIN": "tenant.eu.auth0.com",
				"OIDC_CLIENT_ID": "cid", "AUTH0_CLIENT_ID": "a0id",
				"SESSION_SECRET": goodSecret, "APP_SECRET_KEY": otherSecret,
			},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "https://id.example.com" || cfg.clientID != "cid" || !slices.Equal(cfg.sessionSecrets, []string{goodSecret}) {
					t.Errorf("issuer %q client %q secrets %q", cfg.issuer, cfg.clientID, cfg.sessionSecrets)
				}
			},
		},
		{
			name:   "the environment beats .env whatever name each uses",
			env:    map[string]string{"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_CLIENT_ID": "a0id", "APP_SECRET_KEY": goodSecret},
			dotenv: "OIDC_ISSUER=https://id.example.com\nOIDC_CLIENT_ID=cid\n",
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "https://tenant.eu.auth0.com/" || cfg.clientID != "a0id" {
					t.Errorf("issuer %q client %q, want the environment's Auth0 tenant and a0id", cfg.issuer, cfg.clientID)
				}
			},
		},
		{
			name: "http issuer on loopback",
			env:  map[string]string{"OIDC_ISSUER": "http://127.0.0.1:9000", "OIDC_CLIENT_ID": "cid", "SESSION_SECRET": goodSecret},
			args: []string{"--env-file="},
			check: func(t *testing.T, cfg *config) {
				if cfg.issuer != "http://127.0.0.1:9000" {
					t.Errorf("issuer = %q", cfg.issuer)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"latchkey"}, tt.args...)
			if tt.dotenv != "" {
				args = append(args, "--env-file="+writeDotenv(t, tt.dotenv))
			}
			var stdout bytes.Buffer
			cfg, err := loadConfig(args, tt.env, &stdout)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("loadConfig printed %q", stdout.String())
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadConfigWithoutDotenvInWorkingDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		name string
		args []string
	}{
		{name: "default .env missing is fine", args: []string{"latchkey"}},
		{name: "no env file at all", args: []string{"latchkey", "--env-file="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.args, nil, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.port != 3000 {
				t.Errorf("port = %d, want 3000", cfg.port)
			}
		})
	}
}

// clientKeyFile is a private key in PEM, for the private_key_jwt settings.
const clientKeyFile = "auth/oidctest/testdata/rsa-2048-1.pem"

func TestLoadConfigErrors(t *testing.T) {
	provider := map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid", "SESSION_SECRET": goodSecret}
	missingEnvFile := filepath.Join(t.TempDir(), "missing.env")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // the settings the error names, in order
	}{
		{name: "real provider without a session secret", env: changed(provider, map[string]string{"SESSION_SECRET": ""}), want: []string{"SESSION_SECRET"}},
		{name: "short session secret", env: changed(provider, map[string]string{"SESSION_SECRET": "too-short"}), want: []string{"SESSION_SECRET"}},
		{name: "short second session secret", env: changed(provider, map[string]string{"SESSION_SECRET": goodSecret + ",short"}), want: []string{"SESSION_SECRET"}},
		{name: "session secret of separators only", env: changed(provider, map[string]string{"SESSION_SECRET": " , "}), want: []string{"SESSION_SECRET"}},
		{name: "short secret in development too", env: map[string]string{"SESSION_SECRET": "short"}, want: []string{"SESSION_SECRET"}},
		{name: "short secret under its Auth0 name", env: map[string]string{"APP_SECRET_KEY": "short"}, want: []string{"APP_SECRET_KEY"}},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, want: []string{"PORT"}},
		{name: "port out of range", env: map[string]string{"PORT": "70000"}, want: []string{"PORT"}},
		{name: "negative port", env: map[string]string{"PORT": "-1"}, want: []string{"PORT"}},
		{name: "bad port flag", args: []string{"--port=abc"}, want: []string{"--port"}},
		{name: "base URL with a path", env: map[string]string{"BASE_URL": "https://app.example.com/app"}, want: []string{"BASE_URL"}},
		{name: "base URL with an ftp scheme", env: map[string]string{"BASE_URL": "ftp://app.example.com"}, want: []string{"BASE_URL"}},
		{name: "base URL without a host", env: map[string]string{"BASE_URL": "app.example.com"}, want: []string{"BASE_URL"}},
		{name: "base URL with a query", env: map[string]string{"BASE_URL": "https://app.example.com?x=1"}, want: []string{"BASE_URL"}},
		{name: "http issuer on a public host", env: changed(provider, map[string]string{"OIDC_ISSUER": "http://id.example.com"}), want: []string{"OIDC_ISSUER"}},
		{name: "issuer without a scheme", env: changed(provider, map[string]string{"OIDC_ISSUER": "id.example.com"}), want: []string{"OIDC_ISSUER"}},
		{name: "issuer without a client id", env: changed(provider, map[string]string{"OIDC_CLIENT_ID": ""}), want: []string{"OIDC_CLIENT_ID"}},
		{name: "client id without an issuer", env: map[string]string{"OIDC_CLIENT_ID": "cid"}, want: []string{"OIDC_ISSUER"}},
		{name: "unknown token auth method", env: changed(provider, map[string]string{"OIDC_TOKEN_AUTH_METHOD": "client_secret_jwt"}), want: []string{"OIDC_TOKEN_AUTH_METHOD"}},
		{name: "secret method without a secret", env: changed(provider, map[string]string{"OIDC_TOKEN_AUTH_METHOD": "client_secret_post"}), want: []string{"OIDC_TOKEN_AUTH_METHOD"}},
		{name: "no method with a secret", env: changed(provider, map[string]string{"OIDC_TOKEN_AUTH_METHOD": "none", "OIDC_CLIENT_SECRET": "s3cret"}), want: []string{"OIDC_TOKEN_AUTH_METHOD"}},
		{name: "token auth method without an issuer", env: map[string]string{"OIDC_TOKEN_AUTH_METHOD": "none"}, want: []string{"OIDC_ISSUER"}},
		{name: "private_key_jwt without a key file", env: changed(provider, map[string]string{"OIDC_TOKEN_AUTH_METHOD": "private_key_jwt"}), want: []string{"OIDC_TOKEN_AUTH_METHOD"}},
		{name: "client key with a secret", env: changed(provider, map[string]string{"OIDC_CLIENT_KEY_FILE": clientKeyFile, "OIDC_CLIENT_SECRET": "s3cret"}), want: []string{"OIDC_CLIENT_SECRET"}},
		{name: "client key with a secret method", env: changed(provider, map[string]string{"OIDC_CLIENT_KEY_FILE": clientKeyFile, "OIDC_CLIENT_SECRET": "s3cret", "OIDC_TOKEN_AUTH_METHOD": "client_secret_basic"}), want: []string{"OIDC_CLIENT_KEY_FILE"}},
		{name: "client key file missing", env: changed(provider, map[string]string{"OIDC_CLIENT_KEY_FILE": missingEnvFile}), want: []string{"OIDC_CLIENT_KEY_FILE"}},
		{name: "client key file not a key", env: changed(provider, map[string]string{"OIDC_CLIENT_KEY_FILE": "go.mod"}), want: []string{"OIDC_CLIENT_KEY_FILE"}},
		{name: "client key id without a key", env: changed(provider, map[string]string{"OIDC_CLIENT_KEY_ID": "k1", "OIDC_CLIENT_SECRET": "s3cret"}), want: []string{"OIDC_CLIENT_KEY_ID"}},
		{name: "zero session lifetime", env: map[string]string{"SESSION_MAX_AGE": "0s"}, want: []string{"SESSION_MAX_AGE"}},
		{name: "provider timeout not a duration", env: map[string]string{"PROVIDER_TIMEOUT": "soon"}, want: []string{"PROVIDER_TIMEOUT"}},
		{name: "provider timeout over a minute", env: map[string]string{"PROVIDER_TIMEOUT": "61s"}, want: []string{"PROVIDER_TIMEOUT"}},
		{name: "unknown log level", env: map[string]string{"LOG_LEVEL": "loud"}, want: []string{"LOG_LEVEL"}},
		{
			name: "several bad settings at once",
			env: map[string]string{
				"PORT": "x", "BASE_URL": "ftp://app.example.com", "OIDC_ISSUER": "http://id.example.com",
				"SESSION_SECRET": "short",
			},
			want: []string{"PORT", "BASE_URL", "OIDC_ISSUER", "OIDC_CLIENT_ID", "SESSION_SECRET"},
		},
		{name: "unknown flag", args: []string{"--no-such-flag"}, want: []string{"flag provided but not defined"}},
		{name: "stray argument", args: []string{"serve"}, want: []string{`unexpected argument "serve"`}},
		{name: "env file that does not exist", args: []string{"--env-file=" + missingEnvFile}, want: []string{"env file " + missingEnvFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"latchkey"}
			if !slices.ContainsFunc(tt.args, func(a string) bool { return strings.HasPrefix(a, "--env-file") }) {
				args = append(args, "--env-file=")
			}
			args = append(args, tt.args...)
			var stdout bytes.Buffer
			cfg, err := loadConfig(args, tt.env, &stdout)
			if err == nil {
				t.Fatalf("loadConfig accepted the configuration: %+v", cfg)
			}
			got := problemsOf(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("error names %q, want %q\n%v", got, tt.want, err)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %d names %q, want %q\n%v", i, got[i], want, err)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("loadConfig printed %q", stdout.String())
			}
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	tests := []struct {
		name string
		arg  string
	}{
		{name: "long", arg: "--help"},
		{name: "short", arg: "-h"},
		{name: "single dash", arg: "-help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			_, err := loadConfig([]string{"latchkey", tt.arg}, nil, &stdout)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error = %v, want flag.ErrHelp", err)
			}
			usage := stdout.String()
			for _, name := range []string{
				"PORT", "BASE_URL", "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES",
				"SESSION_SECRET", "AUTH0_DOMAIN", "APP_SECRET_KEY", "--env-file", "--version",
			} {
				if !strings.Contains(usage, name) {
					t.Errorf("usage does not mention %s", name)
				}
			}
			for _, s := range new(config).settings() {
				if !strings.Contains(usage, "--"+s.flag+"\n") || !strings.Contains(usage, s.name) {
					t.Errorf("usage does not describe %s (--%s)", s.name, s.flag)
				}
			}
			for _, def := range []string{"(default: 3000)", "(default: openid profile email)", "(default: 24h)", "(default: .env"} {
				if !strings.Contains(usage, def) {
					t.Errorf("usage does not show %s", def)
				}
			}
		})
	}
}

func TestRunBeforeServing(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCfgErr string // a setting the configuration error names
		wantStdout string // a prefix of what is printed
	}{
		{name: "bad setting", args: []string{"--port=nope"}, wantCfgErr: "--port"},
		{name: "real provider without a secret", env: map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid"}, wantCfgErr: "SESSION_SECRET"},
		{name: "public base URL without an issuer", env: map[string]string{"BASE_URL": "https://app.example.com", "SESSION_SECRET": goodSecret}, wantCfgErr: "OIDC_ISSUER"},
		{name: "version", args: []string{"--version"}, wantStdout: "latchkey "},
		{name: "help", args: []string{"--help"}, wantStdout: "Usage: latchkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			// Nothing here may serve; were it to, the cancelled context stops it.
			cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, "test", append([]string{"latchkey", "--env-file="}, tt.args...), tt.env, &stdout, &stderr, nil)
			if tt.wantCfgErr != "" {
				if !slices.ContainsFunc(problemsOf(t, err), func(p string) bool { return strings.HasPrefix(p, tt.wantCfgErr) }) {
					t.Errorf("error %v does not name %s", err, tt.wantCfgErr)
				}
			} else if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.HasPrefix(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to start with %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStdout == "latchkey " && strings.Count(stdout.String(), "\n") != 1 {
				t.Errorf("version output %q is not one line", stdout.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}

// exitStatusChild is set in the environment of the copy of this test
// binary that runs main.
const exitStatusChild = "LATCHKEY_CONFIG_TEST_RUN_MAIN"

func TestMainExitStatusForBadConfiguration(t *testing.T) {
	if os.Getenv(exitStatusChild) == "1" {
		os.Args = []string{"latchkey", "--env-file="}
		main()
		return
	}
	tests := []struct {
		name     string
		env      []string
		wantCode int
		wantErr  []string
	}{
		{name: "bad port", env: []string{"PORT=nope"}, wantCode: 2, wantErr: []string{"latchkey: invalid configuration", "PORT:"}},
		{name: "several bad settings", env: []string{"PORT=nope", "BASE_URL=ftp://x.example.com"}, wantCode: 2, wantErr: []string{"PORT:", "BASE_URL:"}},
		{
			name:     "Auth0's sample secret",
			env:      []string{"AUTH0_DOMAIN=tenant.eu.auth0.com", "AUTH0_CLIENT_ID=a0id", "AUTH0_CLIENT_SECRET=a0secret", "APP_SECRET_KEY=ALongRandomlyGeneratedString"},
			wantCode: 2,
			wantErr:  []string{"APP_SECRET_KEY: the secret is the placeholder from Auth0's sample .env", "openssl rand -base64 32"},
		},
		{name: "misspelt issuer", env: []string{"OIDC_ISSUER_URL=https://id.example.com"}, wantCode: 2, wantErr: []string{"OIDC_ISSUER_URL: not a latchkey setting; did you mean OIDC_ISSUER?"}},
		{
			name:     "issuer forgotten on a public base URL",
			env:      []string{"BASE_URL=https://app.example.com", "SESSION_SECRET=" + goodSecret},
			wantCode: 2,
			wantErr:  []string{"OIDC_ISSUER (or AUTH0_DOMAIN): missing", "BASE_URL is https://app.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Should a regression accept the configuration, the program would
			// serve; the deadline ends it and the test fails.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainExitStatusForBadConfiguration$")
			cmd.Env = append([]string{exitStatusChild + "=1"}, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != tt.wantCode {
				t.Fatalf("exit = %v, want status %d\nstderr: %s", err, tt.wantCode, stderr.String())
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not contain %q:\n%s", want, stderr.String())
				}
			}
			for _, trace := range []string{"goroutine ", "panic", ".go:"} {
				if strings.Contains(stderr.String(), trace) {
					t.Errorf("stderr has a stack trace (%q):\n%s", trace, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestProviderTimeoutBoundsTheCallback(t *testing.T) {
	tests := []struct {
		name         string
		timeout      string // PROVIDER_TIMEOUT; "" for the default
		wantCallback time.Duration
	}{
		{name: "default", wantCallback: 20 * time.Second},
		{name: "short", timeout: "3s", wantCallback: 6 * time.Second},
		{name: "longer than the old fixed bound", timeout: "20s", wantCallback: 40 * time.Second},
		{name: "the limit", timeout: "1m", wantCallback: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig([]string{"latchkey", "--env-file="}, map[string]string{"PROVIDER_TIMEOUT": tt.timeout}, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			cfg.baseURL = &url.URL{Scheme: "http", Host: "localhost:3000"}
			deps, err := wire(cfg, slog.New(slog.DiscardHandler), auth.NewMemoryStore(nil), &loopback{origin: cfg.baseURL})
			if err != nil {
				t.Fatalf("wire: %v", err)
			}
			if deps.ProviderTimeout != tt.wantCallback {
				t.Errorf("callback bound = %v, want %v (two provider calls of PROVIDER_TIMEOUT each)", deps.ProviderTimeout, tt.wantCallback)
			}
			// The server must not cut the callback's answer short.
			if w := cfg.writeTimeout(); w <= deps.ProviderTimeout {
				t.Errorf("write timeout %v does not leave the callback its %v", w, deps.ProviderTimeout)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		name string
		list []string
		want map[string]string
	}{
		{name: "names and values", list: []string{"PORT=3000", "BASE_URL=http://localhost:3000"}, want: map[string]string{"PORT": "3000", "BASE_URL": "http://localhost:3000"}},
		{name: "a value holding =", list: []string{"OIDC_SCOPES=a=b"}, want: map[string]string{"OIDC_SCOPES": "a=b"}},
		{name: "the first of two entries wins, as with os.Getenv", list: []string{"PORT=1", "PORT=2"}, want: map[string]string{"PORT": "1"}},
		{name: "an empty value is kept", list: []string{"HOST="}, want: map[string]string{"HOST": ""}},
		{name: "entries without a name are skipped", list: []string{"=C:=C:\\latchkey", "junk"}, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := environment(tt.list); !maps.Equal(got, tt.want) {
				t.Errorf("environment(%q) = %q, want %q", tt.list, got, tt.want)
			}
		})
	}
}

func TestDevProviderOnlyOnADevelopersMachine(t *testing.T) {
	provider := map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid", "SESSION_SECRET": goodSecret}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantDev bool     // the development provider signs people in
		wantErr []string // else: the configuration error says all of these
	}{
		{name: "nothing configured", wantDev: true},
		{name: "localhost base URL", env: map[string]string{"BASE_URL": "http://localhost:8080"}, wantDev: true},
		{name: "IPv4 loopback base URL", env: map[string]string{"BASE_URL": "http://127.0.0.1:3000"}, wantDev: true},
		{name: "IPv6 loopback base URL", env: map[string]string{"BASE_URL": "http://[::1]:3000"}, wantDev: true},
		{name: "a subdomain of localhost", env: map[string]string{"BASE_URL": "http://app.localhost:3000"}, wantDev: true},
		{name: "a session secret of one's own", env: map[string]string{"SESSION_SECRET": goodSecret}, wantDev: true},
		{name: "a real provider", env: provider},
		{name: "a real provider with the switch off", env: changed(provider, map[string]string{"DEV_PROVIDER": "off"})},
		{
			name:    "public https base URL",
			env:     map[string]string{"BASE_URL": "https://app.example.com", "SESSION_SECRET": goodSecret},
			wantErr: []string{"OIDC_ISSUER (or AUTH0_DOMAIN): missing", "BASE_URL is https://app.example.com, not http on localhost"},
		},
		{name: "public http base URL", env: map[string]string{"BASE_URL": "http://app.example.com"}, wantErr: []string{"BASE_URL is http://app.example.com"}},
		{name: "network address", env: map[string]string{"BASE_URL": "http://192.168.1.10:3000"}, wantErr: []string{"BASE_URL is http://192.168.1.10:3000"}},
		{name: "https on localhost", env: map[string]string{"BASE_URL": "https://localhost:3000"}, wantErr: []string{"BASE_URL is https://localhost:3000"}},
		{name: "a host that only starts like localhost", env: map[string]string{"BASE_URL": "http://localhost.example.com"}, wantErr: []string{"BASE_URL is http://localhost.example.com"}},
		{name: "base URL flag", args: []string{"--base-url=https://app.example.com"}, wantErr: []string{"--base-url is https://app.example.com"}},
		{name: "client id", env: map[string]string{"OIDC_CLIENT_ID": "cid"}, wantErr: []string{"OIDC_CLIENT_ID is set"}},
		{name: "client secret", env: map[string]string{"OIDC_CLIENT_SECRET": "s3cret"}, wantErr: []string{"OIDC_CLIENT_SECRET is set"}},
		{name: "Auth0 client id", env: map[string]string{"AUTH0_CLIENT_ID": "a0id"}, wantErr: []string{"AUTH0_CLIENT_ID is set"}},
		{name: "Auth0 client secret", env: map[string]string{"AUTH0_CLIENT_SECRET": "a0secret"}, wantErr: []string{"AUTH0_CLIENT_SECRET is set"}},
		{
			name:    "everything but the issuer",
			env:     map[string]string{"AUTH0_CLIENT_ID": "a0id", "AUTH0_CLIENT_SECRET": "a0secret", "APP_SECRET_KEY": goodSecret, "BASE_URL": "https://app.example.com"},
			wantErr: []string{"AUTH0_CLIENT_ID is set and AUTH0_CLIENT_SECRET is set and BASE_URL is https://app.example.com"},
		},
		{name: "switched off", env: map[string]string{"DEV_PROVIDER": "off"}, wantErr: []string{"OIDC_ISSUER (or AUTH0_DOMAIN): required, as DEV_PROVIDER is off"}},
		{name: "switched off by flag", args: []string{"--dev-provider=off"}, wantErr: []string{"required, as --dev-provider is off"}},
		{name: "switch explicitly auto", env: map[string]string{"DEV_PROVIDER": "auto"}, wantDev: true},
		{name: "unknown switch value", env: map[string]string{"DEV_PROVIDER": "no"}, wantErr: []string{`DEV_PROVIDER: "no" is not one of auto, off`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(append([]string{"latchkey", "--env-file="}, tt.args...), tt.env, io.Discard)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("loadConfig accepted the configuration (development provider %v)", cfg.devIdP)
				}
				problemsOf(t, err)
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error does not say %q:\n%v", want, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.devIdP != tt.wantDev {
				t.Errorf("development provider = %v, want %v", cfg.devIdP, tt.wantDev)
			}
		})
	}
}

// changed is env with changes made; an empty value removes a name.
func changed(env, changes map[string]string) map[string]string {
	out := maps.Clone(env)
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestUnknownSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		dotenv  string // written to a file passed as --env-file when set
		args    []string
		wantErr []string // all of these in the error; none: the configuration is accepted
	}{
		{name: "issuer with a suffix", env: map[string]string{"OIDC_ISSUER_URL": "https://id.example.com"}, wantErr: []string{"OIDC_ISSUER_URL: not a latchkey setting; did you mean OIDC_ISSUER?"}},
		{name: "Auth0 domain with two letters swapped", env: map[string]string{"AUTH0_DOMIAN": "tenant.eu.auth0.com"}, wantErr: []string{"AUTH0_DOMIAN: not a latchkey setting; did you mean AUTH0_DOMAIN?"}},
		{name: "plural session secret", env: map[string]string{"SESSION_SECRETS": goodSecret}, wantErr: []string{"SESSION_SECRETS: not a latchkey setting; did you mean SESSION_SECRET?"}},
		{name: "client id without its underscore", env: map[string]string{"OIDC_CLIENTID": "cid"}, wantErr: []string{"did you mean OIDC_CLIENT_ID?"}},
		{name: "a shortened name", env: map[string]string{"SESSION_TIMEOUT": "1h"}, wantErr: []string{"did you mean SESSION_IDLE_TIMEOUT?"}},
		{name: "lower case", env: map[string]string{"oidc_issuer": "https://id.example.com"}, wantErr: []string{"oidc_issuer: not a latchkey setting; did you mean OIDC_ISSUER?"}},
		{name: "the switch misspelt", env: map[string]string{"DEV_PROVIDERS": "off"}, wantErr: []string{"did you mean DEV_PROVIDER?"}},
		{name: "another Auth0 sample's secret", env: map[string]string{"AUTH0_SECRET": goodSecret}, wantErr: []string{"AUTH0_SECRET: not a latchkey setting; did you mean SESSION_SECRET (or APP_SECRET_KEY)?"}},
		{name: "another Auth0 sample's issuer", env: map[string]string{"AUTH0_ISSUER_BASE_URL": "https://tenant.eu.auth0.com"}, wantErr: []string{"did you mean OIDC_ISSUER (or AUTH0_DOMAIN)?"}},
		{name: "a callback URL", env: map[string]string{"AUTH0_CALLBACK_URL": "https://app.example.com/callback"}, wantErr: []string{"did you mean BASE_URL?"}},
		{name: "nothing like a setting", env: map[string]string{"OIDC_FROBNICATE": "1"}, wantErr: []string{"OIDC_FROBNICATE: not a latchkey setting (latchkey --help lists them)"}},
		{name: "an API audience", env: map[string]string{"AUTH0_AUDIENCE": "https://api.example.com"}, wantErr: []string{"AUTH0_AUDIENCE: not a latchkey setting"}},
		{name: "a setting under latchkey's name", env: map[string]string{"LATCHKEY_OIDC_ISSUER": "https://id.example.com"}, wantErr: []string{"LATCHKEY_OIDC_ISSUER: latchkey's settings have no prefix; did you mean OIDC_ISSUER?"}},
		{name: "port under latchkey's name", env: map[string]string{"LATCHKEY_PORT": "4000"}, wantErr: []string{"did you mean PORT?"}},
		{
			name:    "every mistake at once, before the settings' own problems",
			env:     map[string]string{"SESSION_SECRETS": goodSecret, "OIDC_ISSUER_URL": "https://id.example.com", "PORT": "x"},
			wantErr: []string{"invalid configuration:\n  OIDC_ISSUER_URL: not a latchkey setting; did you mean OIDC_ISSUER?\n  SESSION_SECRETS: not a latchkey setting; did you mean SESSION_SECRET?\n  PORT:"},
		},
		{name: "a near miss in .env", dotenv: "BASE_URI=http://localhost:3000\n", wantErr: []string{"BASE_URI in ", "not a latchkey setting; did you mean BASE_URL?"}},
		{name: "a missing underscore in .env", dotenv: "DATADIR=/var/lib/latchkey\n", wantErr: []string{"DATADIR in ", "did you mean DATA_DIR?"}},
		{name: "lower case in .env", dotenv: "port=4000\n", wantErr: []string{"did you mean PORT?"}},
		{name: "latchkey's namespace in .env", dotenv: "OIDC_ISSUER_URL=https://id.example.com\n", wantErr: []string{"did you mean OIDC_ISSUER?"}},
		{name: "unknown flag", args: []string{"--oidc-issuer-url=https://id.example.com"}, wantErr: []string{"flag provided but not defined: -oidc-issuer-url; did you mean --oidc-issuer?"}},
		{name: "flag written as its variable", args: []string{"--OIDC_ISSUER=https://id.example.com"}, wantErr: []string{"did you mean --oidc-issuer?"}},
		{name: "flag nothing like another", args: []string{"--frobnicate"}, wantErr: []string{"flag provided but not defined: -frobnicate (latchkey --help lists them)"}},

		{name: "the shell's own variables", env: map[string]string{"HOME": "/home/ada", "HOSTNAME": "box", "PATH": "/usr/bin", "PWD": "/src", "TERM": "xterm"}},
		{name: "a desktop session", env: map[string]string{"SESSION_MANAGER": "local/box:@/tmp/.ICE-unix/1234"}},
		{name: "the tests' variables", env: map[string]string{"LATCHKEY_SCREENSHOTS": "/tmp/shots", exitStatusChild: "1"}},
		{name: "near misses in the environment are the shell's", env: map[string]string{"BASE_URI": "x", "LOGLEVEL": "debug", "DATADIR": "/tmp"}},
		{name: "other programs' names in .env", dotenv: "COMPOSE_PROJECT_NAME=app\nSECRET_KEY=flask\nDATABASE_URL=postgres://db\nHOME_PAGE=/\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"latchkey", "--env-file="}, tt.args...)
			if tt.dotenv != "" {
				args = append(args, "--env-file="+writeDotenv(t, tt.dotenv))
			}
			cfg, err := loadConfig(args, tt.env, io.Discard)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if !cfg.devIdP {
					t.Errorf("configuration not taken as a developer's machine")
				}
				return
			}
			if err == nil {
				t.Fatal("loadConfig accepted the configuration")
			}
			problemsOf(t, err)
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "equal", a: "PORT", b: "PORT", want: 0},
		{name: "empty", a: "", b: "HOST", want: 4},
		{name: "one replaced", a: "BASE_URI", b: "BASE_URL", want: 1},
		{name: "one inserted", a: "DATADIR", b: "DATA_DIR", want: 1},
		{name: "neighbours swapped", a: "AUTH0_DOMIAN", b: "AUTH0_DOMAIN", want: 1},
		{name: "suffix", a: "OIDC_ISSUER_URL", b: "OIDC_ISSUER", want: 4},
		{name: "two replaced", a: "HOME", b: "HOST", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := distance(tt.a, tt.b); got != tt.want {
				t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := distance(tt.b, tt.a); got != tt.want {
				t.Errorf("distance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestDevProviderListensOnLoopbackUnlessHostIsSet(t *testing.T) {
	external := externalAddress(t)
	tests := []struct {
		name        string
		env         map[string]string
		wantExposed bool // reachable from the network, and every page says so
	}{
		{name: "no HOST: loopback only", env: map[string]string{}},
		{name: "HOST on loopback", env: map[string]string{"HOST": "127.0.0.1"}},
		{name: "HOST on every interface", env: map[string]string{"HOST": "0.0.0.0"}, wantExposed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := startApp(t, tt.env)
			u, err := url.Parse(app.URL)
			if err != nil {
				t.Fatal(err)
			}
			port := u.Port()
			addrs := listenAddrs(t, app.logs.String())
			for _, addr := range addrs {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					t.Fatalf("listening address %q: %v", addr, err)
				}
				if ip := net.ParseIP(host); !tt.wantExposed && (ip == nil || !ip.IsLoopback()) {
					t.Errorf("listening on %s, want loopback only", addr)
				}
			}
			if tt.env["HOST"] == "" && hasIPv6Loopback() && !slices.Contains(addrs, "[::1]:"+port) {
				t.Errorf("listening on %q, want [::1]:%s too: browsers try ::1 for localhost", addrs, port)
			}
			if !canDial("127.0.0.1:" + port) {
				t.Errorf("127.0.0.1:%s does not answer", port)
			}
			if external != nil {
				if got := canDial(net.JoinHostPort(external.String(), port)); got != tt.wantExposed {
					t.Errorf("reachable at this machine's address %s: %v, want %v", external, got, tt.wantExposed)
				}
			}

			home := newBrowser(t).get(app.URL + "/")
			if !home.has("dev-idp-banner") {
				t.Fatalf("home page does not mark the development provider:\n%s", home.body)
			}
			if got := home.has("dev-idp-exposed"); got != tt.wantExposed {
				t.Errorf("page warns the demo login is reachable from the network: %v, want %v\n%s", got, tt.wantExposed, home.text("dev-idp-banner"))
			}
			if got := strings.Contains(app.logs.String(), "reachable from the network"); got != tt.wantExposed {
				t.Errorf("start-up log warns the provider is reachable from the network: %v, want %v\n%s", got, tt.wantExposed, app.logs)
			}
		})
	}
}

// listenAddrs are the addresses the program's start-up log says it
// listens on.
func listenAddrs(t *testing.T, logs string) []string {
	t.Helper()
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, "msg=listening") {
			continue
		}
		for field := range strings.FieldsSeq(line) {
			if list, ok := strings.CutPrefix(field, "addr="); ok {
				return strings.Split(list, ",")
			}
		}
	}
	t.Fatalf("no listening address in the log:\n%s", logs)
	return nil
}

// externalAddress is an IPv4 address of this machine other than loopback,
// or nil when it has none.
func externalAddress(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("list this machine's addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP
		}
	}
	t.Log("this machine has no address but loopback; only the listening addresses are checked")
	return nil
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func canDial(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestListeningHost(t *testing.T) {
	provider := map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid", "SESSION_SECRET": goodSecret}
	tests := []struct {
		name             string
		env              map[string]string
		args             []string
		wantLoopbackOnly bool
		wantExposed      bool
	}{
		{name: "development provider", wantLoopbackOnly: true},
		{name: "an empty HOST is no HOST", env: map[string]string{"HOST": ""}, wantLoopbackOnly: true},
		{name: "development provider on every interface", env: map[string]string{"HOST": "0.0.0.0"}, wantExposed: true},
		{name: "development provider on every interface, by flag", args: []string{"--host="}, wantExposed: true},
		{name: "development provider on a network address", env: map[string]string{"HOST": "192.168.1.10"}, wantExposed: true},
		{name: "development provider on localhost", env: map[string]string{"HOST": "localhost"}},
		{name: "development provider on ::1", env: map[string]string{"HOST": "::1"}},
		{name: "real provider", env: provider},
		{name: "real provider on every interface", env: changed(provider, map[string]string{"HOST": "0.0.0.0"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(append([]string{"latchkey", "--env-file="}, tt.args...), tt.env, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.loopbackOnly != tt.wantLoopbackOnly || cfg.devIdPExposed != tt.wantExposed {
				t.Errorf("loopback only %v, exposed %v; want %v, %v", cfg.loopbackOnly, cfg.devIdPExposed, tt.wantLoopbackOnly, tt.wantExposed)
			}
		})
	}
}

func TestWeakSessionSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantWhy string // part of the reason it is refused; "" when it is strong
	}{
		{name: "base64 of 24 random bytes", secret: goodSecret},
		{name: "base64 of 32 random bytes", secret: "3fPaS1o8b3kq2rV0Kx9v7V8Y1g0mQf2ZtX9cJb5wLhU="},
		{name: "hex of 16 random bytes", secret: "9f86d081884c7d659a2feaa0c55ad015"},
		{name: "hex of 32 random bytes", secret: "a3f1c9e4b2d87f60c5e19a7b3d4f2e81c6b09d5a7e3f18c2b4d6a9e0f7c3b1d5"},
		{name: "a random UUID", secret: "6f1c2a9e-3b7d-4e5f-8a0b-c4d2e1f3a5b7"},
		{name: "a made-up phrase with a counter", secret: "provider-test-session-secret-0123456789abcdef"},

		{name: "too short", secret: "too-short", wantWhy: "has 9 characters; it needs at least 32"},
		{name: "one character", secret: strings.Repeat("a", 44), wantWhy: "is one character over and over"},
		{name: "two characters", secret: strings.Repeat("ab", 22), wantWhy: "uses only 2 different characters"},
		{name: "few characters in no order", secret: "abacabadabacabaeaeeddcbdbdcbaeca", wantWhy: "uses only 5 different characters"},
		{name: "a word repeated", secret: strings.Repeat("password", 4), wantWhy: "repeats itself"},
		{name: "a pattern repeated", secret: "0123456789abcdef0123456789abcdef", wantWhy: "repeats itself"},
		{name: "a word with a counter", secret: "Password1Password2Password3Password4", wantWhy: "repeats itself"},
		{name: "an alphabet", secret: "abcdefghijklmnopqrstuvwxyz012345", wantWhy: "runs in steps"},
		{name: "every other letter", secret: "acegikmoqsuwyACEGIKMOQSUWY024682", wantWhy: "runs in steps"},
		{name: "Auth0's placeholder", secret: "ALongRandomlyGeneratedString", wantWhy: "the placeholder from Auth0's sample .env"},
		{name: "Auth0's placeholder, made long enough", secret: "ALongRandomlyGeneratedString1234", wantWhy: `placeholder text ("randomlygenerated")`},
		{name: "Auth0's placeholder twice", secret: "ALongRandomlyGeneratedStringALongRandomlyGeneratedString", wantWhy: "placeholder text"},
		{name: "another sample's placeholder", secret: "your-auth0-secret-at-least-32-characters-long", wantWhy: "placeholder text"},
		{name: "change me", secret: "CHANGE-ME-before-going-live-2024!", wantWhy: `placeholder text ("changeme")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := weakness(tt.secret)
			if tt.wantWhy == "" && got != "" {
				t.Errorf("weakness(%q) = %q, want none", tt.secret, got)
			}
			if tt.wantWhy != "" && !strings.Contains(got, tt.wantWhy) {
				t.Errorf("weakness(%q) = %q, want it to say %q", tt.secret, got, tt.wantWhy)
			}
		})
	}
}

func TestRandomSessionSecretsAreStrong(t *testing.T) {
	// Each kind is refused with a chance far below one in a billion.
	kinds := []struct {
		name string
		make func() string
	}{
		{name: "openssl rand -base64 32", make: func() string { return base64.StdEncoding.EncodeToString(randomBytes(32)) }},
		{name: "unpadded URL-safe base64 of 32 bytes", make: func() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }},
		{name: "openssl rand -hex 32", make: func() string { return hex.EncodeToString(randomBytes(32)) }},
		{name: "openssl rand -hex 16", make: func() string { return hex.EncodeToString(randomBytes(16)) }},
		{name: "two rand.Text", make: func() string { return rand.Text() + rand.Text() }},
		{name: "latchkey's own", make: randomSecret},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			for range 2000 {
				if s := kind.make(); weakness(s) != "" {
					t.Fatalf("random secret %q refused: %s", s, weakness(s))
				}
			}
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

func TestWeakSessionSecretsAreRefused(t *testing.T) {
	provider := map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "cid"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // the start of the problem
	}{
		{name: "placeholder under its Auth0 name", env: changed(provider, map[string]string{"APP_SECRET_KEY": "ALongRandomlyGeneratedString"}),
			wantErr: "APP_SECRET_KEY: the secret is the placeholder from Auth0's sample .env, not a secret; make a strong one with: openssl rand -base64 32"},
		{name: "repeated word", env: changed(provider, map[string]string{"SESSION_SECRET": strings.Repeat("latchkey", 5)}),
			wantErr: "SESSION_SECRET: the secret repeats itself; make a strong one with: openssl rand -base64 32"},
		{name: "second of two", env: changed(provider, map[string]string{"SESSION_SECRET": goodSecret + "," + strings.Repeat("x", 40)}),
			wantErr: "SESSION_SECRET: secret 2 is one character over and over; make a strong one with: openssl rand -base64 32"},
		{name: "by flag", env: provider, args: []string{"--session-secret=" + strings.Repeat("ab", 20)},
			wantErr: "--session-secret: the secret uses only 2 different characters"},
		{name: "with the development provider too", env: map[string]string{"SESSION_SECRET": "abcdefghijklmnopqrstuvwxyz0123456789"},
			wantErr: "SESSION_SECRET: the secret runs in steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(append([]string{"latchkey", "--env-file="}, tt.args...), tt.env, io.Discard)
			var cfgErr *configError
			if !errors.As(err, &cfgErr) || len(cfgErr.problems) != 1 || !strings.HasPrefix(cfgErr.problems[0], tt.wantErr) {
				t.Errorf("error = %v, want one problem starting %q", err, tt.wantErr)
			}
		})
	}
}
