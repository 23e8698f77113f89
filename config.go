package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"latchkey/auth"
	"latchkey/handlers"
	"latchkey/proxy"
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
	tokenAuthMethod string        // "": chosen from discovery
	clientKey       crypto.Signer // for private_key_jwt
	clientKeyID     string
	scopes          []string
	sessionSecrets  []string
	sessionStore    string // "" (embedded file), "memory", or a redis:// URL
	dataDir         string
	sessionIdle     time.Duration
	sessionMaxAge   time.Duration
	providerTimeout time.Duration
	loginRateLimit  int
	trustedProxies  []netip.Prefix
	logLevel        slog.Level
	devProvider     string // DEV_PROVIDER: "auto" or "off"
	showVersion     bool

	// upstream is the app latchkey stands in front of; nil for none.
	upstream *proxy.Upstream
	// prefix is where latchkey's own routes are: "" at the root, else
	// such as "/.latchkey", in front of an app.
	prefix            string
	publicPaths       *proxy.PublicPaths
	allowed           proxy.PolicyConfig
	groupsClaim       string
	passAccessToken   bool
	passHostHeader    bool
	identityHeaders   proxy.HeaderNames
	assertionKeys     []*ecdsa.PrivateKey // nil: derived from the session secrets
	assertionAudience string

	// devIdP says that the built-in development provider signs people
	// in: no issuer is set, on what looks like a developer's machine.
	devIdP bool
	// loopbackOnly says to listen on 127.0.0.1 and ::1 only: the
	// development provider is in use and HOST is not set.
	loopbackOnly bool
	// devIdPExposed says that the development provider is reachable from
	// the network, as HOST is set to more than loopback.
	devIdPExposed bool

	// given holds each setting that was set, with the name it was set
	// under as the user wrote it ("AUTH0_DOMAIN", "--port"): messages use it.
	given map[string]value
}

// setting is one row of the configuration table: the names a value is
// read under, what --help says about it, and the parser that checks a
// value and stores it in its field of the config.
type setting struct {
	name    string   // in the environment and in .env
	aliases []string // other names it answers to, after name
	flag    string
	def     string // parsed when the setting is not given; "" for none
	shown   string // the default as --help puts it, when def does not say it
	usage   string
	parse   func(v value) error
	// hints are names other software uses for this setting; whoever sets
	// one is pointed here.
	hints []string
}

// value is a setting's text and the name it was given under.
type value struct {
	text string
	name string // as the user wrote it: "PORT", "AUTH0_DOMAIN", "--port"
}

// table is every setting, in the order --help lists them.
type table []setting

