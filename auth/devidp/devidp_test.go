package devidp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
)

const (
	testClientID     = "latchkey"
	testClientSecret = "correct horse battery staple"
)

// syncBuffer is a log sink the server's goroutines can write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is an app server with the provider mounted at /dev-idp.
type testEnv struct {
	srv      *httptest.Server
	base     string
	issuer   string
	provider *Provider
	logs     *syncBuffer
	browser  *http.Client // follows no redirects, so each hop can be checked

	mu    sync.Mutex
	pages []SignInPage
}

type mountStyle int

const (
	mountChi mountStyle = iota
	mountStripPrefix
)

func testConfig(base string, logs io.Writer) Config {
	return Config{
		Issuer:                 base + "/dev-idp",
		ClientID:               testClientID,
		ClientSecret:           testClientSecret,
		RedirectURIs:           []string{base + "/callback"},
		PostLogoutRedirectURIs: []string{base + "/"},
		AvatarBaseURL:          base + "/assets/avatars/",
		Logger:                 slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SignIn: func(w http.ResponseWriter, _ *http.Request, _ SignInPage) {
			w.WriteHeader(http.StatusOK)
		},
	}
}

// newTestEnv starts the app server; edits adjust the provider's config
// before it is built.
func newTestEnv(t *testing.T, style mountStyle, edits ...func(*Config)) *testEnv {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	env := &testEnv{srv: srv, base: base, issuer: base + "/dev-idp", logs: &syncBuffer{}}

	cfg := testConfig(base, env.logs)
	cfg.SignIn = func(w http.ResponseWriter, _ *http.Request, page SignInPage) {
		env.mu.Lock()
		env.pages = append(env.pages, page)
		env.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "sign in")
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.provider = p

	switch style {
	case mountChi:
		app := chi.NewRouter()
		app.Mount("/dev-idp", p.Handler())
		srv.Config.Handler = app
	case mountStripPrefix:
		mux := http.NewServeMux()
		mux.Handle("/dev-idp/", http.StripPrefix("/dev-idp", p.Handler()))
		srv.Config.Handler = mux
	}
	srv.Start()
	t.Cleanup(srv.Close)

	env.browser = srv.Client()
	env.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return env
}

func (e *testEnv) lastPage(t *testing.T) SignInPage {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pages) == 0 {
		t.Fatal("the sign-in page was not rendered")
	}
	return e.pages[len(e.pages)-1]
}

type nonceKey struct{}

func withNonce(ctx context.Context, nonce string) context.Context {
	return context.WithValue(ctx, nonceKey{}, nonce)
}

func nonceFromContext(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

func (e *testEnv) relyingParty(t *testing.T, secret string, style oauth2.AuthStyle) rp.RelyingParty {
	t.Helper()
	key := []byte(rand.Text() + rand.Text())[:32]
	party, err := rp.NewRelyingPartyOIDC(t.Context(), e.issuer, testClientID, secret, e.base+"/callback",
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		rp.WithPKCE(httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())),
		rp.WithHTTPClient(e.srv.Client()),
		rp.WithAuthStyle(style),
		rp.WithVerifierOpts(rp.WithSupportedSigningAlgorithms("ES256"), rp.WithNonce(nonceFromContext)),
	)
	if err != nil {
		t.Fatalf("relying party: %v", err)
	}
	return party
}

// login is one authorization request with fresh PKCE, nonce and state.
type login struct {
	verifier, nonce, state string
}

func newLogin() login {
	return login{verifier: rand.Text() + rand.Text(), nonce: rand.Text(), state: rand.Text()}
}

func (l login) authURL(party rp.RelyingParty) string {
	return rp.AuthURL(l.state, party,
		rp.WithCodeChallenge(oidc.NewSHACodeChallenge(l.verifier)),
		rp.AuthURLOpt(rp.WithURLParam("nonce", l.nonce)))
}

