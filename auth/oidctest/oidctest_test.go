package oidctest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"latchkey/auth/oidctest"
)

const redirectURI = "https://app.example/callback"

// discovery is the part of the discovery document the tests read.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	ResponseTypes         []string `json:"response_types_supported"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
	ScopesSupported       []string `json:"scopes_supported"`
	ClaimsSupported       []string `json:"claims_supported"`
}

// tokenResponse is a token endpoint answer, successful or not.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

// pkce returns a fresh code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// browser returns a client that stops at redirects, like a test looking at each hop.
func browser(p *oidctest.Provider) *http.Client {
	c := *p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func getJSON(t *testing.T, c *http.Client, rawURL string, v any) *http.Response {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", rawURL, err)
		}
	}
	return resp
}

func discover(t *testing.T, p *oidctest.Provider) discovery {
	t.Helper()
	var d discovery
	resp := getJSON(t, p.Client(), p.Issuer()+"/.well-known/openid-configuration", &d)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery status = %d, want 200", resp.StatusCode)
	}
	return d
}

// authParams are the parameters of a correct authorization request.
func authParams(p *oidctest.Provider, challenge string) url.Values {
	return url.Values{
		"client_id":             {p.ClientID()},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid profile email"},
		"state":                 {"state-" + rand.Text()},
		"nonce":                 {"nonce-" + rand.Text()},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

// authorize sends an authorization request (params added to endpoint unless nil) and returns the status and the redirect target.
func authorize(t *testing.T, p *oidctest.Provider, endpoint string, params url.Values) (int, *url.URL) {
	t.Helper()
	target := endpoint
	if params != nil {
		target += "?" + params.Encode()
	}
	resp, err := browser(p).Get(target)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("parse Location: %v", err)
	}
	return resp.StatusCode, loc
}

// code runs a correct authorization request and returns the code and the params sent.
func code(t *testing.T, p *oidctest.Provider) (string, string, url.Values) {
	t.Helper()
	verifier, challenge := pkce()
	params := authParams(p, challenge)
	status, loc := authorize(t, p, p.AuthorizationEndpoint(), params)
	if status != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: status %d, location %v; want 302 with a code", status, loc)
	}
	return loc.Query().Get("code"), verifier, params
}

// postToken sends a token request, with HTTP Basic when basic is set.
func postToken(t *testing.T, p *oidctest.Provider, form url.Values, basic bool) (int, tokenResponse, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.TokenEndpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("build token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, tr, resp.Header
}

func codeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
}

// tokens runs the whole code flow and returns a successful token response.
func tokens(t *testing.T, p *oidctest.Provider) tokenResponse {
	t.Helper()
	c, verifier, _ := code(t, p)
	status, tr, _ := postToken(t, p, codeForm(c, verifier), true)
	if status != http.StatusOK {
		t.Fatalf("token status = %d (%s), want 200", status, tr.Error)
	}
	return tr
}

// jwtParts decodes the header and the claims of a compact JWT without checking its signature.
func jwtParts(t *testing.T, token string) (header, claims map[string]any, signature string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	for i, v := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("decode token part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("unmarshal token part %d: %v", i, err)
		}
	}
	return header, claims, parts[2]
}

// verify checks an ID token's signature against the provider's JWKS and returns its claims.
func verify(t *testing.T, p *oidctest.Provider, token string, alg jose.SignatureAlgorithm) (map[string]any, error) {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, p.Client(), discover(t, p).JWKSURI, &set)
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, err
	}
	keys := set.Keys
	if kid := jws.Signatures[0].Header.KeyID; kid != "" {
		keys = set.Key(kid)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the JWKS matches the token")
	}
	var errs []error
	for _, k := range keys {
		payload, err := jws.Verify(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatalf("unmarshal claims: %v", err)
		}
		return claims, nil
	}
	return nil, errors.Join(errs...)
}

