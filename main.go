// Command latchkey is a web app that signs people in through OpenID
// Connect, with htmx partial-page updates. With no provider configured it
// serves a development identity provider of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"latchkey/auth"
	"latchkey/auth/boltstore"
	"latchkey/auth/devidp"
	"latchkey/auth/redisstore"
	"latchkey/handlers"
	"latchkey/proxy"
)

// version is stamped in by the release build (-ldflags "-X main.version=…").
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, buildVersion(), os.Args, environment(os.Environ()), os.Stdout, os.Stderr, nil)
	stop()
	var cfgErr *configError
	switch {
	case err == nil:
	case errors.As(err, &cfgErr):
		fmt.Fprintf(os.Stderr, "latchkey: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "latchkey: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole program: it reads the configuration from args and env
// (the process environment), serves until ctx is done, then shuts down
// gracefully. version is what --version prints. listening, when not nil,
// is called once with BASE_URL as soon as the program accepts
// connections, so a caller that chose port 0 learns where it serves.
func run(ctx context.Context, version string, args []string, env map[string]string, stdout, stderr io.Writer, listening func(url string)) error {
	cfg, err := loadConfig(args, env, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.showVersion {
		fmt.Fprintln(stdout, "latchkey", version)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	listeners, err := listen(cfg, log)
	if err != nil {
		return err
	}
	var addrs []string
	for _, l := range listeners {
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	port := listeners[0].Addr().(*net.TCPAddr).Port
	if cfg.baseURL == nil {
		cfg.baseURL = &url.URL{Scheme: "http", Host: "localhost:" + strconv.Itoa(port)}
	}

	store, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	checkStore(ctx, store, log)
	self := &loopback{origin: cfg.baseURL}
	deps, err := wire(cfg, log, store, self)
	if err != nil {
		return err
	}
	handler, err := handlers.New(deps)
	if err != nil {
		return err
	}
	self.serve(handler)

	srv := &http.Server{
		Handler:           handler,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.writeTimeout(),
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { serveErr <- srv.Serve(l) }()
	}
	log.Info("listening", "url", cfg.baseURL.String(), "addr", strings.Join(addrs, ","), "version", version)
	if cfg.devIdPExposed {
		log.Warn("the development identity provider is reachable from the network: anyone who can reach "+
			"this address can sign in as a demo user. Leave HOST unset to listen on loopback only",
			"HOST", cfg.host)
	}
	logMode(cfg, log)
	if listening != nil {
		listening(cfg.baseURL.String())
	}

	// Discovery runs once the listener is up: the development provider is
	// served by this very process.
	discoverCtx, stopDiscovery := context.WithCancel(ctx)
	defer stopDiscovery()
	go deps.Provider.Run(discoverCtx)
	go sweep(discoverCtx, store, log)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// logMode says in the log what latchkey stands in front of, if anything,
// and the URLs to register at a real identity provider.
func logMode(cfg *config, log *slog.Logger) {
	switch {
	case cfg.upstream != nil:
		log.Info("in front of an app: latchkey's own routes are under "+cfg.prefix+", every other request goes to the app",
			"upstream", cfg.upstream.String(), "public_paths", strings.Join(cfg.publicPaths.Patterns(), ","))
	case cfg.front():
		log.Info("answering forward auth: a front server asks "+cfg.prefix+"/check about each request", "prefix", cfg.prefix)
	}
	if cfg.devIdP {
		return
	}
	args := []any{}
	for _, line := range registration(cfg.baseURL, cfg.prefix) {
		args = append(args, strings.ReplaceAll(strings.TrimSuffix(line[0], " URL"), " ", "_"), line[1])
	}
	log.Info("register these URLs at the identity provider", args...)
}

// listen opens the listeners: on HOST, or with the development provider
// and no HOST, on loopback only — 127.0.0.1, and ::1 on the same port
// where the machine has it, since browsers try both for localhost.
func listen(cfg *config, log *slog.Logger) ([]net.Listener, error) {
	if !cfg.loopbackOnly {
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
		if err != nil {
			return nil, listenError(cfg, err)
		}
		return []net.Listener{l}, nil
	}
	v4, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if err != nil {
		return nil, listenError(cfg, err)
	}
	port := strconv.Itoa(v4.Addr().(*net.TCPAddr).Port)
	v6, err := net.Listen("tcp", net.JoinHostPort("::1", port))
	switch {
	case err == nil:
		return []net.Listener{v4, v6}, nil
	case errors.Is(err, syscall.EADDRINUSE):
		log.Warn("another program listens on [::1]:"+port+"; a browser may reach it instead of latchkey at localhost:"+port, "err", err)
	default:
		log.Debug("no IPv6 loopback: listening on 127.0.0.1 only", "err", err)
	}
	return []net.Listener{v4}, nil
}

// listenError says why latchkey could not listen, and for a port in use
// which setting chooses another.
func listenError(cfg *config, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d is in use by another program: choose another with %s (or PORT=0 for any free one)", cfg.port, portSetting(cfg))
	}
	return fmt.Errorf("listen on port %d: %w", cfg.port, err)
}

// portSetting names the setting that chooses the port, as the user gave
// it, or both its names when it was not given.
func portSetting(cfg *config) string {
	if v, ok := cfg.given["PORT"]; ok {
		return v.name
	}
	return "PORT or --port"
}

// maxHeaderBytes bounds a request's header. latchkey's own cookies take
// under 8 KB whatever a browser does; this leaves room for an app's
// cookies behind it, and keeps a thousand connections that never finish
// their header from holding a gigabyte (Go's default is 1 MB each).
const maxHeaderBytes = 32 << 10

// wire builds the relying party, sessions and, without a configured
// provider, the development provider, which the relying party reaches
// through self.
func wire(cfg *config, log *slog.Logger, store auth.SessionStore, self *loopback) (handlers.Deps, error) {
	base := cfg.baseURL
	secrets := cfg.sessionSecrets
	if len(secrets) == 0 {
		// Only with the development provider: configuration made sure.
		secrets = []string{randomSecret()}
		log.Warn("SESSION_SECRET is not set: using a random one, so sessions end when the process does")
	}
	cookies, err := auth.NewCookies(auth.CookieConfig{
		Secrets:       secrets,
		Secure:        base.Scheme == "https",
		SessionMaxAge: cfg.sessionMaxAge,
	})
	if err != nil {
		return handlers.Deps{}, &configError{problems: []string{cfg.nameOf("SESSION_SECRET") + ": " + err.Error()}}
	}

	assets, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		return handlers.Deps{}, fmt.Errorf("open embedded assets: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Logins come in bursts: keep a connection to the provider for each
	// of them rather than the default two, which would make most logins
	// open new ones.
	transport.MaxIdleConnsPerHost = 64
	deps := handlers.Deps{
		Logger:  log,
		BaseURL: base,
		Cookies: cookies,
		Sessions: auth.NewSessions(auth.SessionsConfig{
			Store:       store,
			Cookies:     cookies,
			IdleTimeout: cfg.sessionIdle,
			MaxAge:      cfg.sessionMaxAge,
		}),
		Assets:          assets,
		ProviderTimeout: cfg.callbackTimeout(),
		DevIdPExposed:   cfg.devIdPExposed,
		LoginRateLimit:  cfg.loginRateLimit,
		TrustedProxies:  cfg.trustedProxies,
		Prefix:          cfg.prefix,
	}
	own := handlers.OwnURLs(base, cfg.prefix)
	issuer, clientID, clientSecret := cfg.issuer, cfg.clientID, cfg.clientSecret
	if cfg.devIdP {
		issuer = own.DevIdP
		clientID, clientSecret = "latchkey-dev", randomSecret()
		deps.DevIdP = &devidp.Config{
			Issuer:                 issuer,
			ClientID:               clientID,
			ClientSecret:           clientSecret,
			RedirectURIs:           []string{own.Callback},
			PostLogoutRedirectURIs: []string{own.PostLogout},
			AvatarBaseURL:          own.Avatars,
			BackChannelLogoutURI:   own.BackChannelLogout,
			Logger:                 log,
		}
	}
	var provider http.RoundTripper = transport
	if deps.DevIdP != nil {
		// The relying party reaches the development provider inside this
		// process, whatever host name BASE_URL gives it.
		self.next = transport
		provider = self
		// Logout tokens reach this process the same way.
		deps.DevIdP.HTTPClient = &http.Client{
			Timeout:       5 * time.Second,
			Transport:     self,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	httpClient := &http.Client{Timeout: cfg.providerTimeout, Transport: provider}
	var clientKey *auth.ClientKey
	if cfg.clientKey != nil {
		if clientKey, err = auth.NewClientKey(cfg.clientKey, cfg.clientKeyID); err != nil {
			return handlers.Deps{}, &configError{problems: []string{cfg.nameOf("OIDC_CLIENT_KEY_FILE") + ": " + err.Error()}}
		}
		log.Info("the client authenticates with private_key_jwt: register its public key at the provider under this kid",
			"kid", clientKey.KeyID, "alg", clientKey.Algorithm)
	}
	providerCfg := auth.ProviderConfig{
		Issuer:       issuer,
		ClientID:     clientID,
		ClientSecret: clientSecret,
		AuthMethod:   cfg.tokenAuthMethod,
		ClientKey:    clientKey,
		RedirectURI:  own.Callback,
		Scopes:       cfg.scopes,
		HTTPClient:   httpClient,
		Logger:       log,
	}
	if cfg.front() {
		providerCfg.GroupsClaim = cfg.groupsClaim
		if cfg.groupsClaim == "groups" {
			// Okta, Dex and others release the groups claim only with it.
			providerCfg.ScopesIfOffered = []string{"groups"}
		}
		if deps.Front, err = front(cfg, secrets); err != nil {
			return handlers.Deps{}, err
		}
	}
	deps.Provider = auth.NewProvider(providerCfg)
	return deps, nil
}

// front configures latchkey in front of the app: the proxy to it, who
// may use it, and how the app is told who is asking, with an assertion
// signed by keys derived from the session secrets unless a key file is
// given.
func front(cfg *config, secrets []string) (handlers.Front, error) {
	policy, err := proxy.NewPolicy(cfg.allowed)
	if err != nil {
		return handlers.Front{}, &configError{problems: []string{"ALLOWED_: " + err.Error()}}
	}
	keys := cfg.assertionKeys
	if keys == nil {
		if keys, err = proxy.SigningKeysFromSecrets(secrets); err != nil {
			return handlers.Front{}, &configError{problems: []string{cfg.nameOf("SESSION_SECRET") + ": " + err.Error()}}
		}
	}
	signer, err := proxy.NewSigner(cfg.baseURL.String(), keys)
	if err != nil {
		return handlers.Front{}, &configError{problems: []string{cfg.nameOf("ASSERTION_KEY_FILE") + ": " + err.Error()}}
	}
	audience := cfg.assertionAudience
	switch {
	case audience != "":
	case cfg.upstream != nil:
		audience = cfg.upstream.Origin()
	default:
		// The front server serves the app at BASE_URL.
		audience = cfg.baseURL.Scheme + "://" + cfg.baseURL.Host
	}
	f := handlers.Front{
		Upstream:        cfg.upstream,
		UpstreamHost:    !cfg.passHostHeader,
		PublicPaths:     cfg.publicPaths,
		Policy:          policy,
		Headers:         cfg.identityHeaders,
		PassAccessToken: cfg.passAccessToken,
		Signer:          signer,
		Audience:        audience,
	}
	if cfg.upstream != nil {
		f.Transport = proxy.NewTransport(cfg.upstream, proxy.TransportOptions{})
	}
	return f, nil
}

// sessionStore is a SessionStore the program must close.
type sessionStore interface {
	auth.SessionStore
	Close() error
}

// openStore opens the configured session store.
func openStore(cfg *config, log *slog.Logger) (sessionStore, error) {
	switch {
	case cfg.sessionStore == "memory":
		return memoryStore{auth.NewMemoryStore(nil)}, nil
	case cfg.sessionStore != "":
		s, err := redisstore.New(cfg.sessionStore, redisstore.Options{Logger: log})
		if err != nil {
			return nil, &configError{problems: []string{"SESSION_STORE: " + err.Error()}}
		}
		return s, nil
	default:
		s, err := boltstore.Open(filepath.Join(cfg.dataDir, "sessions.db"), boltstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("open the session store in DATA_DIR %s: %w", cfg.dataDir, err)
		}
		return s, nil
	}
}

// checkStore says in the log, at start, when the session store cannot be
// reached: latchkey starts all the same, answers 503 until it can, and
// /readyz says why.
func checkStore(ctx context.Context, store sessionStore, log *slog.Logger) {
	p, ok := store.(interface{ Ping(context.Context) error })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		log.Warn("session store cannot be reached: pages answer 503 and /readyz is not ready until it can", "err", err)
	}
}

// memoryStore has nothing to close.
type memoryStore struct{ *auth.MemoryStore }

func (memoryStore) Close() error { return nil }

// sweep deletes expired sessions now and then, until ctx ends.
func sweep(ctx context.Context, store auth.SessionStore, log *slog.Logger) {
	ticker := time.NewTicker(5 * time.Minute)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n, err := store.Sweep(ctx)
		if err != nil {
			log.Warn("sweep expired sessions", "err", err)
			continue
		}
		if n > 0 {
			log.Debug("swept expired sessions", "count", n)
		}
	}
}

// buildVersion is the version stamped in by the release build, else the
// module version the go command recorded, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