func (e *testEnv) get(t *testing.T, rawURL string) *http.Response {
	t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = e.base + rawURL
	}
	resp, err := e.browser.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *testEnv) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	resp, err := e.browser.PostForm(e.base+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantRedirect(t *testing.T, resp *http.Response, status int) *url.URL {
	t.Helper()
	if resp.StatusCode != status {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body %q", resp.Request.Method, resp.Request.URL, resp.StatusCode, status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("%s %s: no Location: %v", resp.Request.Method, resp.Request.URL, err)
	}
	return loc
}

// openSignInPage starts an authorization request and follows it to the
// sign-in page, returning what the page was given.
func (e *testEnv) openSignInPage(t *testing.T, authURL string) SignInPage {
	t.Helper()
	loc := wantRedirect(t, e.get(t, authURL), http.StatusFound)
	if loc.Path != "/dev-idp/login" || loc.Query().Get("authRequestID") == "" {
		t.Fatalf("authorize redirected to %s, want /dev-idp/login?authRequestID=…", loc)
	}
	resp := e.get(t, loc.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("sign-in page Cache-Control = %q, want no-store", got)
	}
	page := e.lastPage(t)
	if page.AuthRequestID != loc.Query().Get("authRequestID") {
		t.Errorf("page AuthRequestID = %q, want %q", page.AuthRequestID, loc.Query().Get("authRequestID"))
	}
	return page
}

// signIn chooses a demo user on the sign-in page and follows the provider
// back to the client's redirect URI, returning that URL.
func (e *testEnv) signIn(t *testing.T, page SignInPage, userID string) *url.URL {
	t.Helper()
	loc := wantRedirect(t, e.post(t, page.Action, url.Values{"authRequestID": {page.AuthRequestID}, "user": {userID}}), http.StatusSeeOther)
	if want := e.issuer + "/authorize/callback"; loc.Scheme+"://"+loc.Host+loc.Path != want {
		t.Fatalf("sign-in redirected to %s, want %s", loc, want)
	}
	cb := wantRedirect(t, e.get(t, loc.String()), http.StatusFound)
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != e.base+"/callback" {
		t.Fatalf("provider redirected to %s, want the client's redirect URI", cb)
	}
	return cb
}

// codeFlow runs a whole login as userID and exchanges the code.
func (e *testEnv) codeFlow(t *testing.T, party rp.RelyingParty, userID string) (*oidc.Tokens[*oidc.IDTokenClaims], login) {
	t.Helper()
	l := newLogin()
	cb := e.signIn(t, e.openSignInPage(t, l.authURL(party)), userID)
	if got := cb.Query().Get("state"); got != l.state {
		t.Fatalf("callback state = %q, want %q", got, l.state)
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](withNonce(t.Context(), l.nonce), cb.Query().Get("code"), party, rp.WithCodeVerifier(l.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tokens, l
}

func TestCodeFlow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style mountStyle
	}{
		{name: "mounted with chi", style: mountChi},
		{name: "mounted with http.StripPrefix", style: mountStripPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, tc.style)
			party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)

			l := newLogin()
			page := env.openSignInPage(t, l.authURL(party))
			if page.ClientID != testClientID {
				t.Errorf("page ClientID = %q, want %q", page.ClientID, testClientID)
			}
			if page.Action != "/dev-idp/login" {
				t.Errorf("page Action = %q, want /dev-idp/login", page.Action)
			}
			if len(page.Users) != 3 {
				t.Errorf("page offers %d users, want 3", len(page.Users))
			}

			cb := env.signIn(t, page, "ada")
			if got := cb.Query().Get("state"); got != l.state {
				t.Errorf("callback state = %q, want %q", got, l.state)
			}
			code := cb.Query().Get("code")
			if code == "" {
				t.Fatalf("callback %s has no code", cb)
			}

			tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](withNonce(t.Context(), l.nonce), code, party, rp.WithCodeVerifier(l.verifier))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			claims := tokens.IDTokenClaims
			if claims.Subject != "ada" || claims.Name != "Ada Lovelace" || claims.GivenName != "Ada" || claims.FamilyName != "Lovelace" {
				t.Errorf("ID token profile = sub %q name %q given %q family %q", claims.Subject, claims.Name, claims.GivenName, claims.FamilyName)
			}
			if claims.Email != "ada@example.com" || !bool(claims.EmailVerified) {
				t.Errorf("ID token email = %q verified %v", claims.Email, claims.EmailVerified)
			}
			if claims.Picture != env.base+"/assets/avatars/ada.svg" {
				t.Errorf("ID token picture = %q", claims.Picture)
			}
			if claims.PreferredUsername != "ada" {
				t.Errorf("ID token preferred_username = %q", claims.PreferredUsername)
			}
			if claims.Nonce != l.nonce {
				t.Errorf("ID token nonce = %q, want %q", claims.Nonce, l.nonce)
			}
			if claims.Issuer != env.issuer {
				t.Errorf("ID token iss = %q, want %q", claims.Issuer, env.issuer)
			}
			if life := claims.GetExpiration().Sub(claims.GetIssuedAt()); life < 55*time.Minute || life > 65*time.Minute {
				t.Errorf("ID token lifetime = %v, want about an hour", life)
			}
			if tokens.RefreshToken == "" {
				t.Error("no refresh token for offline_access")
			}
			if !strings.EqualFold(tokens.TokenType, "bearer") {
				t.Errorf("token type = %q, want Bearer", tokens.TokenType)
			}

			if _, err := rp.CodeExchange[*oidc.IDTokenClaims](withNonce(t.Context(), l.nonce), code, party, rp.WithCodeVerifier(l.verifier)); err == nil {
				t.Error("a code was accepted twice")
			}

			info, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, claims.Subject, party)
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Name != "Ada Lovelace" || info.Email != "ada@example.com" || !bool(info.EmailVerified) || info.Picture != env.base+"/assets/avatars/ada.svg" {
				t.Errorf("userinfo = %+v", info)
			}

			refreshed, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", "")
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if refreshed.AccessToken == "" || refreshed.AccessToken == tokens.AccessToken {
				t.Error("refresh gave no new access token")
			}
			if refreshed.RefreshToken == "" || refreshed.RefreshToken == tokens.RefreshToken {
				t.Error("refresh did not rotate the refresh token")
			}
			if refreshed.IDTokenClaims == nil || refreshed.IDTokenClaims.Subject != "ada" || refreshed.IDTokenClaims.Email != "ada@example.com" {
				t.Errorf("refreshed ID token claims = %+v", refreshed.IDTokenClaims)
			}
			if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", ""); err == nil {
				t.Error("a spent refresh token was accepted again")
			}
			if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, claims.Subject, party); err == nil {
				t.Error("the access token replaced by a refresh still works at userinfo")
			}
			if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), refreshed.AccessToken, refreshed.TokenType, claims.Subject, party); err != nil {
				t.Errorf("userinfo with the refreshed access token: %v", err)
			}
		})
	}
}