func userinfo(t *testing.T, p *oidctest.Provider, rawURL, accessToken string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("build userinfo request: %v", err)
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatalf("userinfo request: %v", err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil {
		t.Fatalf("decode userinfo: %v", err)
	}
	return resp.StatusCode, claims
}

func TestCorrectFlow(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256} {
		t.Run(string(alg), func(t *testing.T) {
			p := oidctest.New(t, oidctest.WithRedirectURI(redirectURI), oidctest.WithAlg(string(alg)),
				oidctest.WithPaths(), oidctest.WithIssParameter(true))

			d := discover(t, p)
			if d.Issuer != p.Issuer() || strings.HasSuffix(d.Issuer, "/") {
				t.Errorf("issuer = %q, want %q without a trailing slash", d.Issuer, p.Issuer())
			}
			if d.TokenEndpoint == p.Issuer()+"/token" || !strings.HasPrefix(d.TokenEndpoint, p.Issuer()+"/") {
				t.Errorf("token_endpoint = %q, want a random path below the issuer", d.TokenEndpoint)
			}
			if len(d.SigningAlgs) != 1 || d.SigningAlgs[0] != string(alg) {
				t.Errorf("id_token_signing_alg_values_supported = %v, want [%s]", d.SigningAlgs, alg)
			}
			if !d.IssParameterSupported || d.EndSessionEndpoint == "" {
				t.Errorf("discovery lacks the iss parameter flag or end_session_endpoint: %+v", d)
			}
			if strings.Join(d.CodeChallengeMethods, ",") != "S256" || strings.Join(d.ResponseTypes, ",") != "code" {
				t.Errorf("code_challenge_methods %v, response_types %v; want [S256], [code]", d.CodeChallengeMethods, d.ResponseTypes)
			}

			verifier, challenge := pkce()
			params := authParams(p, challenge)
			status, loc := authorize(t, p, d.AuthorizationEndpoint, params)
			if status != http.StatusFound {
				t.Fatalf("authorize status = %d, want 302", status)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
				t.Errorf("redirected to %q, want %q", got, redirectURI)
			}
			q := loc.Query()
			if q.Get("state") != params.Get("state") || q.Get("iss") != p.Issuer() || q.Get("code") == "" {
				t.Fatalf("redirect query = %v, want state, iss=%s and a code", q, p.Issuer())
			}
			if got := p.LastAuthorize().Get("code_challenge"); got != challenge {
				t.Errorf("recorded code_challenge = %q, want %q", got, challenge)
			}

			status, tr, header := postToken(t, p, codeForm(q.Get("code"), verifier), true)
			if status != http.StatusOK {
				t.Fatalf("token status = %d (%s), want 200", status, tr.Error)
			}
			if tr.TokenType != "Bearer" || tr.AccessToken == "" || tr.RefreshToken == "" || tr.ExpiresIn <= 0 {
				t.Errorf("token response = %+v, want a Bearer access token, a refresh token and expires_in", tr)
			}
			if got := header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("token Cache-Control = %q, want no-store", got)
			}
			if form, h := p.LastToken(); form.Get("code_verifier") != verifier || !strings.HasPrefix(h.Get("Authorization"), "Basic ") {
				t.Errorf("recorded token request: form %v, Authorization %q", form, h.Get("Authorization"))
			}

			hdr, _, _ := jwtParts(t, tr.IDToken)
			if hdr["kid"] != p.KeyID() || hdr["alg"] != string(alg) || hdr["typ"] != "JWT" {
				t.Errorf("ID token header = %v, want kid %s, alg %s, typ JWT", hdr, p.KeyID(), alg)
			}
			claims, err := verify(t, p, tr.IDToken, alg)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			if claims["iss"] != p.Issuer() || claims["aud"] != p.ClientID() || claims["sub"] != oidctest.DefaultSubject ||
				claims["nonce"] != params.Get("nonce") || claims["sid"] == nil {
				t.Errorf("ID token claims = %v", claims)
			}
			now := float64(time.Now().Unix())
			if iat, _ := claims["iat"].(float64); iat > now+1 || iat < now-60 {
				t.Errorf("iat = %v, want about now (%v)", claims["iat"], now)
			}
			if exp, _ := claims["exp"].(float64); exp <= now {
				t.Errorf("exp = %v, want after now", claims["exp"])
			}
			if p.LastIDToken() != tr.IDToken {
				t.Error("LastIDToken differs from the issued ID token")
			}

			status, info := userinfo(t, p, d.UserinfoEndpoint, tr.AccessToken)
			if status != http.StatusOK || info["sub"] != oidctest.DefaultSubject || info["name"] != oidctest.DefaultName ||
				info["email"] != oidctest.DefaultEmail || info["picture"] == nil {
				t.Errorf("userinfo = %d %v", status, info)
			}

			status, replay, _ := postToken(t, p, codeForm(q.Get("code"), verifier), true)
			if status != http.StatusBadRequest || replay.Error != "invalid_grant" {
				t.Errorf("replayed code: %d %q, want 400 invalid_grant", status, replay.Error)
			}

			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}
			status, refreshed, _ := postToken(t, p, refresh, true)
			if status != http.StatusOK || refreshed.RefreshToken == "" || refreshed.RefreshToken == tr.RefreshToken {
				t.Fatalf("refresh: %d %+v, want 200 with a rotated refresh token", status, refreshed)
			}
			rc, err := verify(t, p, refreshed.IDToken, alg)
			if err != nil || rc["sub"] != claims["sub"] || rc["nonce"] != nil {
				t.Errorf("refreshed ID token: %v, %v; want same sub, no nonce", rc, err)
			}
			if status, old, _ := postToken(t, p, refresh, true); status != http.StatusBadRequest || old.Error != "invalid_grant" {
				t.Errorf("old refresh token: %d %q, want 400 invalid_grant", status, old.Error)
			}
			if p.TokenCalls() != 4 || p.UserinfoCalls() != 1 || p.AuthorizeCalls() != 1 || p.JWKSCalls() != 2 {
				t.Errorf("calls: token %d, userinfo %d, authorize %d, jwks %d; want 4, 1, 1, 2",
					p.TokenCalls(), p.UserinfoCalls(), p.AuthorizeCalls(), p.JWKSCalls())
			}
		})
	}
}

func TestAuthorizeRefusesInvalidRequests(t *testing.T) {
	p := oidctest.New(t, oidctest.WithRedirectURI(redirectURI))
	_, challenge := pkce()
	tests := []struct {
		name   string
		change func(url.Values)
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "other") }},
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }},
		{"redirect_uri with extra path", func(q url.Values) { q.Set("redirect_uri", redirectURI+"/x") }},
		{"implicit response type", func(q url.Values) { q.Set("response_type", "id_token") }},
		{"no openid scope", func(q url.Values) { q.Set("scope", "profile email") }},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"challenge not a hash", func(q url.Values) { q.Set("code_challenge", "short") }},
		{"no state", func(q url.Values) { q.Del("state") }},
		{"no nonce", func(q url.Values) { q.Del("nonce") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := authParams(p, challenge)
			tt.change(params)
			if status, loc := authorize(t, p, p.AuthorizationEndpoint(), params); status != http.StatusBadRequest {
				t.Errorf("status = %d (location %v), want 400", status, loc)
			}
		})
	}
}