// settings is the configuration table; its parsers write into c.
func (c *config) settings() table {
	return table{
		{name: "PORT", flag: "port", def: "3000", parse: portNumber(&c.port),
			usage: "TCP port to listen on; 0 picks a free one"},
		{name: "HOST", flag: "host", shown: "all interfaces; loopback only with the development provider", parse: text(&c.host),
			usage: "interface to listen on; empty for all"},
		{name: "BASE_URL", flag: "base-url", shown: "http://localhost:PORT", parse: baseURL(&c.baseURL),
			usage: "public URL of the app, such as https://app.example.com; the callback is BASE_URL/callback",
			hints: []string{"AUTH0_BASE_URL", "AUTH0_CALLBACK_URL", "OIDC_REDIRECT_URI", "OIDC_REDIRECT_URL", "OIDC_CALLBACK_URL"}},
		{name: "OIDC_ISSUER", aliases: []string{"AUTH0_DOMAIN"}, flag: "oidc-issuer", shown: "none: the built-in development provider", parse: issuerURL(&c.issuer),
			usage: "issuer URL of the OpenID provider (AUTH0_DOMAIN gives https://DOMAIN/)",
			hints: []string{"AUTH0_ISSUER_BASE_URL", "AUTH0_ISSUER", "OIDC_PROVIDER_URL", "OIDC_DISCOVERY_URL"}},
		{name: "OIDC_CLIENT_ID", aliases: []string{"AUTH0_CLIENT_ID"}, flag: "oidc-client-id", parse: text(&c.clientID),
			usage: "client ID registered at the provider; required with an issuer"},
		{name: "OIDC_CLIENT_SECRET", aliases: []string{"AUTH0_CLIENT_SECRET"}, flag: "oidc-client-secret", parse: text(&c.clientSecret),
			usage: "client secret registered at the provider; none for a public client"},
		{name: "OIDC_TOKEN_AUTH_METHOD", flag: "oidc-token-auth-method", shown: "client_secret_basic, or client_secret_post when discovery offers only that; none without a client secret",
			parse: oneOf(&c.tokenAuthMethod, auth.AuthMethodBasic, auth.AuthMethodPost, auth.AuthMethodNone, auth.AuthMethodPrivateKeyJWT),
			usage: "how latchkey authenticates at the provider's token endpoint, as the client is registered there: client_secret_basic, client_secret_post, none (a public client, PKCE alone) or private_key_jwt (OIDC_CLIENT_KEY_FILE); the provider's discovery must offer it"},
		{name: "OIDC_CLIENT_KEY_FILE", flag: "oidc-client-key-file", parse: privateKeyFile(&c.clientKey),
			usage: "PEM file of the client's private key (RSA, ECDSA or Ed25519) for private_key_jwt, which it implies: latchkey signs a client assertion with it for each token request; register its public key at the provider"},
		{name: "OIDC_CLIENT_KEY_ID", flag: "oidc-client-key-id", shown: "the key's RFC 7638 thumbprint", parse: text(&c.clientKeyID),
			usage: "the kid of the client assertions: the name the provider knows the client's key by"},
		{name: "OIDC_SCOPES", flag: "oidc-scopes", def: "openid profile email", parse: words(&c.scopes),
			usage: "scopes to request, separated by spaces or commas"},
		{name: "DEV_PROVIDER", flag: "dev-provider", def: "auto", parse: oneOf(&c.devProvider, "auto", "off"),
			usage: "auto: without an issuer, the built-in development provider signs people in, on a developer's machine only (see above); off: never, an issuer is required"},
		{name: "SESSION_SECRET", aliases: []string{"APP_SECRET_KEY"}, flag: "session-secret", shown: "random per process, with the development provider only", parse: secrets(&c.sessionSecrets),
			usage: "comma-separated secrets sealing cookies, each random and 32+ characters long (make one with: openssl rand -base64 32); the first seals, all open; required with a real provider",
			hints: []string{"AUTH0_SECRET", "SESSION_KEY"}},
		{name: "SESSION_STORE", flag: "session-store", def: "embedded", parse: storeKind(&c.sessionStore),
			usage: "where sessions live: embedded (a file in DATA_DIR), memory, or redis://[user:password@]host:port/db (rediss:// for TLS) for several instances"},
		{name: "DATA_DIR", flag: "data-dir", def: "./latchkey-data", parse: text(&c.dataDir),
			usage: "directory of the embedded session store"},
		{name: "SESSION_IDLE_TIMEOUT", flag: "session-idle-timeout", def: "30m", parse: positiveDuration(&c.sessionIdle),
			usage: "a session not used for this long ends"},
		{name: "SESSION_MAX_AGE", flag: "session-max-age", def: "24h", parse: positiveDuration(&c.sessionMaxAge),
			usage: "absolute lifetime of a session"},
		{name: "PROVIDER_TIMEOUT", flag: "provider-timeout", def: "10s", parse: durationUpTo(&c.providerTimeout, time.Minute),
			usage: "timeout of each call to the provider, at most 1m; a callback, which makes two, is bounded at twice this"},
		{name: "LOGIN_RATE_LIMIT", flag: "login-rate-limit", def: "60", parse: countUpTo(&c.loginRateLimit, 100_000),
			usage: "logins each client may start, and finish, per minute (IPv6 clients counted by /64); more answer 429; 0 for no limit"},
		{name: "TRUSTED_PROXIES", flag: "trusted-proxies", def: "loopback", parse: proxyList(&c.trustedProxies),
			usage: "comma-separated addresses or CIDR ranges of the reverse proxies in front of latchkey, whose X-Forwarded-For tells clients apart; loopback for 127.0.0.0/8 and ::1, none for no proxy"},
		{name: "UPSTREAM", flag: "upstream", shown: "none: latchkey serves its own pages only", parse: upstreamURL(&c.upstream),
			usage: "the app to stand in front of: http://host:port[/base], https://host[/base] or unix:/path/app.sock[:/base]; every request outside PROXY_PREFIX goes there, with who is signed in",
			hints: []string{"UPSTREAMS", "UPSTREAM_URL"}},
		{name: "PROXY_PREFIX", flag: "proxy-prefix", shown: "/.latchkey with UPSTREAM; none (the root) without", parse: routePrefix(&c.prefix),
			usage: "where latchkey's own routes are in front of an app; set it without UPSTREAM when nginx, Caddy or Traefik serves the app and asks PROXY_PREFIX/check (forward auth)"},
		{name: "PUBLIC_PATHS", flag: "public-paths", parse: publicPaths(&c.publicPaths),
			usage: "comma-separated path patterns of the app that need no session, such as /static/*,/favicon.ico: * matches within a segment, a final /* or a ** segment a whole subtree; with UPSTREAM only"},
		{name: "ALLOWED_EMAILS", flag: "allowed-emails", parse: allowList(&c.allowed.Emails, func(l []string) proxy.PolicyConfig { return proxy.PolicyConfig{Emails: l} }),
			usage: "comma-separated email addresses that may use the app, once verified by the provider; with no ALLOWED_ setting, anyone who signs in may"},
		{name: "ALLOWED_EMAIL_DOMAINS", flag: "allowed-email-domains", parse: allowList(&c.allowed.EmailDomains, func(l []string) proxy.PolicyConfig { return proxy.PolicyConfig{EmailDomains: l} }),
			usage: "comma-separated domains whose verified addresses may use the app (example.com, not its subdomains)"},
		{name: "ALLOWED_GROUPS", flag: "allowed-groups", parse: allowList(&c.allowed.Groups, func(l []string) proxy.PolicyConfig { return proxy.PolicyConfig{Groups: l} }),
			usage: "comma-separated groups whose members may use the app; with an email rule too, a user must satisfy both"},
		{name: "GROUPS_CLAIM", flag: "groups-claim", def: "groups", parse: text(&c.groupsClaim),
			usage: "the claim holding the user's groups, in userinfo or else the ID token; a dotted name reaches into objects (realm_access.roles). For groups, the groups scope is requested when the provider offers it"},
		{name: "PASS_ACCESS_TOKEN", flag: "pass-access-token", def: "false", parse: boolean(&c.passAccessToken),
			usage: "send the user's access token to the app as Authorization: Bearer, refreshed first when it has expired"},
		{name: "PASS_HOST_HEADER", flag: "pass-host-header", def: "true", parse: boolean(&c.passHostHeader),
			usage: "send the app the Host the browser asked for (BASE_URL's host); false sends UPSTREAM's host"},
		{name: "IDENTITY_HEADERS", flag: "identity-headers", def: "user=X-Forwarded-User,email=X-Forwarded-Email,preferred_username=X-Forwarded-Preferred-Username,groups=X-Forwarded-Groups,assertion=X-Latchkey-Assertion",
			parse: identityHeaders(&c.identityHeaders),
			usage: "names of the headers that tell the app who is signed in, as comma-separated key=Header-Name (none: not sent); keys left out keep their default"},
		{name: "ASSERTION_KEY_FILE", flag: "assertion-key-file", shown: "keys derived from SESSION_SECRET", parse: keyFile(&c.assertionKeys),
			usage: "PEM file of the P-256 keys that sign the assertion sent to the app, the signing key first (make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"},
		{name: "ASSERTION_AUDIENCE", flag: "assertion-audience", shown: "UPSTREAM's origin; BASE_URL's for forward auth", parse: text(&c.assertionAudience),
			usage: "the assertion's aud, which names the app"},
		{name: "LOG_LEVEL", flag: "log-level", def: "info", parse: logLevel(&c.logLevel),
			usage: "debug, info, warn or error"},
	}
}