func TestScopesLimitClaims(t *testing.T) {
	env := newTestEnv(t, mountChi)
	key := []byte(rand.Text() + rand.Text())[:32]
	party, err := rp.NewRelyingPartyOIDC(t.Context(), env.issuer, testClientID, testClientSecret, env.base+"/callback",
		[]string{oidc.ScopeOpenID},
		rp.WithPKCE(httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())),
		rp.WithHTTPClient(env.srv.Client()),
		rp.WithVerifierOpts(rp.WithSupportedSigningAlgorithms("ES256"), rp.WithNonce(nonceFromContext)),
	)
	if err != nil {
		t.Fatalf("relying party: %v", err)
	}
	tokens, _ := env.codeFlow(t, party, "grace")
	if c := tokens.IDTokenClaims; c.Subject != "grace" || c.Name != "" || c.Email != "" {
		t.Errorf("openid-only ID token: sub %q name %q email %q; want only sub", c.Subject, c.Name, c.Email)
	}
	if tokens.RefreshToken != "" {
		t.Error("refresh token issued without offline_access")
	}
	info, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, "grace", party)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Name != "" || info.Email != "" {
		t.Errorf("openid-only userinfo carries profile or email: %+v", info)
	}
}

func TestCancel(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	l := newLogin()
	page := env.openSignInPage(t, l.authURL(party))

	loc := wantRedirect(t, env.post(t, page.Action, url.Values{"authRequestID": {page.AuthRequestID}, "cancel": {"1"}}), http.StatusFound)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != env.base+"/callback" {
		t.Fatalf("cancel redirected to %s, want the client's redirect URI", loc)
	}
	if got := loc.Query().Get("error"); got != "access_denied" {
		t.Errorf("error = %q, want access_denied", got)
	}
	if got := loc.Query().Get("state"); got != l.state {
		t.Errorf("state = %q, want %q", got, l.state)
	}
	if loc.Query().Has("code") {
		t.Error("a cancelled sign-in carries a code")
	}

	// The cancelled request is gone: signing in to it now fails.
	resp := env.post(t, page.Action, url.Values{"authRequestID": {page.AuthRequestID}, "user": {"ada"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("sign-in to a cancelled request: status %d, want 400", resp.StatusCode)
	}
}

func TestSignInRejectsBadInput(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	page := env.openSignInPage(t, newLogin().authURL(party))

	for _, tc := range []struct {
		name string
		do   func() *http.Response
	}{
		{name: "page for an unknown request", do: func() *http.Response {
			return env.get(t, "/dev-idp/login?authRequestID=nope")
		}},
		{name: "page without a request", do: func() *http.Response {
			return env.get(t, "/dev-idp/login")
		}},
		{name: "unknown user", do: func() *http.Response {
			return env.post(t, page.Action, url.Values{"authRequestID": {page.AuthRequestID}, "user": {"mallory"}})
		}},
		{name: "no user", do: func() *http.Response {
			return env.post(t, page.Action, url.Values{"authRequestID": {page.AuthRequestID}})
		}},
		{name: "unknown request", do: func() *http.Response {
			return env.post(t, page.Action, url.Values{"authRequestID": {"nope"}, "user": {"ada"}})
		}},
		{name: "cancel of an unknown request", do: func() *http.Response {
			return env.post(t, page.Action, url.Values{"authRequestID": {"nope"}, "cancel": {"1"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.do()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("redirected to %s", loc)
			}
		})
	}

	// None of that spent the real request.
	env.signIn(t, page, "alan")
}

func TestAuthorizeRefusals(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	l := newLogin()
	good := l.authURL(party)

	t.Run("unknown redirect_uri is refused without a redirect", func(t *testing.T) {
		u, _ := url.Parse(good)
		q := u.Query()
		q.Set("redirect_uri", "https://evil.example/callback")
		u.RawQuery = q.Encode()
		resp := env.get(t, u.String())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("redirected to %s", loc)
		}
	})

	t.Run("unknown client is refused without a redirect", func(t *testing.T) {
		u, _ := url.Parse(good)
		q := u.Query()
		q.Set("client_id", "someone-else")
		u.RawQuery = q.Encode()
		resp := env.get(t, u.String())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("redirected to %s", loc)
		}
	})

	t.Run("implicit flow never reaches the sign-in page", func(t *testing.T) {
		u, _ := url.Parse(good)
		q := u.Query()
		q.Set("response_type", "id_token")
		u.RawQuery = q.Encode()
		resp := env.get(t, u.String())
		if loc, err := resp.Location(); err == nil && (loc.Path == "/dev-idp/login" || loc.Query().Has("code") || strings.Contains(loc.Fragment, "id_token")) {
			t.Errorf("redirected to %s", loc)
		}
		if resp.StatusCode < 300 {
			t.Errorf("status %d, want a refusal", resp.StatusCode)
		}
	})

	for _, tc := range []struct {
		name, wantError string
		edit            func(q url.Values)
	}{
		{name: "no PKCE", wantError: "invalid_request", edit: func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}},
		{name: "plain PKCE", wantError: "invalid_request", edit: func(q url.Values) {
			q.Set("code_challenge_method", "plain")
		}},
		{name: "no openid scope", wantError: "invalid_scope", edit: func(q url.Values) {
			q.Set("scope", "profile email")
		}},
		{name: "prompt=none", wantError: "login_required", edit: func(q url.Values) {
			q.Set("prompt", "none")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(good)
			q := u.Query()
			tc.edit(q)
			u.RawQuery = q.Encode()
			loc := wantRedirect(t, env.get(t, u.String()), http.StatusFound)
			params := loc.Query()
			if loc.Fragment != "" {
				params, _ = url.ParseQuery(loc.Fragment)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != env.base+"/callback" {
				t.Fatalf("redirected to %s, want the client's redirect URI", loc)
			}
			if got := params.Get("error"); got != tc.wantError {
				t.Errorf("error = %q, want %q", got, tc.wantError)
			}
			if got := params.Get("state"); got != l.state {
				t.Errorf("state = %q, want %q", got, l.state)
			}
		})
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	env := newTestEnv(t, mountChi)
	good := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)

	for _, tc := range []struct {
		name      string
		party     rp.RelyingParty
		verifier  func(l login) string
		wantError string
		wantCode  int
	}{
		{name: "wrong secret (basic)", party: env.relyingParty(t, "wrong", oauth2.AuthStyleInHeader), wantError: "invalid_client", wantCode: http.StatusUnauthorized},
		{name: "wrong secret (post)", party: env.relyingParty(t, "wrong", oauth2.AuthStyleInParams), wantError: "invalid_client", wantCode: http.StatusUnauthorized},
		{name: "wrong PKCE verifier", party: good, verifier: func(login) string { return rand.Text() + rand.Text() }, wantError: "invalid_grant", wantCode: http.StatusBadRequest},
		{name: "no PKCE verifier", party: good, verifier: func(login) string { return "" }, wantError: "invalid_request", wantCode: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLogin()
			cb := env.signIn(t, env.openSignInPage(t, l.authURL(good)), "ada")
			verifier := l.verifier
			if tc.verifier != nil {
				verifier = tc.verifier(l)
			}
			var opts []rp.CodeExchangeOpt
			if verifier != "" {
				opts = append(opts, rp.WithCodeVerifier(verifier))
			}
			_, err := rp.CodeExchange[*oidc.IDTokenClaims](withNonce(t.Context(), l.nonce), cb.Query().Get("code"), tc.party, opts...)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("code exchange error = %v, want a refusal from the token endpoint", err)
			}
			if re.ErrorCode != tc.wantError || re.Response.StatusCode != tc.wantCode {
				t.Errorf("token endpoint answered %d %s, want %d %s", re.Response.StatusCode, re.ErrorCode, tc.wantCode, tc.wantError)
			}
		})
	}

	t.Run("client_secret_post works", func(t *testing.T) {
		tokens, _ := env.codeFlow(t, env.relyingParty(t, testClientSecret, oauth2.AuthStyleInParams), "alan")
		if tokens.IDTokenClaims.Subject != "alan" {
			t.Errorf("sub = %q, want alan", tokens.IDTokenClaims.Subject)
		}
	})
}