func TestTokenChecksClientAndPKCE(t *testing.T) {
	p := oidctest.New(t, oidctest.WithRedirectURI(redirectURI))
	tests := []struct {
		name      string
		basic     bool
		change    func(url.Values)
		status    int
		errorCode string
	}{
		{"no client authentication", false, func(url.Values) {}, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret in body", false, func(f url.Values) {
			f.Set("client_id", p.ClientID())
			f.Set("client_secret", "wrong")
		}, http.StatusUnauthorized, "invalid_client"},
		{"secret in header and body", true, func(f url.Values) { f.Set("client_secret", p.ClientSecret()) }, http.StatusBadRequest, "invalid_request"},
		{"wrong verifier", true, func(f url.Values) { v, _ := pkce(); f.Set("code_verifier", v) }, http.StatusBadRequest, "invalid_grant"},
		{"no verifier", true, func(f url.Values) { f.Del("code_verifier") }, http.StatusBadRequest, "invalid_grant"},
		{"other redirect_uri", true, func(f url.Values) { f.Set("redirect_uri", "https://app.example/other") }, http.StatusBadRequest, "invalid_grant"},
		{"unknown code", true, func(f url.Values) { f.Set("code", "nope") }, http.StatusBadRequest, "invalid_grant"},
		{"client_secret_post", false, func(f url.Values) {
			f.Set("client_id", p.ClientID())
			f.Set("client_secret", p.ClientSecret())
		}, http.StatusOK, ""},
		{"client_secret_basic", true, func(url.Values) {}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, verifier, _ := code(t, p)
			form := codeForm(c, verifier)
			tt.change(form)
			status, tr, header := postToken(t, p, form, tt.basic)
			if status != tt.status || tr.Error != tt.errorCode {
				t.Errorf("token: %d %q, want %d %q", status, tr.Error, tt.status, tt.errorCode)
			}
			if status == http.StatusUnauthorized && header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestTokenAuthMethodsCanBeLimitedToBasic(t *testing.T) {
	p := oidctest.New(t, oidctest.WithTokenAuthMethods("client_secret_basic"))
	if got := discover(t, p).TokenAuthMethods; strings.Join(got, ",") != "client_secret_basic" {
		t.Errorf("token_endpoint_auth_methods_supported = %v, want [client_secret_basic]", got)
	}
	c, verifier, _ := code(t, p)
	form := codeForm(c, verifier)
	form.Set("client_id", p.ClientID())
	form.Set("client_secret", p.ClientSecret())
	if status, tr, _ := postToken(t, p, form, false); status != http.StatusUnauthorized {
		t.Errorf("client_secret_post: %d %q, want 401", status, tr.Error)
	}
}

// TestClientAuthMethod: a client registered for client_secret_post is
// refused with HTTP Basic, though discovery lists both methods.
func TestClientAuthMethod(t *testing.T) {
	p := oidctest.New(t, oidctest.WithClientAuthMethod("client_secret_post"))
	if got := discover(t, p).TokenAuthMethods; strings.Join(got, ",") != "client_secret_basic,client_secret_post" {
		t.Errorf("token_endpoint_auth_methods_supported = %v, want both methods", got)
	}
	c, verifier, _ := code(t, p)
	if status, tr, _ := postToken(t, p, codeForm(c, verifier), true); status != http.StatusUnauthorized || tr.Error != "invalid_client" {
		t.Errorf("client_secret_basic: %d %q, want 401 invalid_client", status, tr.Error)
	}
	c, verifier, _ = code(t, p)
	form := codeForm(c, verifier)
	form.Set("client_id", p.ClientID())
	form.Set("client_secret", p.ClientSecret())
	if status, tr, _ := postToken(t, p, form, false); status != http.StatusOK {
		t.Errorf("client_secret_post: %d %q, want 200", status, tr.Error)
	}
}

func TestPublicClient(t *testing.T) {
	p := oidctest.New(t, oidctest.WithRedirectURI(redirectURI), oidctest.WithTokenAuthMethods("none"))
	if got := discover(t, p).TokenAuthMethods; strings.Join(got, ",") != "none" {
		t.Errorf("token_endpoint_auth_methods_supported = %v, want [none]", got)
	}
	tests := []struct {
		name      string
		basic     bool
		change    func(url.Values)
		status    int
		errorCode string
	}{
		{"client_id and PKCE only", false, func(f url.Values) { f.Set("client_id", p.ClientID()) }, http.StatusOK, ""},
		{"no client_id", false, func(url.Values) {}, http.StatusBadRequest, "invalid_request"},
		{"unknown client_id", false, func(f url.Values) { f.Set("client_id", "someone-else") }, http.StatusUnauthorized, "invalid_client"},
		{"no verifier", false, func(f url.Values) {
			f.Set("client_id", p.ClientID())
			f.Del("code_verifier")
		}, http.StatusBadRequest, "invalid_grant"},
		{"secret in the body", false, func(f url.Values) {
			f.Set("client_id", p.ClientID())
			f.Set("client_secret", p.ClientSecret())
		}, http.StatusUnauthorized, "invalid_client"},
		{"HTTP Basic", true, func(url.Values) {}, http.StatusUnauthorized, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, verifier, _ := code(t, p)
			form := codeForm(c, verifier)
			tt.change(form)
			status, tr, _ := postToken(t, p, form, tt.basic)
			if status != tt.status || tr.Error != tt.errorCode {
				t.Errorf("token: %d %q, want %d %q", status, tr.Error, tt.status, tt.errorCode)
			}
			if status == http.StatusOK && (tr.IDToken == "" || tr.AccessToken == "") {
				t.Errorf("token response without tokens: %+v", tr)
			}
		})
	}
}

func TestTokenAuthMethodsRefuseUnknownMethods(t *testing.T) {
	for _, m := range []string{"client_secret_jwt", "tls_client_auth", ""} {
		if err := oidctest.WithTokenAuthMethods(m)(nil); err == nil {
			t.Errorf("WithTokenAuthMethods(%q) was accepted", m)
		}
	}
}

func TestJWKSStatus(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{JWKSStatus: http.StatusInternalServerError})
	var set jose.JSONWebKeySet
	if resp := getJSON(t, p.Client(), p.JWKSURI(), &set); resp.StatusCode != http.StatusInternalServerError || len(set.Keys) != 0 {
		t.Errorf("JWKS with JWKSStatus 500 = %d with %d keys, want 500 and none", resp.StatusCode, len(set.Keys))
	}
	p.SetBehavior(oidctest.Behavior{})
	if resp := getJSON(t, p.Client(), p.JWKSURI(), &set); resp.StatusCode != http.StatusOK || len(set.Keys) != 1 {
		t.Errorf("JWKS after reset = %d with %d keys, want 200 and the key", resp.StatusCode, len(set.Keys))
	}
	if n := p.JWKSCalls(); n != 2 {
		t.Errorf("JWKSCalls = %d, want 2: a failed answer counts too", n)
	}
}