// configError lists every bad setting at once.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.problems, "\n  ")
}

// problem is one thing wrong with the configuration, filed under the
// setting it is about, so that problems are listed in the table's order.
type problem struct {
	setting string // canonical name; "" for a problem of no one setting
	text    string
}

// loadConfig reads the configuration: each setting from its flag, else
// the environment, else the .env file, else its default; then the rules
// that join settings. It returns flag.ErrHelp after printing the usage for
// --help.
func loadConfig(args []string, env map[string]string, stdout io.Writer) (*config, error) {
	cfg := &config{given: map[string]value{}}
	t := cfg.settings()
	fs := flag.NewFlagSet("latchkey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := map[string]string{}
	for _, s := range t {
		fs.Func(s.flag, s.usage, func(v string) error { flags[s.name] = v; return nil })
	}
	envFile := fs.String("env-file", ".env", "")
	fs.BoolVar(&cfg.showVersion, "version", false, "")
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			t.printUsage(stdout)
			// The URLs to register follow the settings given so far,
			// whether or not they are all good.
			dotenv, _ := readDotenv(*envFile)
			cfg.read(t, flags, []map[string]string{env, dotenv})
			printRegistration(stdout, cfg)
			return nil, err
		}
		return nil, &configError{problems: []string{t.flagError(err)}}
	}
	if fs.NArg() > 0 {
		return nil, &configError{problems: []string{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}}
	}
	if cfg.showVersion {
		return cfg, nil
	}
	dotenv, err := readDotenv(*envFile)
	if err != nil {
		return nil, &configError{problems: []string{err.Error()}}
	}

	problems := t.unknownNames(env, dotenv, *envFile)
	problems = append(problems, cfg.read(t, flags, []map[string]string{env, dotenv})...)
	if len(problems) > 0 {
		return nil, t.configError(problems)
	}
	return cfg, nil
}

// read reads every setting of t into c, from flags, else the first of
// sources that has it, else its default, then applies the rules that join
// settings; it returns what is wrong.
func (c *config) read(t table, flags map[string]string, sources []map[string]string) []problem {
	var problems []problem
	for _, s := range t {
		v, ok := s.lookup(flags, sources)
		switch {
		case ok:
			c.given[s.name] = v
		case s.def != "":
			v = value{text: s.def, name: s.name}
		default:
			continue
		}
		if err := s.parse(v); err != nil {
			problems = append(problems, problem{s.name, v.name + ": " + err.Error()})
		}
	}
	return append(problems, validate(c, t)...)
}

// environment turns os.Environ's KEY=value list into a map. The first of
// two entries for one name wins, as with os.Getenv.
func environment(list []string) map[string]string {
	env := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := env[k]; ok && k != "" && !seen {
			env[k] = v
		}
	}
	return env
}

// readDotenv reads the settings file; the default .env may be missing.
func readDotenv(path string) (map[string]string, error) {
	if path == "" {
		return map[string]string{}, nil
	}
	m, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) && path == ".env" {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	return m, nil
}

// lookup finds the value of s: its flag, else the first of its names set
// in the first source that sets one. An empty value counts as not set.
func (s setting) lookup(flags map[string]string, sources []map[string]string) (value, bool) {
	if v, ok := flags[s.name]; ok {
		return value{text: v, name: "--" + s.flag}, true
	}
	for _, source := range sources {
		for _, name := range s.names() {
			if v := source[name]; v != "" {
				return value{text: v, name: name}, true
			}
		}
	}
	return value{}, false
}

// names is the setting's name, then its aliases.
func (s setting) names() []string { return append([]string{s.name}, s.aliases...) }

// validate checks the rules that join settings, and settles what they
// decide together: which provider signs people in, and where to listen.
func validate(c *config, t table) []problem {
	var problems []problem
	bad := func(setting, format string, a ...any) {
		problems = append(problems, problem{setting, fmt.Sprintf(format, a...)})
	}
	_, hasIssuer := c.given["OIDC_ISSUER"]
	_, hasClient := c.given["OIDC_CLIENT_ID"]
	switch notDev := c.notADevelopersMachine(); {
	case hasIssuer && !hasClient:
		bad("OIDC_CLIENT_ID", "%s: required when %s is set", t.either("OIDC_CLIENT_ID"), c.nameOf("OIDC_ISSUER"))
	case hasIssuer:
	case c.devProvider == "off":
		bad("OIDC_ISSUER", "%s: required, as %s is off", t.either("OIDC_ISSUER"), c.nameOf("DEV_PROVIDER"))
	case len(notDev) > 0:
		bad("OIDC_ISSUER", "%s: missing, and %s: the built-in development provider, where anyone can sign in as a demo user, "+
			"runs only on a developer's machine. Set OIDC_ISSUER to your provider's issuer URL",
			t.either("OIDC_ISSUER"), strings.Join(notDev, " and "))
	default:
		c.devIdP = true
		host, hostGiven := c.given["HOST"]
		c.loopbackOnly = !hostGiven
		c.devIdPExposed = hostGiven && !isLoopback(host.text)
	}
	if hasIssuer && len(c.sessionSecrets) == 0 {
		if _, ok := c.given["SESSION_SECRET"]; !ok {
			bad("SESSION_SECRET", "%s: required with a real identity provider; make one with: openssl rand -base64 32", t.either("SESSION_SECRET"))
		}
	}
	if hasIssuer {
		problems = append(problems, c.clientAuthentication(t)...)
	}
	if _, ok := c.given["OIDC_CLIENT_KEY_ID"]; ok {
		if _, ok := c.given["OIDC_CLIENT_KEY_FILE"]; !ok {
			bad("OIDC_CLIENT_KEY_ID", "%s: names the key of OIDC_CLIENT_KEY_FILE, which is not set", c.nameOf("OIDC_CLIENT_KEY_ID"))
		}
	}
	if c.sessionIdle > 0 && c.sessionMaxAge > 0 && c.sessionIdle > c.sessionMaxAge {
		bad("SESSION_IDLE_TIMEOUT", "%s: %v is longer than %s (%v)", c.nameOf("SESSION_IDLE_TIMEOUT"), c.sessionIdle, c.nameOf("SESSION_MAX_AGE"), c.sessionMaxAge)
	}
	return append(problems, c.validateFront()...)
}

