package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"latchkey/auth"
)

// Auth0 cannot be reached from the test machines, so these tests sign in
// at a recorded-fixture tenant: an HTTPS server for auth0Domain answering
// in the shape of Auth0's public endpoints (discovery, JWKS, token,
// userinfo). What they cover is what Auth0 does differently: an issuer
// with a trailing slash, string updated_at, "auth0|" subjects, and the
// /v2/logout endpoint of tenants without RP-initiated logout.

const (
	auth0Domain       = "tenant.eu.auth0.com"
	auth0Issuer       = "https://" + auth0Domain + "/"
	auth0ClientID     = "a0ClientId7Qk2xPzL9mVnR4sT1uWyBd"
	auth0ClientSecret = "a0-client-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	auth0RedirectURI  = "https://app.example.com/callback"
	auth0ReturnTo     = "https://app.example.com/"
	auth0Subject      = "auth0|abc123"
	auth0SID          = "s0mE-s1d-Xq7Lr2NvPb8Tz"
)

// auth0Profile is the user's profile as Auth0 gives it, in the ID token and
// from /userinfo: a database user whose name was set, with a Gravatar
// picture and updated_at as a string.
var auth0Profile = map[string]any{
	"nickname":       "jane.doe",
	"name":           "Jane Doe",
	"picture":        "https://s.gravatar.com/avatar/5f1c8e0a9b2d4c6e8f0a1b3c5d7e9f10?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png",
	"updated_at":     "2024-05-02T09:41:07.123Z",
	"email":          "jane.doe@example.com",
	"email_verified": true,
}

func TestAuth0(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// rpLogout: the tenant has RP-initiated logout turned on, so
		// discovery names an end_session_endpoint.
		rpLogout bool
		check    func(t *testing.T, logoutURL string, sess *auth.Session)
	}{
		{
			name: "RP-initiated logout off: /v2/logout",
			check: func(t *testing.T, logoutURL string, _ *auth.Session) {
				want := "https://" + auth0Domain + "/v2/logout?" + url.Values{"client_id": {auth0ClientID}, "returnTo": {auth0ReturnTo}}.Encode()
				if logoutURL != want {
					t.Errorf("logout URL = %q, want %q", logoutURL, want)
				}
			},
		},
		{
			name:     "RP-initiated logout on: end_session_endpoint",
			rpLogout: true,
			check: func(t *testing.T, logoutURL string, sess *auth.Session) {
				u, err := url.Parse(logoutURL)
				if err != nil || u.Scheme != "https" || u.Host != auth0Domain || u.Path != "/oidc/logout" {
					t.Fatalf("logout URL = %q, want https://%s/oidc/logout?…", logoutURL, auth0Domain)
				}
				q := u.Query()
				for name, want := range map[string]string{
					"id_token_hint":            sess.IDTokenHint(),
					"post_logout_redirect_uri": auth0ReturnTo,
					"client_id":                auth0ClientID,
					"state":                    "logout-state",
				} {
					if got := q.Get(name); got != want {
						t.Errorf("logout URL %s = %q, want %q", name, got, want)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tenant := newAuth0Tenant(t, tc.rpLogout)
			p := tenant.provider(t, auth0Issuer, slog.New(slog.DiscardHandler))
			waitFor(t, "discovery of the Auth0 tenant", p.Ready)

			attempt := auth.NewLoginAttempt("/dashboard", false)
			authURL, err := p.AuthCodeURL(t.Context(), attempt)
			if err != nil {
				t.Fatalf("authorization URL: %v", err)
			}
			code := tenant.authorize(t, authURL, attempt)
			sess, err := p.Finish(t.Context(), url.Values{"code": {code}, "state": {attempt.State}}, attempt)
			if err != nil {
				t.Fatalf("finish the login: %v", err)
			}

			want := auth.User{Subject: auth0Subject, Name: "Jane Doe", Email: "jane.doe@example.com", EmailVerified: true, Picture: auth0Profile["picture"].(string)}
			got := sess.User
			got.ClaimsJSON = ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("user = %+v, want %+v", got, want)
			}
			for _, claim := range []string{`"nickname": "jane.doe"`, `"email_verified": true`, `"updated_at": `} {
				if !strings.Contains(sess.User.ClaimsJSON, claim) {
					t.Errorf("profile claims lack %s:\n%s", claim, sess.User.ClaimsJSON)
				}
			}
			if n := tenant.userinfoCalls(); n != 1 {
				t.Errorf("userinfo was read %d times, want once", n)
			}
			if sess.ProviderSID != auth0SID {
				t.Errorf("provider session ID = %q, want the ID token's sid %q", sess.ProviderSID, auth0SID)
			}
			tokens, err := sess.Tokens()
			if err != nil {
				t.Fatalf("the tokens of a session just signed in: %v", err)
			}
			if tokens.RefreshToken == "" {
				t.Error("no refresh token: offline_access, which Auth0 lists, was not asked for")
			}
			if left := time.Until(tokens.Expiry); left < 23*time.Hour || left > 25*time.Hour {
				t.Errorf("access token expiry in %v, want Auth0's expires_in of 24h", left)
			}

			tc.check(t, p.LogoutURL(sess.IDTokenHint(), auth0ReturnTo, "logout-state"), sess)
			tenant.checkRequests(t)
		})
	}
}