func TestUserinfoTakesTheTokenOnlyFromTheHeader(t *testing.T) {
	p := oidctest.New(t)
	tr := tokens(t, p)

	status, body := userinfo(t, p, p.UserinfoEndpoint()+"?access_token="+url.QueryEscape(tr.AccessToken), "")
	if status != http.StatusBadRequest {
		t.Errorf("token in query: %d %v, want 400", status, body)
	}
	resp, err := p.Client().PostForm(p.UserinfoEndpoint(), url.Values{"access_token": {tr.AccessToken}})
	if err != nil {
		t.Fatalf("userinfo POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token in body: %d, want 400", resp.StatusCode)
	}
	if status, _ := userinfo(t, p, p.UserinfoEndpoint(), "not-a-token"); status != http.StatusUnauthorized {
		t.Errorf("unknown token: %d, want 401", status)
	}
	if got := p.Requests(oidctest.EndpointUserinfo)[0].Query.Get("access_token"); got != tr.AccessToken {
		t.Errorf("recorded query access_token = %q", got)
	}
}

func TestUserinfoReleasesClaimsByScope(t *testing.T) {
	p := oidctest.New(t, oidctest.WithUser(map[string]any{"name": "Ada", "groups": []string{"admins"}, "picture": nil}))
	verifier, challenge := pkce()
	params := authParams(p, challenge)
	params.Set("scope", "openid email")
	_, loc := authorize(t, p, p.AuthorizationEndpoint(), params)
	_, tr, _ := postToken(t, p, codeForm(loc.Query().Get("code"), verifier), true)

	status, info := userinfo(t, p, p.UserinfoEndpoint(), tr.AccessToken)
	if status != http.StatusOK || info["email"] != oidctest.DefaultEmail || info["name"] != nil || info["groups"] == nil || info["sub"] == nil {
		t.Errorf("userinfo with scope openid email = %d %v; want sub, email and groups but no name", status, info)
	}
	if user := p.User(); user["name"] != "Ada" || user["picture"] != nil {
		t.Errorf("User() = %v, want name Ada and no picture", user)
	}
}

func TestSignModes(t *testing.T) {
	tests := []struct {
		mode   oidctest.SignMode
		alg    jose.SignatureAlgorithm
		verify bool // whether the JWKS verifies the signature
		kid    bool // whether the header names a kid
	}{
		{oidctest.SignValid, jose.RS256, true, true},
		{oidctest.SignBadSignature, jose.RS256, false, true},
		{oidctest.SignNoKid, jose.RS256, true, false},
		{oidctest.SignUnknownKey, jose.RS256, false, true},
		{oidctest.SignHS256, jose.HS256, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := oidctest.New(t)
			p.SetBehavior(oidctest.Behavior{Sign: tt.mode})
			tr := tokens(t, p)
			hdr, _, _ := jwtParts(t, tr.IDToken)
			if hdr["alg"] != string(tt.alg) {
				t.Errorf("alg = %v, want %s", hdr["alg"], tt.alg)
			}
			if _, hasKid := hdr["kid"]; hasKid != tt.kid {
				t.Errorf("header %v: kid present = %v, want %v", hdr, hasKid, tt.kid)
			}
			_, err := verify(t, p, tr.IDToken, tt.alg)
			if (err == nil) != tt.verify {
				t.Errorf("verify with the JWKS: err = %v, want success %v", err, tt.verify)
			}
			if tt.mode == oidctest.SignNoKid {
				var set jose.JSONWebKeySet
				getJSON(t, p.Client(), p.JWKSURI(), &set)
				if len(set.Keys) != 1 || set.Keys[0].KeyID != "" {
					t.Errorf("JWKS for SignNoKid = %+v, want one key without kid", set.Keys)
				}
			}
			if tt.mode == oidctest.SignHS256 {
				jws, err := jose.ParseSignedCompact(tr.IDToken, []jose.SignatureAlgorithm{jose.HS256})
				if err != nil {
					t.Fatalf("parse HS256 token: %v", err)
				}
				if _, err := jws.Verify([]byte(p.ClientSecret())); err != nil {
					t.Errorf("HS256 token does not verify with the client secret: %v", err)
				}
			}
		})
	}
}

func TestSignNoneProducesAnUnsignedToken(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{Sign: oidctest.SignNone})
	tr := tokens(t, p)
	hdr, claims, sig := jwtParts(t, tr.IDToken)
	if hdr["alg"] != "none" || sig != "" {
		t.Errorf("header %v, signature %q; want alg none and an empty signature", hdr, sig)
	}
	if claims["sub"] != oidctest.DefaultSubject {
		t.Errorf("claims = %v", claims)
	}
}