// frontSettings apply only in front of an app.
var frontSettings = []string{
	"ALLOWED_EMAILS", "ALLOWED_EMAIL_DOMAINS", "ALLOWED_GROUPS", "GROUPS_CLAIM", "PASS_ACCESS_TOKEN",
	"IDENTITY_HEADERS", "ASSERTION_KEY_FILE", "ASSERTION_AUDIENCE",
}

// validateFront checks the settings of latchkey in front of an app, and
// settles where latchkey's own routes are.
func (c *config) validateFront() []problem {
	var problems []problem
	bad := func(setting, format string, a ...any) {
		problems = append(problems, problem{setting, fmt.Sprintf(format, a...)})
	}
	if c.upstream != nil && c.prefix == "" {
		c.prefix = defaultPrefix
	}
	// A bad UPSTREAM or PROXY_PREFIX has a problem of its own.
	_, upstreamGiven := c.given["UPSTREAM"]
	_, prefixGiven := c.given["PROXY_PREFIX"]
	if !upstreamGiven && !prefixGiven {
		for _, s := range frontSettings {
			if _, ok := c.given[s]; ok {
				bad(s, "%s: applies only in front of an app: set UPSTREAM, or PROXY_PREFIX for forward auth behind nginx, Caddy or Traefik", c.nameOf(s))
			}
		}
	}
	if c.upstream == nil && !upstreamGiven {
		for _, s := range []string{"PUBLIC_PATHS", "PASS_HOST_HEADER"} {
			if _, ok := c.given[s]; !ok {
				continue
			}
			if c.front() {
				bad(s, "%s: applies to the requests latchkey proxies, with UPSTREAM; with forward auth, the front server's configuration says which locations need a session", c.nameOf(s))
			} else {
				bad(s, "%s: applies to the requests latchkey proxies: set UPSTREAM", c.nameOf(s))
			}
		}
		return problems
	}
	if c.upstream != nil && c.upstream.Socket == "" && c.port != 0 && c.upstream.URL.Port() == strconv.Itoa(c.port) {
		if host := c.upstream.URL.Hostname(); isLoopback(host) || (c.baseURL != nil && strings.EqualFold(host, c.baseURL.Hostname())) {
			bad("UPSTREAM", "%s: %s is latchkey itself (%s is %d); give the address of the app", c.nameOf("UPSTREAM"), c.upstream, c.nameOf("PORT"), c.port)
		}
	}
	return problems
}

// defaultPrefix is where latchkey's own routes are in front of an app,
// unless PROXY_PREFIX says otherwise: a name no app is likely to use.
const defaultPrefix = "/.latchkey"

// front reports whether latchkey stands in front of an app: as its
// proxy (UPSTREAM), or asked by a front server (PROXY_PREFIX alone).
func (c *config) front() bool { return c.prefix != "" || c.upstream != nil }

// clientAuthentication checks that the client's credentials fit the token
// endpoint authentication method: a secret for the client_secret methods,
// a key file for private_key_jwt (which the file implies), neither for
// none.
func (c *config) clientAuthentication(t table) []problem {
	var problems []problem
	bad := func(setting, format string, a ...any) {
		problems = append(problems, problem{setting, fmt.Sprintf(format, a...)})
	}
	_, hasSecret := c.given["OIDC_CLIENT_SECRET"]
	_, hasKey := c.given["OIDC_CLIENT_KEY_FILE"]
	method, chosen := c.tokenAuthMethod, c.tokenAuthMethod != ""
	if !chosen && hasKey {
		method = auth.AuthMethodPrivateKeyJWT
	}
	switch {
	case hasKey && method != auth.AuthMethodPrivateKeyJWT:
		bad("OIDC_CLIENT_KEY_FILE", "%s: used only with private_key_jwt, but %s is %s", c.nameOf("OIDC_CLIENT_KEY_FILE"), c.nameOf("OIDC_TOKEN_AUTH_METHOD"), method)
	case method == auth.AuthMethodPrivateKeyJWT && !hasKey:
		bad("OIDC_TOKEN_AUTH_METHOD", "%s: private_key_jwt needs OIDC_CLIENT_KEY_FILE", c.nameOf("OIDC_TOKEN_AUTH_METHOD"))
	case method == auth.AuthMethodPrivateKeyJWT && hasSecret:
		bad("OIDC_CLIENT_SECRET", "%s: not used with private_key_jwt, which signs with OIDC_CLIENT_KEY_FILE instead; remove it", c.nameOf("OIDC_CLIENT_SECRET"))
	case (method == auth.AuthMethodBasic || method == auth.AuthMethodPost) && !hasSecret:
		bad("OIDC_TOKEN_AUTH_METHOD", "%s: %s needs %s", c.nameOf("OIDC_TOKEN_AUTH_METHOD"), method, t.either("OIDC_CLIENT_SECRET"))
	case method == auth.AuthMethodNone && hasSecret:
		bad("OIDC_TOKEN_AUTH_METHOD", "%s: none sends no client secret, but %s is set; remove one of them", c.nameOf("OIDC_TOKEN_AUTH_METHOD"), c.nameOf("OIDC_CLIENT_SECRET"))
	}
	return problems
}