func TestEndSession(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	tokens, _ := env.codeFlow(t, party, "ada")
	endSession := party.GetEndSessionEndpoint()
	if endSession != env.issuer+"/end_session" {
		t.Fatalf("end_session endpoint = %q", endSession)
	}

	t.Run("unregistered post_logout_redirect_uri is refused", func(t *testing.T) {
		resp := env.get(t, endSession+"?"+url.Values{
			"id_token_hint":            {tokens.IDToken},
			"post_logout_redirect_uri": {"https://evil.example/"},
			"state":                    {"s1"},
		}.Encode())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("redirected to %s", loc)
		}
	})

	t.Run("id_token_hint from another issuer is refused", func(t *testing.T) {
		other := newTestEnv(t, mountChi)
		otherTokens, _ := other.codeFlow(t, other.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader), "ada")
		resp := env.get(t, endSession+"?"+url.Values{
			"id_token_hint":            {otherTokens.IDToken},
			"post_logout_redirect_uri": {env.base + "/"},
		}.Encode())
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})

	t.Run("registered post_logout_redirect_uri gets state back", func(t *testing.T) {
		loc := wantRedirect(t, env.get(t, endSession+"?"+url.Values{
			"id_token_hint":            {tokens.IDToken},
			"post_logout_redirect_uri": {env.base + "/"},
			"client_id":                {testClientID},
			"state":                    {"xyz"},
		}.Encode()), http.StatusFound)
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != env.base+"/" {
			t.Errorf("redirected to %s, want %s/", loc, env.base)
		}
		if got := loc.Query().Get("state"); got != "xyz" {
			t.Errorf("state = %q, want xyz", got)
		}
	})

	t.Run("the user's tokens are revoked", func(t *testing.T) {
		if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", ""); err == nil {
			t.Error("refresh token still works after end_session")
		}
		if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, "ada", party); err == nil {
			t.Error("access token still works after end_session")
		}
	})
}