func TestIDTokenClaimsCanBeTampered(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{IDToken: func(c map[string]any) {
		delete(c, "sub")
		c["aud"] = c["aud"].(string) + "1"
		c["nonce"] = c["nonce"].(string) + "1"
	}})
	c, verifier, params := code(t, p)
	_, tr, _ := postToken(t, p, codeForm(c, verifier), true)
	claims, err := verify(t, p, tr.IDToken, jose.RS256)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, ok := claims["sub"]; ok || claims["aud"] != p.ClientID()+"1" || claims["nonce"] != params.Get("nonce")+"1" {
		t.Errorf("claims = %v, want no sub and tampered aud and nonce", claims)
	}
}

func TestDiscoveryBehaviors(t *testing.T) {
	p := oidctest.New(t)
	discoveryURL := p.Issuer() + "/.well-known/openid-configuration"

	p.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	if resp := getJSON(t, p.Client(), discoveryURL, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: status %d, want 503", resp.StatusCode)
	}
	p.SetBehavior(oidctest.Behavior{DiscoveryIssuer: p.Issuer() + "INVALID"})
	if d := discover(t, p); d.Issuer != p.Issuer()+"INVALID" {
		t.Errorf("issuer = %q, want the override", d.Issuer)
	}
	p.SetBehavior(oidctest.Behavior{})
	if d := discover(t, p); d.Issuer != p.Issuer() {
		t.Errorf("issuer = %q after reset, want %q", d.Issuer, p.Issuer())
	}
	if p.DiscoveryCalls() != 3 {
		t.Errorf("DiscoveryCalls = %d, want 3", p.DiscoveryCalls())
	}
}

func TestIssuerPath(t *testing.T) {
	p := oidctest.New(t, oidctest.WithIssuerPath("/tenant-a/"))
	if !strings.HasSuffix(p.Issuer(), "/tenant-a") {
		t.Errorf("issuer = %q, want it to end in /tenant-a", p.Issuer())
	}
	if d := discover(t, p); d.Issuer != p.Issuer() || !strings.HasPrefix(d.JWKSURI, p.Issuer()+"/") {
		t.Errorf("discovery = %+v", d)
	}
}

func TestTokenHangBlocksUntilTheClientGivesUp(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{TokenHang: true})
	c, verifier, _ := code(t, p)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenEndpoint(), strings.NewReader(codeForm(c, verifier).Encode()))
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	resp, err := p.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("token request answered %d, want it to hang", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context deadline", err)
	}
	if p.TokenCalls() != 1 {
		t.Errorf("TokenCalls = %d, want 1", p.TokenCalls())
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{TokenHang: true})
	done := make(chan error, 1)
	go func() {
		resp, err := p.Client().PostForm(p.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}})
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for p.TokenCalls() == 0 {
		select {
		case err := <-done:
			t.Fatalf("token request ended before Close: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	p.Close()
	<-done
}

func TestForcedErrors(t *testing.T) {
	p := oidctest.New(t)
	tr := tokens(t, p)

	p.SetBehavior(oidctest.Behavior{UserinfoSub: "someone-else"})
	if _, info := userinfo(t, p, p.UserinfoEndpoint(), tr.AccessToken); info["sub"] != "someone-else" {
		t.Errorf("userinfo sub = %v, want someone-else", info["sub"])
	}
	p.SetBehavior(oidctest.Behavior{UserinfoStatus: http.StatusInternalServerError})
	if status, _ := userinfo(t, p, p.UserinfoEndpoint(), tr.AccessToken); status != http.StatusInternalServerError {
		t.Errorf("userinfo status = %d, want 500", status)
	}

	p.SetBehavior(oidctest.Behavior{})
	c, verifier, _ := code(t, p)
	p.SetBehavior(oidctest.Behavior{TokenStatus: http.StatusBadRequest})
	if status, resp, _ := postToken(t, p, codeForm(c, verifier), true); status != http.StatusBadRequest || resp.Error != "invalid_grant" {
		t.Errorf("forced token error: %d %q, want 400 invalid_grant", status, resp.Error)
	}
	p.SetBehavior(oidctest.Behavior{})
	if status, resp, _ := postToken(t, p, codeForm(c, verifier), true); status != http.StatusOK {
		t.Errorf("code after a forced error: %d %q, want it still usable", status, resp.Error)
	}
}

func TestAuthorizationResponseBehaviors(t *testing.T) {
	p := oidctest.New(t, oidctest.WithIssParameter(true))
	_, challenge := pkce()

	p.SetBehavior(oidctest.Behavior{AuthorizeError: "access_denied"})
	params := authParams(p, challenge)
	_, loc := authorize(t, p, p.AuthorizationEndpoint(), params)
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") != oidctest.SecretErrorDescription ||
		q.Get("state") != params.Get("state") || q.Has("code") {
		t.Errorf("error redirect query = %v", q)
	}

	for _, tt := range []struct{ param, want string }{{"-", ""}, {"https://evil.example", "https://evil.example"}, {"", p.Issuer()}} {
		p.SetBehavior(oidctest.Behavior{IssParam: tt.param})
		_, loc := authorize(t, p, p.AuthorizationEndpoint(), authParams(p, challenge))
		if got := loc.Query().Get("iss"); got != tt.want || !loc.Query().Has("code") {
			t.Errorf("IssParam %q: iss = %q, want %q", tt.param, got, tt.want)
		}
	}
}

func TestRotateKey(t *testing.T) {
	p := oidctest.New(t, oidctest.WithAlg("ES256"))
	first := tokens(t, p)
	oldKid := p.KeyID()
	p.RotateKey()
	if p.KeyID() == oldKid {
		t.Fatal("RotateKey kept the kid")
	}
	second := tokens(t, p)
	if hdr, _, _ := jwtParts(t, second.IDToken); hdr["kid"] != p.KeyID() {
		t.Errorf("new token kid = %v, want %s", hdr["kid"], p.KeyID())
	}
	for _, token := range []string{first.IDToken, second.IDToken} {
		if _, err := verify(t, p, token, jose.ES256); err != nil {
			t.Errorf("verify after rotation: %v", err)
		}
	}
}

// TestRotateKeyChangesTheKey: for RSA, whose keys come from a few fixed
// test keys, every rotation publishes another key, also past the number of
// fixed keys, and the key that is never published is none of them.
func TestRotateKeyChangesTheKey(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			p := oidctest.New(t, oidctest.WithAlg(alg))
			const rotations = 4 // one more key than the fixed ones the ring publishes
			for range rotations {
				p.RotateKey()
			}
			var set jose.JSONWebKeySet
			getJSON(t, p.Client(), p.JWKSURI(), &set)
			if len(set.Keys) != rotations+1 {
				t.Fatalf("JWKS has %d keys after %d rotations, want %d", len(set.Keys), rotations, rotations+1)
			}
			seen := map[string]bool{}
			for _, k := range set.Keys {
				thumb, err := k.Thumbprint(crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if seen[string(thumb)] {
					t.Errorf("key %s was published before under another kid", k.KeyID)
				}
				seen[string(thumb)] = true
			}

			// Without a kid, every published key is tried: none may verify
			// a token signed with the unpublished key.
			p.SetBehavior(oidctest.Behavior{Sign: oidctest.SignUnknownKey})
			token := tokens(t, p).IDToken
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range set.Keys {
				if _, err := jws.Verify(k); err == nil {
					t.Errorf("the published key %s verifies a token signed with the unpublished key", k.KeyID)
				}
			}
		})
	}
}