// TestAuth0IssuerWithoutTrailingSlash checks that the issuer is compared
// exactly: Auth0's ends with "/", so one configured without it is not the
// tenant's and never becomes ready (which is why AUTH0_DOMAIN adds it).
func TestAuth0IssuerWithoutTrailingSlash(t *testing.T) {
	t.Parallel()
	tenant := newAuth0Tenant(t, false)
	var log outputBuffer
	p := tenant.provider(t, strings.TrimSuffix(auth0Issuer, "/"), slog.New(slog.NewTextHandler(&log, nil)))
	waitFor(t, "a failed discovery", func() bool { return strings.Contains(log.String(), "identity provider misconfigured") })
	if p.Ready() {
		t.Error("the provider became ready with an issuer that is not the tenant's")
	}
	want := fmt.Sprintf("issuer mismatch: configured %q, provider says %q", "https://"+auth0Domain, auth0Issuer)
	if got := p.Misconfiguration(); got == nil || got.Error() != want {
		t.Errorf("Misconfiguration = %v, want %s\nlog:\n%s", got, want, log.String())
	}
}

// auth0Tenant is the recorded-fixture Auth0 tenant.
type auth0Tenant struct {
	server   *httptest.Server
	client   *http.Client
	rpLogout bool
	// keys are the tenant's signing keys, current first, as its JWKS
	// publishes the current and the next one.
	keys []jose.JSONWebKey

	mu         sync.Mutex
	grants     map[string]auth0Grant // by authorization code
	tokens     map[string]bool       // access tokens issued
	userinfos  int
	unexpected []string
}

// auth0Grant is what an authorization request left for the token request.
type auth0Grant struct {
	challenge, nonce, redirectURI, scope string
}

// newAuth0Tenant serves the fixture tenant over TLS with a certificate for
// auth0Domain. Its client reaches the server whatever host a URL names, and
// trusts that certificate only.
func newAuth0Tenant(t *testing.T, rpLogout bool) *auth0Tenant {
	t.Helper()
	tenant := &auth0Tenant{
		rpLogout: rpLogout,
		keys: []jose.JSONWebKey{
			auth0SigningKey(t, "testdata/auth0/signing-key-1.pem", "Xk4GcQ8Rz2nPw9TbLm1vY"),
			auth0SigningKey(t, "testdata/auth0/signing-key-2.pem", "Jd7HsM3qVt6KaE0ZuN5oB"),
		},
		grants: map[string]auth0Grant{},
		tokens: map[string]bool{},
	}
	cert, pool := tlsCertificateFor(t, auth0Domain)
	tenant.server = httptest.NewUnstartedServer(http.HandlerFunc(tenant.serve))
	tenant.server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tenant.server.StartTLS()
	t.Cleanup(tenant.server.Close)

	addr := tenant.server.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
	t.Cleanup(transport.CloseIdleConnections)
	tenant.client = &http.Client{Timeout: 10 * time.Second, Transport: transport}
	return tenant
}