// callbackTimeout bounds a whole callback: it makes up to two calls to
// the provider (the code exchange, then userinfo), each of which may take
// PROVIDER_TIMEOUT.
func (c *config) callbackTimeout() time.Duration { return 2 * c.providerTimeout }

// writeTimeout bounds the time to answer a request, which must leave a
// callback the time to finish and write its page.
func (c *config) writeTimeout() time.Duration {
	return max(30*time.Second, c.callbackTimeout()+10*time.Second)
}

// notADevelopersMachine lists the settings that show this is not a
// developer's machine, where the development provider may run: the
// client's settings (or their Auth0 names), or a BASE_URL that is not http
// on a loopback host.
func (c *config) notADevelopersMachine() []string {
	var found []string
	for _, setting := range []string{"OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_TOKEN_AUTH_METHOD", "OIDC_CLIENT_KEY_FILE", "OIDC_CLIENT_KEY_ID"} {
		if v, ok := c.given[setting]; ok {
			found = append(found, v.name+" is set")
		}
	}
	// A BASE_URL that is not a URL at all has a problem of its own.
	if u := c.baseURL; u != nil && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
		found = append(found, fmt.Sprintf("%s is %s, not http on localhost", c.nameOf("BASE_URL"), u))
	}
	return found
}

// nameOf is the name setting was given under, else its own name.
func (c *config) nameOf(setting string) string {
	if v, ok := c.given[setting]; ok {
		return v.name
	}
	return setting
}

// either names a setting that was not given by all its names:
// "OIDC_CLIENT_ID (or AUTH0_CLIENT_ID)".
func (t table) either(name string) string {
	i := t.index(name)
	if len(t[i].aliases) == 0 {
		return name
	}
	return name + " (or " + strings.Join(t[i].aliases, ", ") + ")"
}

// index is the row of the setting called name.
func (t table) index(name string) int {
	i := slices.IndexFunc(t, func(s setting) bool { return s.name == name })
	if i < 0 {
		panic("no setting " + name)
	}
	return i
}

// configError sorts problems into the order --help lists the settings.
func (t table) configError(problems []problem) *configError {
	order := func(p problem) int {
		if p.setting == "" {
			return -1
		}
		return t.index(p.setting)
	}
	slices.SortStableFunc(problems, func(a, b problem) int { return order(a) - order(b) })
	err := &configError{}
	for _, p := range problems {
		err.problems = append(err.problems, p.text)
	}
	return err
}

// oneOf stores one of the choices.
func oneOf(target *string, choices ...string) func(value) error {
	return func(v value) error {
		if !slices.Contains(choices, v.text) {
			return fmt.Errorf("%q is not one of %s", v.text, strings.Join(choices, ", "))
		}
		*target = v.text
		return nil
	}
}

// unknownNames finds the names in the environment and in .env that are
// meant for latchkey but are none of its settings: any name in latchkey's
// namespace, a setting's name with latchkey's own prefix, and in .env, a
// near miss of a setting's name. Other names belong to the user's shell
// and to other programs.
func (t table) unknownNames(env, dotenv map[string]string, envFile string) []problem {
	var problems []problem
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if why := t.unknown(name, false); why != "" {
			problems = append(problems, problem{"", name + ": " + why})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(dotenv)) {
		if why := t.unknown(name, true); why != "" {
			problems = append(problems, problem{"", name + " in " + envFile + ": " + why})
		}
	}
	return problems
}

// unknown says why name is a mistake, or "" when it is a setting or none
// of latchkey's business. nearMisses counts names close to a setting's
// as mistakes, as they are in a file written for latchkey.
func (t table) unknown(name string, nearMisses bool) string {
	if slices.ContainsFunc(t, func(s setting) bool { return slices.Contains(s.names(), name) }) {
		return ""
	}
	upper := strings.ToUpper(name)
	if rest, ok := strings.CutPrefix(upper, "LATCHKEY_"); ok {
		// Other LATCHKEY_ names are left to the programs around latchkey,
		// such as its tests.
		if t.unknown(rest, true) == "" && t.suggest(rest, false) == "" {
			return ""
		}
		return "latchkey's settings have no prefix" + didYouMean(t.suggest(rest, true))
	}
	if inNamespace(upper) {
		return "not a latchkey setting" + didYouMean(t.suggest(upper, true))
	}
	if nearMisses {
		if s := t.suggest(upper, false); s != "" {
			return "not a latchkey setting" + didYouMean(s)
		}
	}
	return ""
}

// inNamespace says whether an upper-case name is latchkey's to define,
// being one of its prefixes. A family of settings under a prefix of its
// own (ALLOWED_EMAILS, ALLOWED_GROUPS, …) adds the prefix here.
func inNamespace(name string) bool {
	if name == "SESSION_MANAGER" { // set by X11 desktop sessions
		return false
	}
	for _, prefix := range []string{"OIDC_", "AUTH0_", "SESSION_", "DEV_PROVIDER", "UPSTREAM", "ALLOWED_", "ASSERTION_", "IDENTITY_HEADER"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// suggest is the setting an upper-case name most likely meant, or "".
// A hint names its setting. Otherwise it is the closest name or alias:
// loosely, when the name is refused anyway (one that starts like a
// setting's counts as close); strictly, when being close is what would
// refuse it, as other programs' names may be close to a setting's (HOME
// and HOST).
func (t table) suggest(name string, loose bool) string {
	best, bestDistance := "", -1
	for _, s := range t {
		if slices.Contains(s.hints, name) {
			return t.either(s.name)
		}
		for _, candidate := range s.names() {
			d := distance(name, candidate)
			limit := 1
			switch {
			case loose && (strings.HasPrefix(name, candidate) || strings.HasPrefix(candidate, name)):
				limit = d
			case loose:
				limit = max(2, len(candidate)/3)
			case len(candidate) > 6:
				limit = 2
			}
			if d <= limit && (bestDistance < 0 || d < bestDistance) {
				best, bestDistance = candidate, d
			}
		}
	}
	return best
}

// flagError is the flag package's complaint, with a suggestion for a flag
// it does not know.
func (t table) flagError(err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err.Error()
	}
	// --OIDC_ISSUER is as likely as --oidc-issuer-url.
	name = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "-")), "_", "-")
	best, bestDistance := "", -1
	for _, flag := range append(t.flags(), "env-file", "version") {
		d := distance(name, flag)
		if d <= max(2, len(flag)/3) || strings.HasPrefix(name, flag) {
			if bestDistance < 0 || d < bestDistance {
				best, bestDistance = "--"+flag, d
			}
		}
	}
	return err.Error() + didYouMean(best)
}