func TestEndSession(t *testing.T) {
	const postLogout = "https://app.example/"
	p := oidctest.New(t, oidctest.WithPostLogoutRedirectURI(postLogout))
	tr := tokens(t, p)
	tests := []struct {
		name     string
		params   url.Values
		status   int
		location string
	}{
		{"registered", url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {postLogout}, "client_id": {p.ClientID()}, "state": {"s1"}}, http.StatusFound, postLogout + "?state=s1"},
		{"unregistered", url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://evil.example/"}}, http.StatusBadRequest, ""},
		{"foreign hint", url.Values{"id_token_hint": {"a.b.c"}, "post_logout_redirect_uri": {postLogout}}, http.StatusBadRequest, ""},
		{"no hint", url.Values{"post_logout_redirect_uri": {postLogout}}, http.StatusBadRequest, ""},
		{"no redirect", url.Values{"id_token_hint": {tr.IDToken}}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := browser(p).Get(p.EndSessionEndpoint() + "?" + tt.params.Encode())
			if err != nil {
				t.Fatalf("end session: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Errorf("end session: %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if got := p.LastEndSession().Get("id_token_hint"); got != tt.params.Get("id_token_hint") {
				t.Errorf("recorded id_token_hint = %q", got)
			}
		})
	}
}

func TestWithoutEndSession(t *testing.T) {
	p := oidctest.New(t, oidctest.WithoutEndSession())
	if d := discover(t, p); d.EndSessionEndpoint != "" {
		t.Errorf("end_session_endpoint = %q, want none", d.EndSessionEndpoint)
	}
	resp := getJSON(t, p.Client(), p.Issuer()+"/end_session", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("end_session status = %d, want 404", resp.StatusCode)
	}
}

func TestPictureIsServed(t *testing.T) {
	p := oidctest.New(t)
	resp, err := p.Client().Get(p.User()["picture"].(string))
	if err != nil {
		t.Fatalf("get picture: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<svg") {
		t.Errorf("picture: %d %q", resp.StatusCode, body)
	}
}

// nonceKey carries the nonce of a login to the relying party's ID token verifier.
type nonceKey struct{}

// TestRelyingPartyAcceptsProvider proves that the library the app uses as its client accepts the
// provider when it behaves, and refuses it when it does not.
func TestRelyingPartyAcceptsProvider(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			p := oidctest.New(t, oidctest.WithRedirectURI(redirectURI), oidctest.WithAlg(alg), oidctest.WithPaths(), oidctest.WithTLS())
			ctx := t.Context()
			nonce := "nonce-" + rand.Text()
			relyingParty, err := rp.NewRelyingPartyOIDC(ctx, p.Issuer(), p.ClientID(), p.ClientSecret(), redirectURI,
				[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
				rp.WithHTTPClient(p.Client()),
				rp.WithSigningAlgsFromDiscovery(),
				rp.WithVerifierOpts(rp.WithNonce(func(ctx context.Context) string {
					// A refreshed ID token has no nonce: only a login's context carries one.
					n, _ := ctx.Value(nonceKey{}).(string)
					return n
				})))
			if err != nil {
				t.Fatalf("create relying party: %v", err)
			}

			login := func() (code, verifier string) {
				verifier = rand.Text() + rand.Text()
				authURL := rp.AuthURL("state-1", relyingParty,
					rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)),
					rp.AuthURLOpt(rp.WithURLParam("nonce", nonce)))
				status, loc := authorize(t, p, authURL, nil)
				if status != http.StatusFound || loc.Query().Get("code") == "" {
					t.Fatalf("authorize %s: %d %v", authURL, status, loc)
				}
				return loc.Query().Get("code"), verifier
			}

			code, verifier := login()
			loginCtx := context.WithValue(ctx, nonceKey{}, nonce)
			tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](loginCtx, code, relyingParty, rp.WithCodeVerifier(verifier))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			if tokens.IDTokenClaims.GetSubject() != oidctest.DefaultSubject || tokens.IDTokenClaims.Nonce != nonce {
				t.Errorf("ID token claims = %+v", tokens.IDTokenClaims)
			}
			if _, h := p.LastToken(); !strings.HasPrefix(h.Get("Authorization"), "Basic ") {
				t.Errorf("the relying party did not use client_secret_basic")
			}
			info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, tokens.IDTokenClaims.GetSubject(), relyingParty)
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Name != oidctest.DefaultName || info.Email != oidctest.DefaultEmail {
				t.Errorf("userinfo = %+v", info)
			}
			if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, relyingParty, tokens.RefreshToken, "", ""); err != nil {
				t.Errorf("refresh: %v", err)
			}

			p.SetBehavior(oidctest.Behavior{IDToken: func(c map[string]any) { c["nonce"] = c["nonce"].(string) + "1" }})
			code, verifier = login()
			if _, err := rp.CodeExchange[*oidc.IDTokenClaims](loginCtx, code, relyingParty, rp.WithCodeVerifier(verifier)); err == nil {
				t.Error("code exchange accepted an ID token with a wrong nonce")
			}
			p.SetBehavior(oidctest.Behavior{Sign: oidctest.SignBadSignature})
			code, verifier = login()
			if _, err := rp.CodeExchange[*oidc.IDTokenClaims](loginCtx, code, relyingParty, rp.WithCodeVerifier(verifier)); err == nil {
				t.Error("code exchange accepted an ID token with a bad signature")
			}
		})
	}
}