// provider is the relying party for the tenant, configured with issuer,
// with its discovery running until the test ends.
func (a *auth0Tenant) provider(t *testing.T, issuer string, log *slog.Logger) *auth.Provider {
	t.Helper()
	p := auth.NewProvider(auth.ProviderConfig{
		Issuer:       issuer,
		ClientID:     auth0ClientID,
		ClientSecret: auth0ClientSecret,
		RedirectURI:  auth0RedirectURI,
		Scopes:       []string{"openid", "profile", "email"},
		HTTPClient:   a.client,
		Logger:       log,
	})
	go p.Run(t.Context())
	return p
}

func (a *auth0Tenant) serve(w http.ResponseWriter, r *http.Request) {
	// Exact paths, no cleaning: a request for "//.well-known/…" is a
	// mistake to report, not to redirect.
	switch r.Method + " " + r.URL.Path {
	case "GET /.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, a.discovery())
	case "GET /.well-known/jwks.json":
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: publicKeys(a.keys)})
	case "POST /oauth/token":
		a.token(w, r)
	case "GET /userinfo":
		a.userinfo(w, r)
	default:
		a.mu.Lock()
		a.unexpected = append(a.unexpected, r.Method+" "+r.URL.String())
		a.mu.Unlock()
		http.NotFound(w, r)
	}
}

// discovery is the tenant's discovery document, in the shape and order of
// Auth0's.
func (a *auth0Tenant) discovery() map[string]any {
	base := "https://" + auth0Domain
	doc := map[string]any{
		"issuer":                                           base + "/",
		"authorization_endpoint":                           base + "/authorize",
		"token_endpoint":                                   base + "/oauth/token",
		"device_authorization_endpoint":                    base + "/oauth/device/code",
		"userinfo_endpoint":                                base + "/userinfo",
		"mfa_challenge_endpoint":                           base + "/mfa/challenge",
		"jwks_uri":                                         base + "/.well-known/jwks.json",
		"registration_endpoint":                            base + "/oidc/register",
		"revocation_endpoint":                              base + "/oauth/revoke",
		"scopes_supported":                                 []string{"openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"},
		"response_types_supported":                         []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"},
		"code_challenge_methods_supported":                 []string{"S256", "plain"},
		"response_modes_supported":                         []string{"query", "fragment", "form_post"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"HS256", "RS256", "PS256"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"claims_supported":                                 []string{"aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"},
		"request_uri_parameter_supported":                  false,
		"request_parameter_supported":                      false,
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "RS384", "PS256"},
		"backchannel_logout_supported":                     true,
		"backchannel_logout_session_supported":             true,
	}
	if a.rpLogout {
		doc["end_session_endpoint"] = base + "/oidc/logout"
	}
	return doc
}

// authorize stands in for the user signing in on Auth0's login page: it
// checks the authorization request and returns the code the callback gets.
func (a *auth0Tenant) authorize(t *testing.T, authURL string, attempt *auth.LoginAttempt) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || u.Scheme != "https" || u.Host != auth0Domain || u.Path != "/authorize" {
		t.Fatalf("authorization URL = %q, want https://%s/authorize?…", authURL, auth0Domain)
	}
	q := u.Query()
	for name, want := range map[string]string{
		"response_type":         "code",
		"client_id":             auth0ClientID,
		"redirect_uri":          auth0RedirectURI,
		"code_challenge_method": "S256",
		"state":                 attempt.State,
		"nonce":                 attempt.Nonce,
	} {
		if got := q.Get(name); got != want {
			t.Errorf("authorization request %s = %q, want %q", name, got, want)
		}
	}
	scopes := strings.Fields(q.Get("scope"))
	for _, s := range []string{"openid", "profile", "email", "offline_access"} {
		if !slices.Contains(scopes, s) {
			t.Errorf("authorization request scope %q lacks %s", q.Get("scope"), s)
		}
	}
	code := rand.Text()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.grants[code] = auth0Grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirectURI: q.Get("redirect_uri"), scope: q.Get("scope")}
	return code
}