// flags are the settings' flags.
func (t table) flags() []string {
	var flags []string
	for _, s := range t {
		flags = append(flags, s.flag)
	}
	return flags
}

func didYouMean(suggestion string) string {
	if suggestion == "" {
		return " (latchkey --help lists them)"
	}
	return "; did you mean " + suggestion + "?"
}

// distance is the optimal string alignment distance of a and b: how many
// characters must be inserted, deleted, replaced, or swapped with their
// neighbour to make one the other.
func distance(a, b string) int {
	// rows[i%3][j] is the distance of a[:i] and b[:j].
	var rows [3][]int
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		row, up, upUp := rows[i%3], rows[(i-1)%3], rows[(i+1)%3]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(up[j]+1, row[j-1]+1, up[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				row[j] = min(row[j], upUp[j-2]+1)
			}
		}
	}
	return rows[len(a)%3][len(b)]
}

// text stores the value as it is.
func text(target *string) func(value) error {
	return func(v value) error {
		*target = v.text
		return nil
	}
}

// portNumber stores a TCP port number.
func portNumber(target *int) func(value) error {
	return func(v value) error {
		p, err := strconv.Atoi(v.text)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%q is not a port number (0–65535)", v.text)
		}
		*target = p
		return nil
	}
}

// baseURL stores the app's public URL: http or https, a host, no path.
func baseURL(target **url.URL) func(value) error {
	return func(v value) error {
		u, err := url.Parse(strings.TrimSuffix(v.text, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("%q must be an http or https URL with no path, such as https://app.example.com", v.text)
		}
		*target = u
		return nil
	}
}

// issuerURL stores the provider's issuer URL: https, or http on a
// loopback host. AUTH0_DOMAIN, a host name as Auth0's dashboard shows it,
// becomes https://DOMAIN/ (Auth0's issuers end in a slash).
func issuerURL(target *string) func(value) error {
	return func(v value) error {
		issuer := v.text
		if v.name == "AUTH0_DOMAIN" {
			issuer = "https://" + strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/") + "/"
		}
		u, err := url.Parse(issuer)
		switch {
		case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("%q is not an issuer URL", issuer)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			return fmt.Errorf("%q must use https (http is allowed for localhost only)", issuer)
		}
		*target = issuer
		return nil
	}
}

// privateKeyFile reads a PEM private key from the file the value names.
func privateKeyFile(target *crypto.Signer) func(value) error {
	return func(v value) error {
		f, err := os.Open(v.text)
		if err != nil {
			return fmt.Errorf("cannot read the key file: %w", err)
		}
		defer f.Close()
		// A key file is a few kilobytes; a larger one is not one.
		data, err := io.ReadAll(io.LimitReader(f, 64<<10))
		if err != nil {
			return fmt.Errorf("cannot read the key file: %w", err)
		}
		key, err := auth.ParsePrivateKey(data)
		if err != nil {
			return fmt.Errorf("%s: %w", v.text, err)
		}
		*target = key
		return nil
	}
}

// words stores a list separated by spaces or commas.
func words(target *[]string) func(value) error {
	return func(v value) error {
		*target = strings.FieldsFunc(v.text, func(r rune) bool { return r == ' ' || r == ',' })
		return nil
	}
}

// secrets stores comma-separated cookie secrets, each strong enough.
func secrets(target *[]string) func(value) error {
	const advice = "make a strong one with: openssl rand -base64 32"
	return func(v value) error {
		var list []string
		for s := range strings.SplitSeq(v.text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		if len(list) == 0 {
			return errors.New("holds no secret; " + advice)
		}
		for i, s := range list {
			which := "the secret"
			if len(list) > 1 {
				which = fmt.Sprintf("secret %d", i+1)
			}
			if why := weakness(s); why != "" {
				return fmt.Errorf("%s %s; %s", which, why, advice)
			}
		}
		*target = list
		return nil
	}
}

// weakness says why a cookie secret is too weak, or "" when it is not.
// Besides a short secret, it refuses what people type in place of one:
// a sample's placeholder, a few characters over and over, text that is at
// least half repeats of itself (a word or pattern written again), or that
// runs in steps (abcdef…, 0123…). A random secret of the required length
// passes: base64 of 32 random bytes has some thirty different characters,
// and a repeat of four or more of them is rare.
func weakness(secret string) string {
	if why := placeholder(secret); why != "" {
		return why
	}
	if len(secret) < auth.MinSecretLength {
		return fmt.Sprintf("has %d characters; it needs at least %d", len(secret), auth.MinSecretLength)
	}
	// Looking further than this shows nothing new, and bounds the work.
	b := []byte(secret[:min(len(secret), 256)])
	switch n := distinct(b); {
	case n == 1:
		return "is one character over and over"
	case n < 6:
		return fmt.Sprintf("uses only %d different characters", n)
	}
	if 2*repeated(b) >= len(b) {
		return "repeats itself"
	}
	if d := steps(b); 2*repeated(d) >= len(d) {
		return "runs in steps, as in abcdef or 0123"
	}
	return ""
}

// placeholder says how a secret is the text a sample puts in its place,
// or "" when it is not.
func placeholder(secret string) string {
	// Auth0's quickstarts ship this one, 28 characters long.
	if strings.EqualFold(secret, "ALongRandomlyGeneratedString") {
		return "is the placeholder from Auth0's sample .env, not a secret"
	}
	folded := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, secret)
	for _, phrase := range []string{"randomlygenerated", "changeme", "changethis", "replaceme", "yoursecret", "placeholder", "atleast32"} {
		if strings.Contains(folded, phrase) {
			return fmt.Sprintf("holds placeholder text (%q), not a secret", phrase)
		}
	}
	return ""
}

// distinct counts the different bytes of b.
func distinct(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

// repeated counts the bytes of b that repeat an earlier part of it, four
// bytes or more long: reading b from the start, each time the longest such
// repeat is taken (it may overlap itself, as in aaaa).
func repeated(b []byte) int {
	covered := 0
	for i := 1; i < len(b); {
		longest := 0
		for j := range i {
			n := 0
			for i+n < len(b) && b[j+n] == b[i+n] {
				n++
			}
			longest = max(longest, n)
		}
		if longest < 4 {
			i++
			continue
		}
		covered += longest
		i += longest
	}
	return covered
}

// steps is the difference of each byte of b and the next: a run such as
// abcdef is a repeat in its steps.
func steps(b []byte) []byte {
	d := make([]byte, len(b)-1)
	for i := range d {
		d[i] = b[i+1] - b[i]
	}
	return d
}

// storeKind stores where sessions live: "" for the embedded file,
// "memory", or a Redis URL.
func storeKind(target *string) func(value) error {
	return func(v value) error {
		switch {
		case v.text == "embedded":
			*target = ""
		case v.text == "memory", strings.HasPrefix(v.text, "redis://"), strings.HasPrefix(v.text, "rediss://"):
			*target = v.text
		default:
			return errors.New("must be embedded, memory, or a redis:// URL")
		}
		return nil
	}
}

// positiveDuration stores a duration longer than zero.
func positiveDuration(target *time.Duration) func(value) error {
	return func(v value) error {
		d, err := time.ParseDuration(v.text)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 30m or 12h", v.text)
		}
		*target = d
		return nil
	}
}

// durationUpTo stores a positive duration of at most limit.
func durationUpTo(target *time.Duration, limit time.Duration) func(value) error {
	positive := positiveDuration(target)
	return func(v value) error {
		if err := positive(v); err != nil {
			return err
		}
		if *target > limit {
			return fmt.Errorf("%v is longer than the limit of %v", *target, limit)
		}
		return nil
	}
}

// countUpTo stores a whole number from 0 to limit.
func countUpTo(target *int, limit int) func(value) error {
	return func(v value) error {
		n, err := strconv.Atoi(v.text)
		if err != nil || n < 0 || n > limit {
			return fmt.Errorf("%q is not a whole number from 0 to %d", v.text, limit)
		}
		*target = n
		return nil
	}
}

// proxyList stores addresses and CIDR ranges, as TRUSTED_PROXIES gives
// them: "loopback" stands for 127.0.0.0/8 and ::1, "none" for nothing.
func proxyList(target *[]netip.Prefix) func(value) error {
	return func(v value) error {
		var list []netip.Prefix
		for item := range strings.SplitSeq(v.text, ",") {
			switch item = strings.TrimSpace(item); {
			case item == "":
			case strings.EqualFold(item, "none"):
			case strings.EqualFold(item, "loopback"):
				list = append(list, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
			case strings.Contains(item, "/"):
				p, err := netip.ParsePrefix(item)
				if err != nil {
					return fmt.Errorf("%q is not an address or CIDR range such as 10.0.0.0/8", item)
				}
				list = append(list, p.Masked())
			default:
				a, err := netip.ParseAddr(item)
				if err != nil {
					return fmt.Errorf("%q is not an address or CIDR range such as 10.0.0.0/8", item)
				}
				list = append(list, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		}
		*target = list
		return nil
	}
}

// upstreamURL stores the app's address.
func upstreamURL(target **proxy.Upstream) func(value) error {
	return func(v value) error {
		u, err := proxy.ParseUpstream(v.text)
		if err != nil {
			return err
		}
		*target = u
		return nil
	}
}

// routePrefix stores where latchkey's own routes are: a plain absolute
// path, not the root, without a final slash.
func routePrefix(target *string) func(value) error {
	return func(v value) error {
		p := strings.TrimSuffix(v.text, "/")
		switch {
		case p == "":
			return fmt.Errorf("%q: latchkey's routes need a path of their own in front of an app, such as %s", v.text, defaultPrefix)
		case p[0] != '/':
			return fmt.Errorf("%q must start with /, such as %s", v.text, defaultPrefix)
		}
		for seg := range strings.SplitSeq(p[1:], "/") {
			if seg == "" || seg == "." || seg == ".." || strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" {
				return fmt.Errorf("%q must be a plain path of letters, digits and -._~, such as %s", v.text, defaultPrefix)
			}
		}
		*target = p
		return nil
	}
}

// list is a comma-separated list, without its spaces and empty items.
func list(text string) []string {
	var items []string
	for item := range strings.SplitSeq(text, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// publicPaths stores the app's path patterns that need no session.
func publicPaths(target **proxy.PublicPaths) func(value) error {
	return func(v value) error {
		pp, err := proxy.ParsePublicPaths(list(v.text))
		if err != nil {
			return err
		}
		*target = pp
		return nil
	}
}

// allowList stores one list of who may use the app, checked as the rule
// policy makes of it.
func allowList(target *[]string, policy func([]string) proxy.PolicyConfig) func(value) error {
	return func(v value) error {
		items := list(v.text)
		if _, err := proxy.NewPolicy(policy(items)); err != nil {
			return err
		}
		*target = items
		return nil
	}
}

// boolean stores true or false, also written as 1 and 0, yes and no, on
// and off.
func boolean(target *bool) func(value) error {
	return func(v value) error {
		switch strings.ToLower(v.text) {
		case "true", "1", "yes", "on":
			*target = true
		case "false", "0", "no", "off":
			*target = false
		default:
			return fmt.Errorf("%q is not true or false", v.text)
		}
		return nil
	}
}

// identityHeaders stores the names of the identity headers: the defaults,
// changed by key=Header-Name items; none sends no such header.
func identityHeaders(target *proxy.HeaderNames) func(value) error {
	return func(v value) error {
		names := proxy.DefaultHeaderNames()
		fields := map[string]*string{
			"user": &names.User, "email": &names.Email, "preferred_username": &names.PreferredUsername,
			"groups": &names.Groups, "assertion": &names.Assertion,
		}
		for _, item := range list(v.text) {
			key, name, ok := strings.Cut(item, "=")
			key, name = strings.TrimSpace(key), strings.TrimSpace(name)
			field := fields[key]
			switch {
			case !ok || field == nil:
				return fmt.Errorf("%q is not key=Header-Name with a key of user, email, preferred_username, groups or assertion", item)
			case strings.EqualFold(name, "none") && key == "user":
				return errors.New("the user header cannot be turned off: it is what tells the app who is signed in")
			case strings.EqualFold(name, "none"):
				name = ""
			}
			*field = name
		}
		if _, err := proxy.NewIdentityHeaders(proxy.IdentityConfig{Names: names}); err != nil {
			return err
		}
		*target = names
		return nil
	}
}

// keyFile stores the keys of a PEM file of assertion signing keys.
func keyFile(target *[]*ecdsa.PrivateKey) func(value) error {
	return func(v value) error {
		data, err := os.ReadFile(v.text)
		if err != nil {
			return fmt.Errorf("read the key file: %w", err)
		}
		keys, err := proxy.ParseSigningKeys(data)
		if err != nil {
			return fmt.Errorf("%s: %w", v.text, err)
		}
		*target = keys
		return nil
	}
}

// logLevel stores a slog level by name.
func logLevel(target *slog.Level) func(value) error {
	return func(v value) error {
		if err := target.UnmarshalText([]byte(v.text)); err != nil {
			return fmt.Errorf("%q is not one of debug, info, warn, error", v.text)
		}
		return nil
	}
}

// isLoopback says whether host names this machine: localhost and its
// subdomains (RFC 6761), or a loopback address.
func isLoopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// printUsage writes --help: every setting of the table, then the flags
// that are not settings.
func (t table) printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: latchkey [flags]

latchkey signs people in to a web app through OpenID Connect.

Each setting comes from its flag, else the environment, else a .env file in
the working directory, else its default. A name that starts with OIDC_,
AUTH0_, SESSION_, DEV_PROVIDER, UPSTREAM, ALLOWED_, ASSERTION_ or
IDENTITY_HEADER but is no setting is an error, and so is a name in .env
that is close to a setting's.

The identity provider: with OIDC_ISSUER (or AUTH0_DOMAIN) set, people sign
in there. Without it, latchkey serves its built-in development provider at
BASE_URL/dev-idp, where anyone can sign in as a demo user, but only on what
looks like a developer's machine: no OIDC_CLIENT_ID or OIDC_CLIENT_SECRET
(nor their AUTH0_ names), and BASE_URL unset or http on a loopback host
(localhost, 127.0.0.1, [::1]). Anything else without an issuer is an error,
and so is no issuer with DEV_PROVIDER=off. With the development provider,
latchkey listens on 127.0.0.1 and ::1 only, unless HOST is set: then every
page warns that the demo login is reachable from the network.

In front of an app: with UPSTREAM, latchkey is the app's front door. Its
own pages move under PROXY_PREFIX (/.latchkey), and every other request
goes to the app once the user has signed in (PUBLIC_PATHS: without), with
who is signed in: the headers of IDENTITY_HEADERS and a signed assertion,
whose keys are at PROXY_PREFIX/jwks.json. With PROXY_PREFIX and no
UPSTREAM, a front server that serves the app (nginx auth_request, Caddy
forward_auth, Traefik forwardAuth) asks PROXY_PREFIX/check about each
request instead.

`)
	for _, s := range t {
		def := s.def
		if s.shown != "" {
			def = s.shown
		}
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s\n", s.flag)
		words := append(strings.Fields(t.either(s.name)+": "+s.usage), "(default: "+def+")")
		fmt.Fprint(w, wrap(words, "      ", 78))
	}
	fmt.Fprint(w, `  --env-file
      file of KEY=value settings read at start (default: .env; empty: none)
  --version
      print the version and exit
`)
}

// printRegistration writes, for --help, the URLs to register at the
// identity provider with the settings given, and the default BASE_URL
// when none is.
func printRegistration(w io.Writer, c *config) {
	base := c.baseURL
	if base == nil {
		port := c.port
		if port == 0 {
			port = 3000
		}
		base = &url.URL{Scheme: "http", Host: "localhost:" + strconv.Itoa(port)}
	}
	fmt.Fprintf(w, "\nRegister at the identity provider (BASE_URL %s%s):\n", base, frontMode(c))
	for _, line := range registration(base, c.prefix) {
		fmt.Fprintf(w, "  %-27s %s\n", line[0]+":", line[1])
	}
}

// frontMode says, for --help, whether latchkey is in front of an app.
func frontMode(c *config) string {
	switch {
	case c.upstream != nil:
		return ", in front of " + c.upstream.String()
	case c.front():
		return ", answering a front server's forward auth"
	}
	return ""
}

// registration lists the URLs to register at the provider for latchkey
// at base, its routes under prefix: what each is called, and the URL.
func registration(base *url.URL, prefix string) [][2]string {
	own := handlers.OwnURLs(base, prefix)
	return [][2]string{
		{"redirect (callback) URL", own.Callback},
		{"post-logout redirect URL", own.PostLogout},
		{"back-channel logout URL", own.BackChannelLogout},
	}
}

// wrap lays words out in lines of at most width (a longer word has a
// line of its own), each starting with indent.
func wrap(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range words {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// randomSecret is a secret for values nobody configures: the development
// provider's client secret, a throw-away cookie secret.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