// tokensWithScope runs the whole code flow asking for scope and returns the token response.
func tokensWithScope(t *testing.T, p *oidctest.Provider, scope string) tokenResponse {
	t.Helper()
	verifier, challenge := pkce()
	params := authParams(p, challenge)
	params.Set("scope", scope)
	status, loc := authorize(t, p, p.AuthorizationEndpoint(), params)
	if status != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: status %d, location %v; want 302 with a code", status, loc)
	}
	status, tr, _ := postToken(t, p, codeForm(loc.Query().Get("code"), verifier), true)
	if status != http.StatusOK {
		t.Fatalf("token status = %d (%s), want 200", status, tr.Error)
	}
	return tr
}

func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

func TestOfflineAccess(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		p := oidctest.New(t)
		if d := discover(t, p); !slices.Contains(d.ScopesSupported, "offline_access") {
			t.Errorf("scopes_supported = %v, want offline_access", d.ScopesSupported)
		}
		if tr := tokensWithScope(t, p, "openid"); tr.RefreshToken == "" {
			t.Error("no refresh token without offline_access; the default issues one on every grant")
		}
	})
	t.Run("advertised", func(t *testing.T) {
		p := oidctest.New(t, oidctest.WithOfflineAccess(true))
		if d := discover(t, p); !slices.Contains(d.ScopesSupported, "offline_access") {
			t.Errorf("scopes_supported = %v, want offline_access", d.ScopesSupported)
		}
		if tr := tokensWithScope(t, p, "openid profile"); tr.RefreshToken != "" {
			t.Error("a refresh token was issued without offline_access")
		}
		tr := tokensWithScope(t, p, "openid profile offline_access")
		if tr.RefreshToken == "" {
			t.Fatal("no refresh token although offline_access was granted")
		}
		status, refreshed, _ := postToken(t, p, refreshForm(tr.RefreshToken), true)
		if status != http.StatusOK || refreshed.RefreshToken == "" || refreshed.RefreshToken == tr.RefreshToken {
			t.Errorf("refresh: %d %+v, want 200 with a new refresh token", status, refreshed)
		}
	})
	t.Run("not advertised", func(t *testing.T) {
		p := oidctest.New(t, oidctest.WithOfflineAccess(false))
		if d := discover(t, p); slices.Contains(d.ScopesSupported, "offline_access") || !slices.Contains(d.ScopesSupported, "openid") {
			t.Errorf("scopes_supported = %v, want openid without offline_access", d.ScopesSupported)
		}
		if tr := tokensWithScope(t, p, "openid profile"); tr.RefreshToken != "" {
			t.Error("a refresh token was issued without offline_access")
		}
	})
}

func TestAccessTokenLifetime(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	expired := tokens(t, p)
	if expired.ExpiresIn != -60 {
		t.Errorf("expires_in = %d, want -60", expired.ExpiresIn)
	}
	if status, info := userinfo(t, p, p.UserinfoEndpoint(), expired.AccessToken); status != http.StatusOK || info["sub"] != oidctest.DefaultSubject {
		t.Errorf("userinfo with the announced-expired token = %d %v, want it still served", status, info)
	}
	status, refreshed, _ := postToken(t, p, refreshForm(expired.RefreshToken), true)
	if status != http.StatusOK || refreshed.ExpiresIn != -60 {
		t.Errorf("refresh: %d expires_in %d, want 200 and -60", status, refreshed.ExpiresIn)
	}
	p.SetBehavior(oidctest.Behavior{})
	if tr := tokens(t, p); tr.ExpiresIn != 3600 {
		t.Errorf("expires_in after reset = %d, want 3600", tr.ExpiresIn)
	}
}

func TestRefreshError(t *testing.T) {
	p := oidctest.New(t)
	tr := tokens(t, p)
	p.SetBehavior(oidctest.Behavior{RefreshError: "invalid_grant"})
	if status, resp, _ := postToken(t, p, refreshForm(tr.RefreshToken), true); status != http.StatusBadRequest || resp.Error != "invalid_grant" {
		t.Errorf("forced refresh error: %d %q, want 400 invalid_grant", status, resp.Error)
	}
	c, verifier, _ := code(t, p)
	if status, resp, _ := postToken(t, p, codeForm(c, verifier), true); status != http.StatusOK {
		t.Errorf("code grant during RefreshError: %d %q, want 200", status, resp.Error)
	}
	p.SetBehavior(oidctest.Behavior{RefreshError: "invalid_client"})
	if status, resp, _ := postToken(t, p, refreshForm(tr.RefreshToken), true); status != http.StatusUnauthorized || resp.Error != "invalid_client" {
		t.Errorf("forced invalid_client: %d %q, want 401 invalid_client", status, resp.Error)
	}
	p.SetBehavior(oidctest.Behavior{})
	if status, resp, _ := postToken(t, p, refreshForm(tr.RefreshToken), true); status != http.StatusOK {
		t.Errorf("refresh token after forced errors: %d %q, want it still usable", status, resp.Error)
	}
}

