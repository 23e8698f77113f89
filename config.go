package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"latchkey/auth"
)

// config is the program's configuration, read from flags, the environment
// and a .env file, in that order of precedence.
type config struct {
	host            string
	port            int
	baseURL         *url.URL // nil: http://localhost:PORT, known once listening
	issuer          string   // empty: the development provider
	clientID        string
	clientSecret    string
	scopes          []string
	sessionSecrets  []string
	sessionStore    string // "" (embedded file), "memory", or a redis:// URL
	dataDir         string
	sessionIdle     time.Duration
	sessionMaxAge   time.Duration
	providerTimeout time.Duration
	logLevel        slog.Level
	showVersion     bool
}

// setting is one configuration value: its environment name, the older
// names it also answers to, its flag and its default.
type setting struct {
	env      string
	aliases  []string
	flag     string
	def      string
	usage    string
	flagSet  bool
	flagText string
}

func settings() []*setting {
	return []*setting{
		{env: "PORT", flag: "port", def: "3000", usage: "TCP port to listen on (0 picks a free one)"},
		{env: "HOST", flag: "host", def: "", usage: "interface to listen on (empty: all)"},
		{env: "BASE_URL", flag: "base-url", def: "http://localhost:PORT", usage: "public URL of the app; the callback is BASE_URL/callback"},
		{env: "OIDC_ISSUER", aliases: []string{"AUTH0_DOMAIN"}, flag: "oidc-issuer", usage: "OpenID provider issuer URL (AUTH0_DOMAIN gives https://DOMAIN/); empty: the built-in development provider"},
		{env: "OIDC_CLIENT_ID", aliases: []string{"AUTH0_CLIENT_ID"}, flag: "oidc-client-id", usage: "client ID registered at the provider"},
		{env: "OIDC_CLIENT_SECRET", aliases: []string{"AUTH0_CLIENT_SECRET"}, flag: "oidc-client-secret", usage: "client secret registered at the provider"},
		{env: "OIDC_SCOPES", flag: "oidc-scopes", def: "openid profile email", usage: "scopes to request, space-separated"},
		{env: "SESSION_SECRET", aliases: []string{"APP_SECRET_KEY"}, flag: "session-secret", usage: "comma-separated secrets of 32+ characters sealing cookies; the first seals, all open (required with a real provider)"},
		{env: "SESSION_STORE", flag: "session-store", def: "embedded", usage: "where sessions live: embedded (a file in DATA_DIR), memory, or redis://[user:password@]host:port/db (rediss:// for TLS) for several instances"},
		{env: "DATA_DIR", flag: "data-dir", def: "./latchkey-data", usage: "directory of the embedded session store"},
		{env: "SESSION_IDLE_TIMEOUT", flag: "session-idle-timeout", def: "30m", usage: "a session not used for this long ends"},
		{env: "SESSION_MAX_AGE", flag: "session-max-age", def: "24h", usage: "absolute lifetime of a session"},
		{env: "PROVIDER_TIMEOUT", flag: "provider-timeout", def: "10s", usage: "timeout of each call to the provider"},
		{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "debug, info, warn or error"},
	}
}

// configError lists every bad setting at once.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.problems, "\n  ")
}