func TestDiscovery(t *testing.T) {
	env := newTestEnv(t, mountChi)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, env.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err := env.browser.Do(req)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS is on: Access-Control-Allow-Origin = %q", got)
	}
	var doc oidc.DiscoveryConfiguration
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("decode discovery: %v", err)
	}
	if doc.Issuer != env.issuer {
		t.Errorf("issuer = %q, want %q", doc.Issuer, env.issuer)
	}
	for _, tc := range []struct {
		name      string
		got, want string
	}{
		{"authorization_endpoint", doc.AuthorizationEndpoint, env.issuer + "/authorize"},
		{"token_endpoint", doc.TokenEndpoint, env.issuer + "/oauth/token"},
		{"userinfo_endpoint", doc.UserinfoEndpoint, env.issuer + "/userinfo"},
		{"jwks_uri", doc.JwksURI, env.issuer + "/keys"},
		{"end_session_endpoint", doc.EndSessionEndpoint, env.issuer + "/end_session"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !slices.Equal(doc.IDTokenSigningAlgValuesSupported, []string{"ES256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [ES256]", doc.IDTokenSigningAlgValuesSupported)
	}
	if doc.BackChannelLogoutSupported || doc.BackChannelLogoutSessionSupported {
		t.Errorf("without a back-channel logout URI, discovery offers back-channel logout (supported %v, session %v)",
			doc.BackChannelLogoutSupported, doc.BackChannelLogoutSessionSupported)
	}
	if !slices.Contains(doc.CodeChallengeMethodsSupported, oidc.CodeChallengeMethodS256) {
		t.Errorf("code_challenge_methods_supported = %v, want S256", doc.CodeChallengeMethodsSupported)
	}
	for _, scope := range []string{"openid", "profile", "email", "offline_access"} {
		if !slices.Contains(doc.ScopesSupported, scope) {
			t.Errorf("scopes_supported = %v, missing %s", doc.ScopesSupported, scope)
		}
	}

	keys := env.get(t, doc.JwksURI)
	var set struct {
		Keys []struct {
			Kty, Crv, Alg, Use, Kid string
			D                       string `json:"d"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(keys.Body).Decode(&set); err != nil {
		t.Fatalf("decode keys: %v", err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys = %+v, want one", set.Keys)
	}
	if k := set.Keys[0]; k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Use != "sig" || k.Kid == "" || k.D != "" {
		t.Errorf("key = %+v, want a public EC P-256 ES256 signing key with a kid", k)
	}
}

func TestNew(t *testing.T) {
	const base = "http://localhost:3000"

	t.Run("warns that it is active", func(t *testing.T) {
		logs := &syncBuffer{}
		if _, err := New(testConfig(base, logs)); err != nil {
			t.Fatalf("New: %v", err)
		}
		out := logs.String()
		for _, want := range []string{"level=WARN", "development identity provider", "must not be used in production", "issuer=" + base + "/dev-idp"} {
			if !strings.Contains(out, want) {
				t.Errorf("log %q lacks %q", out, want)
			}
		}
	})

	t.Run("fresh key each start", func(t *testing.T) {
		a, _ := newSigningKey()
		b, _ := newSigningKey()
		if a.key.Equal(b.key) || a.id == b.id {
			t.Error("two starts share a signing key")
		}
	})

	for _, tc := range []struct {
		name string
		edit func(c *Config)
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }},
		{"relative issuer", func(c *Config) { c.Issuer = "/dev-idp" }},
		{"issuer with query", func(c *Config) { c.Issuer = base + "/dev-idp?x=1" }},
		{"issuer not http", func(c *Config) { c.Issuer = "ftp://localhost/dev-idp" }},
		{"no client id", func(c *Config) { c.ClientID = "" }},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }},
		{"no redirect URI", func(c *Config) { c.RedirectURIs = nil }},
		{"relative redirect URI", func(c *Config) { c.RedirectURIs = []string{"/callback"} }},
		{"no post-logout redirect URI", func(c *Config) { c.PostLogoutRedirectURIs = nil }},
		{"relative post-logout redirect URI", func(c *Config) { c.PostLogoutRedirectURIs = []string{"/"} }},
		{"relative avatar base", func(c *Config) { c.AvatarBaseURL = "/assets/avatars/" }},
		{"relative back-channel logout URI", func(c *Config) { c.BackChannelLogoutURI = "/backchannel-logout" }},
		{"no logger", func(c *Config) { c.Logger = nil }},
		{"no sign-in page", func(c *Config) { c.SignIn = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(base, io.Discard)
			tc.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

func TestUsers(t *testing.T) {
	p, err := New(testConfig("http://localhost:3000", io.Discard))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	users := p.Users()
	want := map[string]string{"ada": "Ada Lovelace", "grace": "Grace Hopper", "alan": "Alan Turing"}
	if len(users) != len(want) {
		t.Fatalf("Users() = %+v, want %d users", users, len(want))
	}
	for _, u := range users {
		if want[u.ID] != u.Name {
			t.Errorf("user %q is named %q, want %q", u.ID, u.Name, want[u.ID])
		}
		if u.Picture != "http://localhost:3000/assets/avatars/"+u.ID+".svg" {
			t.Errorf("user %q picture = %q", u.ID, u.Picture)
		}
		if u.Email == "" || u.GivenName == "" || u.FamilyName == "" {
			t.Errorf("user %+v lacks a claim", u)
		}
	}
	users[0].Name = "changed"
	if p.Users()[0].Name == "changed" {
		t.Error("Users() shares its slice with the caller")
	}
}

// TestStorageExpiry checks, with a fake clock, that what expires is refused
// and then dropped.
func TestStorageExpiry(t *testing.T) {
	key, err := newSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newStorage(key, demoUsers("http://localhost/"), &client{id: testClientID, secret: testClientSecret})
	s.now = func() time.Time { return now }
	ctx := t.Context()

	newRequest := func() string {
		t.Helper()
		a, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{
			ClientID: testClientID, Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
			RedirectURI: "http://localhost/callback", CodeChallenge: "c", CodeChallengeMethod: oidc.CodeChallengeMethodS256,
		}, "")
		if err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		return a.GetID()
	}

	// An auth request signed in to, with a code, expires after 10 minutes.
	id := newRequest()
	if err := s.signInAuthRequest(id, "ada"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := s.SaveAuthCode(ctx, id, "code-1"); err != nil {
		t.Fatalf("SaveAuthCode: %v", err)
	}
	if err := s.SaveAuthCode(ctx, id, "code-2"); err == nil {
		t.Error("a second code was issued for one auth request")
	}
	a, err := s.AuthRequestByCode(ctx, "code-1")
	if err != nil {
		t.Fatalf("AuthRequestByCode: %v", err)
	}
	accessID, refresh, _, err := s.CreateAccessAndRefreshTokens(ctx, a, "")
	if err != nil {
		t.Fatalf("CreateAccessAndRefreshTokens: %v", err)
	}

	now = now.Add(authRequestLifetime)
	if _, err := s.AuthRequestByCode(ctx, "code-1"); err == nil {
		t.Error("an expired code was accepted")
	}
	if _, err := s.AuthRequestByID(ctx, id); err == nil {
		t.Error("an expired auth request was returned")
	}

	// Access tokens expire before refresh tokens.
	now = now.Add(accessTokenLifetime)
	if err := s.SetUserinfoFromToken(ctx, &oidc.UserInfo{}, accessID, "ada", ""); err == nil {
		t.Error("an expired access token was accepted")
	}
	req, err := s.TokenRequestByRefreshToken(ctx, refresh)
	if err != nil {
		t.Fatalf("refresh token expired early: %v", err)
	}
	_, rotated, _, err := s.CreateAccessAndRefreshTokens(ctx, req, refresh)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if _, _, _, err := s.CreateAccessAndRefreshTokens(ctx, req, refresh); err == nil {
		t.Error("a spent refresh token was rotated twice")
	}

	now = now.Add(refreshTokenLifetime)
	if _, err := s.TokenRequestByRefreshToken(ctx, rotated); err == nil {
		t.Error("an expired refresh token was accepted")
	}

	// The next change sweeps everything expired away.
	newRequest()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.authRequests.m) != 1 || len(s.sessions.m) != 0 || len(s.codes) != 0 || len(s.accessTokens.m) != 0 || len(s.refreshTokens.m) != 0 {
		t.Errorf("after expiry the storage holds %d auth requests, %d sessions, %d codes, %d access tokens, %d refresh tokens; want 1, 0, 0, 0, 0",
			len(s.authRequests.m), len(s.sessions.m), len(s.codes), len(s.accessTokens.m), len(s.refreshTokens.m))
	}
}

func TestIDTokenSessionID(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)

	first, _ := env.codeFlow(t, party, "ada")
	second, _ := env.codeFlow(t, party, "ada")
	sid1, sid2 := first.IDTokenClaims.SessionID, second.IDTokenClaims.SessionID
	if sid1 == "" || sid2 == "" {
		t.Fatalf("ID token sid = %q and %q, want one on every ID token", sid1, sid2)
	}
	if sid1 == sid2 {
		t.Errorf("two sign-ins of the same user share the sid %q", sid1)
	}

	refreshed, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, first.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := refreshed.IDTokenClaims.SessionID; got != sid1 {
		t.Errorf("refreshed ID token sid = %q, want %q", got, sid1)
	}
	again, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, refreshed.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	if got := again.IDTokenClaims.SessionID; got != sid1 {
		t.Errorf("ID token sid after two refreshes = %q, want %q", got, sid1)
	}
}

// backChannelPost is one request the stand-in app received.
type backChannelPost struct {
	method, contentType, logoutToken string
}

// backChannelApp stands in for the app's back-channel logout endpoint.
type backChannelApp struct {
	srv    *httptest.Server
	status int

	mu    sync.Mutex
	posts []backChannelPost
}

func newBackChannelApp(t *testing.T, status int) *backChannelApp {
	t.Helper()
	app := &backChannelApp{status: status}
	app.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		app.mu.Lock()
		app.posts = append(app.posts, backChannelPost{
			method:      r.Method,
			contentType: r.Header.Get("Content-Type"),
			logoutToken: r.PostForm.Get("logout_token"),
		})
		app.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(app.status)
	}))
	t.Cleanup(app.srv.Close)
	return app
}

func (a *backChannelApp) uri() string { return a.srv.URL + "/backchannel-logout" }

func (a *backChannelApp) received() []backChannelPost {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.posts)
}

// countingTransport counts the requests an HTTP client sends.
type countingTransport struct {
	mu    sync.Mutex
	count int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.count++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// endSession asks the provider to end the session the ID token belongs to
// and returns where it sends the browser.
func (e *testEnv) endSession(t *testing.T, idToken, state string) *url.URL {
	t.Helper()
	return wantRedirect(t, e.get(t, e.issuer+"/end_session?"+url.Values{
		"id_token_hint":            {idToken},
		"post_logout_redirect_uri": {e.base + "/"},
		"state":                    {state},
	}.Encode()), http.StatusFound)
}

// wantPostLogoutRedirect checks that end_session sent the browser to the
// registered post-logout URI with its state.
func (e *testEnv) wantPostLogoutRedirect(t *testing.T, loc *url.URL, state string) {
	t.Helper()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.base+"/" {
		t.Errorf("end_session redirected to %s, want %s/", loc, e.base)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Errorf("end_session state = %q, want %q", got, state)
	}
}

// verifyLogoutToken checks the logout token's signature against the
// provider's published keys and returns its typ header and claims.
func (e *testEnv) verifyLogoutToken(t *testing.T, raw string) (string, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse logout token: %v", err)
	}
	header := jws.Signatures[0].Header
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(e.get(t, e.issuer+"/keys").Body).Decode(&set); err != nil {
		t.Fatalf("decode keys: %v", err)
	}
	keys := set.Key(header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("logout token kid %q names %d published keys, want 1", header.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("decode logout token claims: %v", err)
	}
	typ, _ := header.ExtraHeaders[jose.HeaderType].(string)
	return typ, claims
}

func TestBackChannelLogout(t *testing.T) {
	app := newBackChannelApp(t, http.StatusOK)
	transport := &countingTransport{}
	env := newTestEnv(t, mountChi, func(c *Config) {
		c.BackChannelLogoutURI = app.uri()
		c.HTTPClient = &http.Client{Transport: transport}
	})
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)

	var doc oidc.DiscoveryConfiguration
	if err := json.NewDecoder(env.get(t, env.issuer+"/.well-known/openid-configuration").Body).Decode(&doc); err != nil {
		t.Fatalf("decode discovery: %v", err)
	}
	if !doc.BackChannelLogoutSupported || !doc.BackChannelLogoutSessionSupported {
		t.Errorf("discovery backchannel_logout_supported = %v, backchannel_logout_session_supported = %v; want both true",
			doc.BackChannelLogoutSupported, doc.BackChannelLogoutSessionSupported)
	}

	tokens, _ := env.codeFlow(t, party, "ada")
	other, _ := env.codeFlow(t, party, "ada")
	if len(app.received()) != 0 {
		t.Fatal("a sign-in sent a logout token")
	}

	env.wantPostLogoutRedirect(t, env.endSession(t, tokens.IDToken, "bye"), "bye")

	// Delivery is synchronous: the app has its token when the browser is redirected.
	posts := app.received()
	if len(posts) != 1 {
		t.Fatalf("the app received %d back-channel requests, want 1", len(posts))
	}
	if transport.requests() != 1 {
		t.Errorf("Config.HTTPClient sent %d requests, want 1", transport.requests())
	}
	post := posts[0]
	if post.method != http.MethodPost || post.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("back-channel request: %s with Content-Type %q, want a POSTed form", post.method, post.contentType)
	}
	if post.logoutToken == "" {
		t.Fatal("the back-channel request has no logout_token")
	}

	typ, claims := env.verifyLogoutToken(t, post.logoutToken)
	if typ != "logout+jwt" {
		t.Errorf("logout token typ = %q, want logout+jwt", typ)
	}
	if claims["iss"] != env.issuer {
		t.Errorf("logout token iss = %v, want %q", claims["iss"], env.issuer)
	}
	if aud, _ := claims["aud"].([]any); !slices.Contains(aud, any(testClientID)) {
		t.Errorf("logout token aud = %v, want it to hold %q", claims["aud"], testClientID)
	}
	if claims["sub"] != "ada" {
		t.Errorf("logout token sub = %v, want ada", claims["sub"])
	}
	if sid := tokens.IDTokenClaims.SessionID; sid == "" || claims["sid"] != sid {
		t.Errorf("logout token sid = %v, want the ID token's %q", claims["sid"], sid)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Errorf("logout token jti = %v, want a random ID", claims["jti"])
	}
	iat, iatOK := claims["iat"].(float64)
	exp, expOK := claims["exp"].(float64)
	if !iatOK || !expOK || exp-iat != 120 {
		t.Errorf("logout token iat = %v, exp = %v; want exp = iat + 2 minutes", claims["iat"], claims["exp"])
	}
	if now := float64(time.Now().Unix()); iat < now-60 || iat > now+5 {
		t.Errorf("logout token iat = %v, want about now (%v)", iat, now)
	}
	events, _ := claims["events"].(map[string]any)
	if event, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(event) != 0 {
		t.Errorf("logout token events = %v, want the back-channel logout event with an empty object", claims["events"])
	}
	if _, ok := claims["nonce"]; ok {
		t.Errorf("logout token carries a nonce: %v", claims["nonce"])
	}
	if strings.Contains(env.logs.String(), post.logoutToken) {
		t.Error("the provider logged the logout token")
	}

	// The ended session's tokens are revoked; the user's other session is not.
	if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", ""); err == nil {
		t.Error("refresh token of the ended session still works")
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, "ada", party); err == nil {
		t.Error("access token of the ended session still works")
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), other.AccessToken, other.TokenType, "ada", party); err != nil {
		t.Errorf("access token of the user's other session: %v", err)
	}

	// The session has ended: a second logout with the same hint has nothing to tell the app.
	env.wantPostLogoutRedirect(t, env.endSession(t, tokens.IDToken, "again"), "again")
	if n := len(app.received()); n != 1 {
		t.Errorf("after logging out of an ended session the app received %d requests, want 1", n)
	}

	// Without an id_token_hint no session is named, so none is ended.
	wantRedirect(t, env.get(t, env.issuer+"/end_session?"+url.Values{
		"client_id":                {testClientID},
		"post_logout_redirect_uri": {env.base + "/"},
	}.Encode()), http.StatusFound)
	if n := len(app.received()); n != 1 {
		t.Errorf("after a logout without a hint the app received %d requests, want 1", n)
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](t.Context(), other.AccessToken, other.TokenType, "ada", party); err != nil {
		t.Errorf("a logout without a hint revoked the other session's access token: %v", err)
	}

	// Logging out of the other session sends its own sid.
	env.endSession(t, other.IDToken, "")
	posts = app.received()
	if len(posts) != 2 {
		t.Fatalf("the app received %d back-channel requests, want 2", len(posts))
	}
	if _, claims := env.verifyLogoutToken(t, posts[1].logoutToken); claims["sid"] != other.IDTokenClaims.SessionID {
		t.Errorf("second logout token sid = %v, want %q", claims["sid"], other.IDTokenClaims.SessionID)
	}
}

func TestBackChannelLogoutFailureKeepsLogout(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURI := down.URL + "/backchannel-logout"
	down.Close()

	for _, tc := range []struct {
		name string
		uri  func(app *backChannelApp) string
	}{
		{name: "endpoint answers 500", uri: func(app *backChannelApp) string { return app.uri() }},
		{name: "endpoint is down", uri: func(*backChannelApp) string { return downURI }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newBackChannelApp(t, http.StatusInternalServerError)
			env := newTestEnv(t, mountChi, func(c *Config) { c.BackChannelLogoutURI = tc.uri(app) })
			party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
			tokens, _ := env.codeFlow(t, party, "grace")

			env.wantPostLogoutRedirect(t, env.endSession(t, tokens.IDToken, "s"), "s")

			logs := env.logs.String()
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "back-channel logout failed") {
				t.Errorf("log %q has no warning about the failed delivery", logs)
			}
			for _, post := range app.received() {
				if strings.Contains(logs, post.logoutToken) {
					t.Error("the provider logged the logout token")
				}
			}
			if strings.Contains(logs, "logout_token") {
				t.Error("the provider logged the logout token form")
			}
			if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", ""); err == nil {
				t.Error("refresh token still works after end_session")
			}
		})
	}
}

func TestNoBackChannelLogoutWithoutURI(t *testing.T) {
	transport := &countingTransport{}
	env := newTestEnv(t, mountChi, func(c *Config) { c.HTTPClient = &http.Client{Transport: transport} })
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	tokens, _ := env.codeFlow(t, party, "alan")
	if tokens.IDTokenClaims.SessionID == "" {
		t.Error("ID token has no sid")
	}

	env.wantPostLogoutRedirect(t, env.endSession(t, tokens.IDToken, "s"), "s")
	if n := transport.requests(); n != 0 {
		t.Errorf("the provider sent %d back-channel requests without a back-channel logout URI", n)
	}
	if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](t.Context(), party, tokens.RefreshToken, "", ""); err == nil {
		t.Error("refresh token still works after end_session")
	}
}

// TestStorageSessions checks that each sign-in starts its own provider
// session and that no token is issued in a session that has ended.
func TestStorageSessions(t *testing.T) {
	key, err := newSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s := newStorage(key, demoUsers("http://localhost/"), &client{id: testClientID, secret: testClientSecret})
	ctx := t.Context()

	signedIn := func(userID string) op.AuthRequest {
		t.Helper()
		a, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{
			ClientID: testClientID, Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
			RedirectURI: "http://localhost/callback", CodeChallenge: "c", CodeChallengeMethod: oidc.CodeChallengeMethodS256,
		}, "")
		if err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		if err := s.signInAuthRequest(a.GetID(), userID); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		a, err = s.AuthRequestByID(ctx, a.GetID())
		if err != nil {
			t.Fatalf("AuthRequestByID: %v", err)
		}
		return a
	}

	a, b := signedIn("ada"), signedIn("ada")
	sidA, sidB := sessionIDOf(a), sessionIDOf(b)
	if sidA == "" || sidA == sidB {
		t.Fatalf("sign-ins got sids %q and %q, want two different ones", sidA, sidB)
	}
	if _, ok := s.endSession(sidA, "grace"); ok {
		t.Error("another user's ID token ended the session")
	}
	if sess, ok := s.endSession(sidA, "ada"); !ok || sess.id != sidA || sess.subject != "ada" || sess.clientID != testClientID {
		t.Errorf("endSession = %+v, %v; want ada's session %q", sess, ok, sidA)
	}
	if _, ok := s.endSession(sidA, "ada"); ok {
		t.Error("a session ended twice")
	}
	if _, _, _, err := s.CreateAccessAndRefreshTokens(ctx, a, ""); err == nil {
		t.Error("tokens were issued in an ended session")
	}
	if _, _, err := s.CreateAccessToken(ctx, a); err == nil {
		t.Error("an access token was issued in an ended session")
	}
	if _, _, _, err := s.CreateAccessAndRefreshTokens(ctx, b, ""); err != nil {
		t.Errorf("the other session could not get tokens: %v", err)
	}
}