// TestStaleKid: Kid names another key in the header of ID tokens signed
// with the current one, and UnpublishOldKeys leaves the current key alone
// in the JWKS.
func TestStaleKid(t *testing.T) {
	p := oidctest.New(t)
	oldKid := p.KeyID()
	p.RotateKey()
	p.SetBehavior(oidctest.Behavior{Kid: oldKid})
	token := tokens(t, p).IDToken
	if hdr, _, _ := jwtParts(t, token); hdr["kid"] != oldKid {
		t.Errorf("kid = %v, want the old key's %s", hdr["kid"], oldKid)
	}
	if _, err := verify(t, p, token, jose.RS256); err == nil {
		t.Error("the key the stale kid names verifies the token")
	}

	p.UnpublishOldKeys()
	var set jose.JSONWebKeySet
	getJSON(t, p.Client(), p.JWKSURI(), &set)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != p.KeyID() {
		t.Fatalf("JWKS after UnpublishOldKeys = %+v, want the current key alone", set.Keys)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(set.Keys[0]); err != nil {
		t.Errorf("the current key does not verify the token with the stale kid: %v", err)
	}
}

// TestRevokeAccessTokens: userinfo refuses a revoked access token as RFC
// 6750 says, and accepts one issued afterwards.
func TestRevokeAccessTokens(t *testing.T) {
	p := oidctest.New(t)
	first := tokens(t, p)
	p.RevokeAccessTokens()
	status, claims := userinfo(t, p, p.UserinfoEndpoint(), first.AccessToken)
	if status != http.StatusUnauthorized || claims["error"] != "invalid_token" {
		t.Errorf("userinfo with a revoked access token = %d %v, want 401 invalid_token", status, claims)
	}
	second := tokens(t, p)
	if status, _ := userinfo(t, p, p.UserinfoEndpoint(), second.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo with an access token issued after the revocation = %d, want 200", status)
	}
}

// TestOneRefreshTokenPerUser: a second login makes the first login's
// refresh token invalid, as Dex does; its own stays good.
func TestOneRefreshTokenPerUser(t *testing.T) {
	p := oidctest.New(t, oidctest.WithOneRefreshTokenPerUser())
	first, second := tokens(t, p), tokens(t, p)
	if status, resp, _ := postToken(t, p, refreshForm(first.RefreshToken), true); status != http.StatusBadRequest || resp.Error != "invalid_grant" {
		t.Errorf("the first login's refresh token after a second login: %d %q, want 400 invalid_grant", status, resp.Error)
	}
	if status, resp, _ := postToken(t, p, refreshForm(second.RefreshToken), true); status != http.StatusOK {
		t.Errorf("the second login's refresh token: %d %q, want 200", status, resp.Error)
	}
}

// TestPrivateKeyJWT: the token endpoint takes a client assertion signed by
// the registered key under its kid, once, and refuses one signed by
// another key, naming another audience, expired, or sent with a secret.
func TestPrivateKeyJWT(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := oidctest.New(t, oidctest.WithTokenAuthMethods("private_key_jwt"), oidctest.WithClientKey(key.Public(), "k1"))
	d := discover(t, p)
	if !slices.Equal(d.TokenAuthMethods, []string{"private_key_jwt"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %v", d.TokenAuthMethods)
	}
	sign := func(signer *ecdsa.PrivateKey, kid string, change func(map[string]any)) string {
		claims := map[string]any{
			"iss": p.ClientID(), "sub": p.ClientID(), "aud": p.Issuer(),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "jti": rand.Text(),
		}
		if change != nil {
			change(claims)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: signer, KeyID: kid}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		token, _ := jws.CompactSerialize()
		return token
	}
	exchange := func(assertion string, basic bool) (int, string) {
		c, verifier, _ := code(t, p)
		form := codeForm(c, verifier)
		form.Set("client_id", p.ClientID())
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
		status, tr, _ := postToken(t, p, form, basic)
		return status, tr.Error
	}
	good := sign(key, "k1", nil)
	if status, e := exchange(good, false); status != http.StatusOK {
		t.Fatalf("a good assertion: %d %q, want 200", status, e)
	}
	for name, tc := range map[string]struct {
		assertion string
		basic     bool
	}{
		"replayed":       {assertion: good},
		"another key":    {assertion: sign(other, "k1", nil)},
		"another kid":    {assertion: sign(key, "k2", nil)},
		"another aud":    {assertion: sign(key, "k1", func(c map[string]any) { c["aud"] = "https://elsewhere.example" })},
		"token endpoint": {assertion: sign(key, "k1", func(c map[string]any) { c["aud"] = []string{p.TokenEndpoint()} })},
		"expired":        {assertion: sign(key, "k1", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() })},
		"another client": {assertion: sign(key, "k1", func(c map[string]any) { c["iss"], c["sub"] = "someone", "someone" })},
		"with a secret":  {assertion: sign(key, "k1", nil), basic: true},
	} {
		status, e := exchange(tc.assertion, tc.basic)
		if name == "token endpoint" {
			if status != http.StatusOK {
				t.Errorf("%s: %d %q, want 200", name, status, e)
			}
			continue
		}
		if status == http.StatusOK {
			t.Errorf("%s: accepted", name)
		}
	}
}