// loadConfig reads the configuration. It returns flag.ErrHelp after
// printing the usage for --help.
func loadConfig(args []string, getenv func(string) string, stdout io.Writer) (*config, error) {
	all := settings()
	fs := flag.NewFlagSet("latchkey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range all {
		fs.Func(s.flag, s.usage, func(v string) error { s.flagSet, s.flagText = true, v; return nil })
	}
	envFile := fs.String("env-file", ".env", "file of KEY=value settings read at start; empty: none")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, all)
			return nil, err
		}
		return nil, &configError{problems: []string{err.Error()}}
	}
	if fs.NArg() > 0 {
		return nil, &configError{problems: []string{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}}
	}

	dotenv := map[string]string{}
	if *envFile != "" {
		m, err := godotenv.Read(*envFile)
		switch {
		case err == nil:
			dotenv = m
		case errors.Is(err, os.ErrNotExist) && *envFile == ".env":
		default:
			return nil, &configError{problems: []string{fmt.Sprintf("env file %s: %v", *envFile, err)}}
		}
	}
	lookup := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return dotenv[name]
	}
	value := func(s *setting) (string, string) {
		if s.flagSet {
			return s.flagText, "--" + s.flag
		}
		for _, name := range append([]string{s.env}, s.aliases...) {
			if v := lookup(name); v != "" {
				return v, name
			}
		}
		return s.def, s.env
	}

	cfg := &config{showVersion: *showVersion}
	if cfg.showVersion {
		return cfg, nil
	}
	var problems []string
	bad := func(name, format string, a ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, a...))
	}
	get := func(env string) (string, string) {
		for _, s := range all {
			if s.env == env {
				return value(s)
			}
		}
		panic("unknown setting " + env)
	}

	if v, name := get("PORT"); true {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			bad(name, "%q is not a port number (0–65535)", v)
		}
		cfg.port = p
	}
	cfg.host, _ = get("HOST")
	if v, name := get("BASE_URL"); v != "http://localhost:PORT" {
		u, err := url.Parse(strings.TrimSuffix(v, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			bad(name, "%q must be an http or https URL with no path, such as https://app.example.com", v)
		} else {
			cfg.baseURL = u
		}
	}

	issuer, issuerName := get("OIDC_ISSUER")
	if issuerName == "AUTH0_DOMAIN" {
		issuer = "https://" + strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/") + "/"
	}
	if issuer != "" {
		u, err := url.Parse(issuer)
		switch {
		case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			bad(issuerName, "%q is not an issuer URL", issuer)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			bad(issuerName, "%q must use https (http is allowed for localhost only)", issuer)
		}
		cfg.issuer = issuer
	}
	clientID, clientIDName := get("OIDC_CLIENT_ID")
	cfg.clientID = clientID
	cfg.clientSecret, _ = get("OIDC_CLIENT_SECRET")
	switch {
	case cfg.issuer != "" && clientID == "":
		bad(clientIDName, "required when OIDC_ISSUER is set")
	case cfg.issuer == "" && clientID != "":
		bad(issuerName, "required when OIDC_CLIENT_ID is set")
	}

	scopes, _ := get("OIDC_SCOPES")
	cfg.scopes = strings.FieldsFunc(scopes, func(r rune) bool { return r == ' ' || r == ',' })

	secrets, secretName := get("SESSION_SECRET")
	for s := range strings.SplitSeq(secrets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.sessionSecrets = append(cfg.sessionSecrets, s)
		}
	}
	for i, s := range cfg.sessionSecrets {
		if len(s) < auth.MinSecretLength {
			bad(secretName, "secret %d has %d characters; each needs at least %d (try: openssl rand -base64 32)", i+1, len(s), auth.MinSecretLength)
		}
	}
	if len(cfg.sessionSecrets) == 0 && cfg.issuer != "" {
		bad("SESSION_SECRET", "required with a real identity provider (try: openssl rand -base64 32)")
	}

	switch store, name := get("SESSION_STORE"); {
	case store == "embedded":
	case store == "memory":
		cfg.sessionStore = store
	case strings.HasPrefix(store, "redis://") || strings.HasPrefix(store, "rediss://"):
		cfg.sessionStore = store
	default:
		bad(name, "must be embedded, memory, or a redis:// URL")
	}
	cfg.dataDir, _ = get("DATA_DIR")
	cfg.sessionIdle = duration(get, "SESSION_IDLE_TIMEOUT", bad)
	cfg.sessionMaxAge = duration(get, "SESSION_MAX_AGE", bad)
	if cfg.sessionIdle > 0 && cfg.sessionMaxAge > 0 && cfg.sessionIdle > cfg.sessionMaxAge {
		bad("SESSION_IDLE_TIMEOUT", "%v is longer than SESSION_MAX_AGE (%v)", cfg.sessionIdle, cfg.sessionMaxAge)
	}
	cfg.providerTimeout = duration(get, "PROVIDER_TIMEOUT", bad)

	if v, name := get("LOG_LEVEL"); true {
		if err := cfg.logLevel.UnmarshalText([]byte(v)); err != nil {
			bad(name, "%q is not one of debug, info, warn, error", v)
		}
	}
	if len(problems) > 0 {
		return nil, &configError{problems: problems}
	}
	return cfg, nil
}

func duration(get func(string) (string, string), env string, bad func(string, string, ...any)) time.Duration {
	v, name := get(env)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad(name, "%q is not a positive duration such as 30m or 12h", v)
	}
	return d
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func printUsage(w io.Writer, all []*setting) {
	fmt.Fprint(w, `Usage: latchkey [flags]

latchkey signs people in to a web app through OpenID Connect. With no
provider configured it serves a development identity provider at
BASE_URL/dev-idp.

Each setting comes from its flag, else the environment, else a .env file in
the working directory, else its default.

`)
	for _, s := range all {
		names := s.env
		if len(s.aliases) > 0 {
			names += " (or " + strings.Join(s.aliases, ", ") + ")"
		}
		def := s.def
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s\n      %s: %s (default: %s)\n", s.flag, names, s.usage, def)
	}
	fmt.Fprint(w, `  --env-file
      file of KEY=value settings read at start (default: .env; empty: none)
  --version
      print the version and exit
`)
}

// randomSecret is a secret for values nobody configures: the development
// provider's client secret, a throw-away cookie secret.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