// token answers the authorization_code grant as Auth0 does: a JWE-shaped
// opaque access token for /userinfo, an RS256 ID token, and a refresh token
// when offline_access was granted.
func (a *auth0Tenant) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != auth0ClientID || secret != auth0ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "access_denied", "error_description": "Unauthorized"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Missing required parameter: grant_type"})
		return
	}
	a.mu.Lock()
	grant, ok := a.grants[r.PostForm.Get("code")]
	delete(a.grants, r.PostForm.Get("code"))
	a.mu.Unlock()
	verifier := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_grant", "error_description": "Invalid authorization code"})
		return
	case r.PostForm.Get("redirect_uri") != grant.redirectURI:
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_grant", "error_description": "Invalid redirect_uri"})
		return
	case base64.RawURLEncoding.EncodeToString(verifier[:]) != grant.challenge:
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_grant", "error_description": "Failed to verify code verifier"})
		return
	}

	now := time.Now()
	claims := map[string]any{
		"iss":   auth0Issuer,
		"aud":   auth0ClientID,
		"sub":   auth0Subject,
		"iat":   now.Unix(),
		"exp":   now.Add(10 * time.Hour).Unix(),
		"sid":   auth0SID,
		"nonce": grant.nonce,
	}
	for k, v := range auth0Profile {
		claims[k] = v
	}
	idToken, err := signJWT(a.keys[0], claims)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": err.Error()})
		return
	}
	accessToken := opaqueAccessToken()
	a.mu.Lock()
	a.tokens[accessToken] = true
	a.mu.Unlock()
	answer := map[string]any{
		"access_token": accessToken,
		"id_token":     idToken,
		"scope":        grant.scope,
		"expires_in":   86400,
		"token_type":   "Bearer",
	}
	if slices.Contains(strings.Fields(grant.scope), "offline_access") {
		answer["refresh_token"] = rand.Text() + rand.Text()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, answer)
}

// userinfo answers the profile to a bearer of an access token it issued.
func (a *auth0Tenant) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	valid := ok && a.tokens[token]
	if valid {
		a.userinfos++
	}
	a.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+auth0Domain+`", error="invalid_token"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	profile := map[string]any{"sub": auth0Subject}
	for k, v := range auth0Profile {
		profile[k] = v
	}
	writeJSON(w, http.StatusOK, profile)
}

func (a *auth0Tenant) userinfoCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.userinfos
}

// checkRequests fails the test for every request the tenant has no
// endpoint for.
func (a *auth0Tenant) checkRequests(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.unexpected {
		t.Errorf("request to no Auth0 endpoint: %s", r)
	}
}

// auth0SigningKey is the RS256 key in the PEM file as Auth0's JWKS lists
// it: with a self-signed certificate for the tenant (x5c) and its SHA-1
// thumbprint (x5t). The keys are fixed test keys, since generating RSA keys
// is slow.
func auth0SigningKey(t *testing.T, file, kid string) jose.JSONWebKey {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read signing key: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", file)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse signing key %s: %v", file, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%s holds a %T, not an RSA key", file, parsed)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: auth0Domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("certify signing key: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse signing key certificate: %v", err)
	}
	thumb := sha1.Sum(der)
	return jose.JSONWebKey{
		Key:                       key,
		KeyID:                     kid,
		Algorithm:                 string(jose.RS256),
		Use:                       "sig",
		Certificates:              []*x509.Certificate{cert},
		CertificateThumbprintSHA1: thumb[:],
	}
}

func publicKeys(keys []jose.JSONWebKey) []jose.JSONWebKey {
	out := make([]jose.JSONWebKey, len(keys))
	for i, k := range keys {
		out[i] = k.Public()
	}
	return out
}

// signJWT signs claims with key, with the header Auth0 writes.
func signJWT(key jose.JSONWebKey, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

// opaqueAccessToken is shaped like the access token Auth0 issues when no
// API audience is requested: a compact JWE only Auth0 can read.
func opaqueAccessToken() string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM","iss":"` + auth0Issuer + `"}`))
	part := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return header + ".." + part(12) + "." + part(120) + "." + part(16)
}

// tlsCertificateFor returns a self-signed certificate for host and a pool
// that trusts it.
func tlsCertificateFor(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate TLS key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create TLS certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse TLS certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
