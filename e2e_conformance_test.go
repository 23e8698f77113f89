package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-jose/go-jose/v4"

	"latchkey/auth"
	"latchkey/auth/oidctest"
)

// The conformance table: the checks of docs/security.md, each run end to
// end — the real program against a fake provider that misbehaves on demand,
// driven by a cookie-keeping client — and named by its id there.
// `go test ./... -run Conformance -v` prints the table with each row's
// result.

// conformanceCase is one row of the table.
type conformanceCase struct {
	// id is the docs/security.md id: an rp-… or oidcc-… certification
	// test, or an R… or F… requirement.
	id string
	// profile is the certification plan the row belongs to, or the part of
	// docs/security.md it comes from.
	profile string
	// name tells rows with one id apart, in the subtest's name.
	name string
	// what the provider does, and what the app must do.
	what string
	test func(t *testing.T)
}

// Profiles of the rows.
const (
	profileBasic    = "C"        // oidcc-client-basic-certification-test-plan
	profileConfig   = "CNF"      // oidcc-client-config-certification-test-plan
	profileRPLogout = "RP-init"  // oidcc-client-rp-initiated-logout-rp-basic
	profileBCL      = "BCL"      // oidcc-client-back-channel-logout-rp-basic
	profileRefresh  = "refresh"  // oidcc-client-refreshtoken-test-plan
	profileRFC9207  = "RFC 9207" // authorization server issuer identification
	profileClient   = "client"   // docs/security.md sections 4 and 5
)

func TestConformance(t *testing.T) {
	t.Parallel()
	cases := conformanceCases()
	var mu sync.Mutex
	results := make([]string, len(cases))
	// The parent's cleanup runs once every row, parallel ones included, has
	// finished.
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		logConformanceTable(t, cases, results)
	})
	for i, c := range cases {
		t.Run(c.id+"/"+c.name, func(t *testing.T) {
			// Registered first, so it runs last: after the row's own
			// cleanups (stopping the app) and its subtests.
			t.Cleanup(func() {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case t.Failed():
					results[i] = "FAIL"
				case t.Skipped():
					results[i] = "skip"
				default:
					results[i] = "pass"
				}
			})
			t.Parallel()
			c.test(t)
		})
	}
}

// logConformanceTable prints the rows that ran, fixed width, and a summary
// line. Rows that -run left out have no result and are only counted.
func logConformanceTable(t *testing.T, cases []conformanceCase, results []string) {
	t.Helper()
	rows := [][4]string{{"id", "profile", "what", "result"}}
	counts := map[string]int{}
	for i, c := range cases {
		if results[i] == "" {
			counts["not run"]++
			continue
		}
		counts[results[i]]++
		rows = append(rows, [4]string{c.id, c.profile, c.what, results[i]})
	}
	var widths [4]int
	for _, r := range rows {
		for i, col := range r {
			widths[i] = max(widths[i], len([]rune(col)))
		}
	}
	var b strings.Builder
	b.WriteString("conformance table\n")
	for n, r := range rows {
		for i, col := range r[:3] {
			b.WriteString(col + strings.Repeat(" ", widths[i]-len([]rune(col))) + " | ")
		}
		b.WriteString(r[3] + "\n")
		if n == 0 {
			for i, w := range widths {
				if i > 0 {
					b.WriteString("-+-")
				}
				b.WriteString(strings.Repeat("-", w))
			}
			b.WriteString("\n")
		}
	}
	t.Log(strings.TrimSuffix(b.String(), "\n"))

	run := len(cases) - counts["not run"]
	summary := fmt.Sprintf("conformance: %d cases, all passed", run)
	if counts["pass"] != run {
		summary = fmt.Sprintf("conformance: %d cases: %d passed, %d failed, %d skipped", run, counts["pass"], counts["FAIL"], counts["skip"])
	}
	if counts["not run"] > 0 {
		summary += fmt.Sprintf(" (%d more not selected by -run)", counts["not run"])
	}
	t.Log(summary)
}

func conformanceCases() []conformanceCase {
	return []conformanceCase{
		// Basic profile.
		{
			id: "rp-response_type-code", profile: profileBasic, name: "happy path",
			what: "correct provider → code flow with openid, the registered redirect_uri, PKCE S256, state, nonce; user shown",
			test: loginCase{want: accept, check: checkHappyPath}.run,
		},
		{
			id: "rp-token_endpoint-client_secret_basic", profile: profileBasic, name: "client_secret_basic",
			what: "discovery lists only client_secret_basic → HTTP Basic credentials, no secret in the body",
			test: loginCase{
				want: accept, opts: []oidctest.Option{oidctest.WithTokenAuthMethods("client_secret_basic")},
				check: checkClientSecretBasic,
			}.run,
		},
		{
			id: "rp-id_token-issuer-mismatch", profile: profileBasic, name: "iss plus 1",
			what: `ID token iss+"1" → reject, no userinfo call`,
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("iss", appendOne)}}.run,
		},
		{
			id: "rp-id_token-aud", profile: profileBasic, name: "aud plus 1",
			what: `ID token aud+"1" → reject, no userinfo call`,
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("aud", appendOne)}}.run,
		},
		{
			id: "rp-id_token-aud", profile: profileBasic, name: "aud removed",
			what: "ID token without aud → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("aud", nil)}}.run,
		},
		{
			id: "rp-id_token-sub", profile: profileBasic, name: "sub removed",
			what: "ID token without sub → reject (the library alone would accept it), no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("sub", nil)}}.run,
		},
		{
			id: "rp-id_token-iat", profile: profileBasic, name: "iat removed",
			what: "ID token without iat → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("iat", nil)}}.run,
		},
		{
			id: "rp-id_token-kid-absent-single-jwks", profile: profileBasic, name: "one key",
			what: "no kid header, one key in the JWKS → accept",
			test: loginCase{want: accept, behavior: oidctest.Behavior{Sign: oidctest.SignNoKid}}.run,
		},
		{
			id: "rp-id_token-kid-absent-multiple-jwks", profile: profileBasic, name: "several keys",
			what: "no kid header, two keys in the JWKS → accept or reject, never a 5xx",
			test: loginCase{
				want: acceptOrReject, behavior: oidctest.Behavior{Sign: oidctest.SignNoKid},
				setup: func(p *oidctest.Provider) { p.RotateKey() },
			}.run,
		},
		{
			id: "rp-id_token-sig-rs256", profile: profileBasic, name: "valid RS256",
			what: "valid RS256 signature → accept",
			test: loginCase{want: accept}.run,
		},
		{
			id: "rp-id_token-bad-sig-rs256", profile: profileBasic, name: "corrupted signature",
			what: "RS256 signature corrupted → reject (never skip the check on token-endpoint tokens), no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{Sign: oidctest.SignBadSignature}}.run,
		},
		{
			id: "rp-id_token-bad-sig-es256", profile: profileBasic, name: "corrupted ES256 signature",
			what: "ES256 provider, signature corrupted → reject, no userinfo call",
			test: loginCase{
				want: reject, noUserinfo: true, opts: []oidctest.Option{oidctest.WithAlg("ES256")},
				behavior: oidctest.Behavior{Sign: oidctest.SignBadSignature},
			}.run,
		},
		{
			id: "rp-id_token-sig-none", profile: profileBasic, name: "alg none",
			what: "unsigned ID token (alg none) → reject (ASVS 9.1.2), no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{Sign: oidctest.SignNone}}.run,
		},
		{
			id: "rp-nonce-invalid", profile: profileBasic, name: "nonce plus 1",
			what: `ID token nonce+"1" → reject and discard the tokens (R3), no userinfo call`,
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("nonce", appendOne)}}.run,
		},
		{
			id: "rp-userinfo-bad-sub-claim", profile: profileBasic, name: "userinfo sub differs",
			what: `userinfo sub+"invalid" → discard the userinfo: reject, no session`,
			test: loginCase{want: reject, behavior: oidctest.Behavior{UserinfoSub: oidctest.DefaultSubject + "invalid"}}.run,
		},
		{
			id: "rp-userinfo-bearer-header", profile: profileBasic, name: "bearer header",
			what: "userinfo refuses ?access_token → send the access token only in Authorization: Bearer",
			test: loginCase{want: accept, check: checkUserinfoBearer}.run,
		},
		{
			id: "rp-scope-userinfo-claims", profile: profileBasic, name: "userinfo claims shown",
			what: "claims released only through userinfo → request profile and email, show those claims",
			test: loginCase{want: accept, check: checkUserinfoClaims}.run,
		},

		// Config profile.
		{
			id: "rp-discovery-openid-configuration", profile: profileConfig, name: "random endpoint paths",
			what: "endpoints at random paths → use the ones the discovery document names",
			test: loginCase{want: accept, opts: []oidctest.Option{oidctest.WithPaths()}, check: checkDiscoveredEndpoints}.run,
		},
		{
			id: "rp-discovery-jwks_uri-keys", profile: profileConfig, name: "JWKS at a random path",
			what: "JWKS at a random path → fetch the keys from jwks_uri and verify with them",
			test: loginCase{want: accept, opts: []oidctest.Option{oidctest.WithPaths()}, check: checkDiscoveredJWKS}.run,
		},
		{
			id: "rp-discovery-issuer-not-matching-config", profile: profileConfig, name: "discovery issuer INVALID",
			what: `discovery issuer+"INVALID" → refuse the provider, never sent to it: /readyz 503 "issuer mismatch: configured X, provider says Y", /login 503 "misconfigured"; logged once per change`,
			test: issuerMismatch,
		},
		{
			id: "rp-key-rotation-op-sign-key", profile: profileConfig, name: "new kid on the second token",
			what: "signing key rotated between two logins → fetch the JWKS again and accept",
			test: loginCase{want: accept, check: checkKeyRotationBetweenLogins}.run,
		},
		{
			id: "rp-key-rotation-op-sign-key-native", profile: profileConfig, name: "new kid on the first token",
			what: "keys read, then rotated just before the first ID token is signed → fetch the JWKS again and accept",
			test: keyRotationBeforeFirstLogin,
		},

		// RP-initiated logout.
		{
			id: "rp-init-logout", profile: profileRPLogout, name: "hint and redirect",
			what: "end_session checks them → send the issued id_token_hint, registered post_logout_redirect_uri, state",
			test: rpInitLogout,
		},
		{
			id: "rp-init-logout-other-state", profile: profileRPLogout, name: "state _INVALID",
			what: `return with state+"_INVALID" → not taken as our logout: the plain home page`,
			test: rpInitLogoutReturn(func(s string) (string, bool) { return s + "_INVALID", true }),
		},
		{
			id: "rp-init-logout-no-state", profile: profileRPLogout, name: "no state",
			what: "return without state → not taken as our logout: the plain home page",
			test: rpInitLogoutReturn(func(string) (string, bool) { return "", false }),
		},

		// Back-channel logout.
		{
			id: "rp-backchannel-rpinitlogout", profile: profileBCL, name: "valid logout token",
			what: "valid token (sid, jti, events, exp +2m, an unknown claim…) → 200 no-store; that session ends, others stay",
			test: backChannel(http.StatusOK, signedLogout(oidctest.SignValid, "logout+jwt", nil)),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-alg-none", profile: profileBCL, name: "alg none",
			what: "unsigned logout token → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignNone, "logout+jwt", nil)),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-wrong-alg", profile: profileBCL, name: "ES256 for an RS256 provider",
			what: "ES256 under the provider's RS256 kid → 400, session kept",
			test: backChannel(http.StatusBadRequest, func(t *testing.T, p *oidctest.Provider, c map[string]any) string {
				return signES256(t, p, c)
			}),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-wrong-aud", profile: profileBCL, name: "aud plus 1",
			what: `aud+"1" → 400, session kept`,
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(p *oidctest.Provider, c map[string]any) {
				c["aud"] = p.ClientID() + "1"
			})),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-wrong-issuer", profile: profileBCL, name: "iss plus 1",
			what: `iss+"1" → 400, session kept`,
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(p *oidctest.Provider, c map[string]any) {
				c["iss"] = p.Issuer() + "1"
			})),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-no-event", profile: profileBCL, name: "no events",
			what: "no events claim → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				delete(c, "events")
			})),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-wrong-event", profile: profileBCL, name: "other event",
			what: "another event URI → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout-wrong": map[string]any{}}
			})),
		},
		{
			id: "rp-backchannel-rpinitlogout-lt-with-nonce", profile: profileBCL, name: "nonce",
			what: "a nonce claim → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["nonce"] = rand.Text()
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "event not an object",
			what: "the logout event's value is not a JSON object → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["events"] = map[string]any{backChannelLogoutEvent: "yes"}
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "bad signature",
			what: "signature corrupted → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignBadSignature, "logout+jwt", nil)),
		},
		{
			id: "R14", profile: profileBCL, name: "typ JWT",
			what: "typ JWT, as Keycloak and Ory Hydra send → 200, session ended (events and no nonce tell it from an ID token)",
			test: backChannel(http.StatusOK, signedLogout(oidctest.SignValid, "JWT", nil)),
		},
		{
			id: "R14", profile: profileBCL, name: "typ at+jwt",
			what: "typ at+jwt, an access token's → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "at+jwt", nil)),
		},
		{
			id: "R14", profile: profileBCL, name: "ID token as logout token",
			what: "typ JWT with a nonce and no events, an ID token → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "JWT", func(_ *oidctest.Provider, c map[string]any) {
				delete(c, "events")
				c["nonce"] = "n-0S6_WzA2Mj"
			})),
		},
		{
			id: "L9", profile: profileBCL, name: "no jti",
			what: "no jti, which Back-Channel Logout 2.4 requires → 400, session kept (it could be replayed until exp)",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				delete(c, "jti")
			})),
		},
		{
			id: "L9", profile: profileBCL, name: "exp a day after iat",
			what: "exp 24 h after iat, beyond the 10-min bound → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["exp"] = time.Now().Add(24 * time.Hour).Unix()
			})),
		},
		{
			id: "L9", profile: profileBCL, name: "jti of 1 KB",
			what: "a 1 KB jti, which would be remembered until exp → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["jti"] = strings.Repeat("j", 1024)
			})),
		},
		{
			id: "L9", profile: profileBCL, name: "no exp",
			what: "no exp, as Ory Hydra sends → 400, session kept, the reason logged",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				delete(c, "exp")
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "typ absent",
			what: "no typ, as the certification suite sends → 200, session ended",
			test: backChannel(http.StatusOK, signedLogout(oidctest.SignValid, "", nil)),
		},
		{
			id: "R14", profile: profileBCL, name: "expired",
			what: "iat 10 min ago, exp 5 min ago → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["iat"] = time.Now().Add(-10 * time.Minute).Unix()
				c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "expired, within the leeway",
			what: "exp 25 s ago, within the 30-s ExpiryLeeway → 200, session ended",
			test: backChannel(http.StatusOK, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["iat"] = time.Now().Add(-time.Minute).Unix()
				c["exp"] = time.Now().Add(-auth.ExpiryLeeway + skewMargin).Unix()
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "expired, beyond the leeway",
			what: "exp 35 s ago, beyond the 30-s ExpiryLeeway that ID tokens get too → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				c["iat"] = time.Now().Add(-time.Minute).Unix()
				c["exp"] = time.Now().Add(-auth.ExpiryLeeway - skewMargin).Unix()
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "neither sub nor sid",
			what: "neither sub nor sid → 400, session kept",
			test: backChannel(http.StatusBadRequest, signedLogout(oidctest.SignValid, "logout+jwt", func(_ *oidctest.Provider, c map[string]any) {
				delete(c, "sub")
				delete(c, "sid")
			})),
		},
		{
			id: "R14", profile: profileBCL, name: "not a JWT",
			what: "logout_token is not a JWT → 400, session kept",
			test: backChannel(http.StatusBadRequest, func(*testing.T, *oidctest.Provider, map[string]any) string { return "not-a-token" }),
		},
		{
			id: "R14", profile: profileBCL, name: "jti replayed",
			what: "the same logout token twice → 200, then 400 no-store",
			test: backChannelReplay,
		},
		{
			id: "R14", profile: profileBCL, name: "GET refused",
			what: "GET /backchannel-logout → 405",
			test: backChannelGet,
		},
		{
			id: "R14", profile: profileBCL, name: "sub without sid",
			what: "sub and no sid → 200 no-store, every session of that user ends",
			test: backChannelBySubject,
		},

		// Refresh.
		{
			id: "oidcc-client-test-refresh-token", profile: profileRefresh, name: "valid refresh",
			what: "access token expired, valid refresh → one refresh grant; the session goes on with the new ID token",
			test: refreshValid,
		},
		{
			id: "oidcc-client-test-refresh-token-invalid-issuer", profile: profileRefresh, name: "iss plus 1",
			what: `refreshed ID token with iss+"1" → refuse: the session ends (401, HX-Redirect /)`,
			test: refreshRefused(oidctest.Behavior{IDToken: changeClaim("iss", appendOne)}),
		},
		{
			id: "oidcc-client-test-refresh-token-invalid-sub", profile: profileRefresh, name: "another sub",
			what: "refreshed ID token naming another sub → refuse: the session ends (401, HX-Redirect /)",
			test: refreshRefused(oidctest.Behavior{IDToken: changeClaim("sub", func(any) any { return "someone-else" })}),
		},
		{
			id: "Q1", profile: profileRefresh, name: "access token rejected",
			what: "userinfo answers 401 invalid_token to a live access token (revoked, or a provider restarted) → refresh once, read again: 200 with the profile",
			test: userinfoRejected,
		},
		{
			id: "Q1", profile: profileRefresh, name: "access token rejected, refresh refused",
			what: "userinfo 401 invalid_token, then the refresh answered invalid_grant → the session ends (401, HX-Redirect /)",
			test: func(t *testing.T) {
				p, app, r := signInWithRefreshToken(t)
				p.RevokeAccessTokens()
				checkRefreshRefused(t, p, app, r, oidctest.Behavior{RefreshError: "invalid_grant"})
			},
		},
		{
			id: "Q1", profile: profileRefresh, name: "every access token rejected",
			what: "userinfo 401 to every access token, a fresh one too → one refresh, then 502; the session stays",
			test: userinfoFails(http.StatusUnauthorized, http.StatusBadGateway, 1),
		},
		{
			id: "Q1", profile: profileRefresh, name: "userinfo 503",
			what: "userinfo 503 → \"unavailable\" (503), no refresh; the session stays",
			test: userinfoFails(http.StatusServiceUnavailable, http.StatusServiceUnavailable, 0),
		},
		{
			id: "Q2", profile: profileRefresh, name: "stale kid",
			what: "key rotated; the refreshed ID token names the old kid but is signed with the new key (Hydra, Authelia) → accept with the published key that verifies it, log the stale kid",
			test: refreshStaleKid(oidctest.SignValid, false, true),
		},
		{
			id: "Q2", profile: profileRefresh, name: "stale kid, old key withdrawn",
			what: "as above, the old key no longer published → fetch the keys once more, accept, log the stale kid",
			test: refreshStaleKid(oidctest.SignValid, true, true),
		},
		{
			id: "Q2", profile: profileRefresh, name: "stale kid, no key verifies",
			what: "refreshed ID token naming the old kid, signed with a key never published → refuse: the session ends (401, HX-Redirect /)",
			test: refreshStaleKid(oidctest.SignUnknownKey, false, false),
		},
		{
			id: "F6", profile: profileRefresh, name: "five at once",
			what: "5 concurrent requests, access token expired → one refresh grant, with the rotated token (R19); five 200s",
			test: refreshFiveAtOnce,
		},
		{
			id: "R19", profile: profileRefresh, name: "invalid_grant",
			what: "refresh answered invalid_grant, as Dex does once the user logged in elsewhere → the session ends (401, HX-Redirect /), the old cookie is dead; the page blames no one",
			test: refreshRefused(oidctest.Behavior{RefreshError: "invalid_grant"}),
		},

		{
			id: "Q4", profile: profileRefresh, name: "one refresh token per user",
			what: "the provider keeps one refresh token per user and client (Dex); the user logs in in a second browser → the first browser's refresh is refused and its session ends, the page blaming no one; the second goes on",
			test: oneRefreshTokenPerUser,
		},

		// RFC 9207.
		{
			id: "R5", profile: profileRFC9207, name: "iss correct",
			what: "iss parameter promised and equal to the issuer → accept",
			test: loginCase{want: accept, opts: []oidctest.Option{oidctest.WithIssParameter(true)}, check: checkIssParameter}.run,
		},
		{
			id: "R5", profile: profileRFC9207, name: "iss missing though promised",
			what: "authorization_response_iss_parameter_supported, no iss → reject",
			test: loginCase{
				want: reject, opts: []oidctest.Option{oidctest.WithIssParameter(true)},
				behavior: oidctest.Behavior{IssParam: "-"},
			}.run,
		},
		{
			id: "R5", profile: profileRFC9207, name: "iss wrong",
			what: "iss parameter names another issuer → reject",
			test: loginCase{
				want: reject, opts: []oidctest.Option{oidctest.WithIssParameter(true)},
				behavior: oidctest.Behavior{IssParam: "https://evil.example"},
			}.run,
		},
		{
			id: "R5", profile: profileRFC9207, name: "iss wrong, not advertised",
			what: "iss parameter present though not advertised, and wrong → reject",
			test: loginCase{want: reject, behavior: oidctest.Behavior{IssParam: "https://evil.example"}}.run,
		},

		// Client authentication.
		{
			id: "rp-token_endpoint-client_secret_post", profile: profileClient, name: "client_secret_post",
			what: "discovery lists only client_secret_post → client_id and secret in the body, no Authorization header",
			test: loginCase{
				want: accept, opts: []oidctest.Option{oidctest.WithTokenAuthMethods("client_secret_post")},
				check: checkClientSecretPost,
			}.run,
		},
		{
			id: "rp-token_endpoint-client_secret_post", profile: profileClient, name: "chosen, both offered",
			what: "OIDC_TOKEN_AUTH_METHOD=client_secret_post, discovery lists basic and post, the client is registered for post (Hydra, Okta, Keycloak) → secret in the body; login succeeds",
			test: loginCase{
				want: accept, opts: []oidctest.Option{oidctest.WithClientAuthMethod("client_secret_post")},
				env:   map[string]string{"OIDC_TOKEN_AUTH_METHOD": "client_secret_post"},
				check: checkClientSecretPost,
			}.run,
		},
		{
			id: "rp-token_endpoint-private_key_jwt", profile: profileClient, name: "private_key_jwt",
			what: "OIDC_CLIENT_KEY_FILE (an EC key, as openssl writes it), a provider that takes only private_key_jwt and checks each assertion (registered key and kid, iss = sub = client_id, aud, exp, jti once) → login and refresh succeed, no secret anywhere",
			test: privateKeyJWT(true),
		},
		{
			id: "rp-token_endpoint-private_key_jwt", profile: profileClient, name: "unregistered key",
			what: "OIDC_CLIENT_KEY_FILE holds a key the provider does not know → the token endpoint refuses the assertion: reject, no session",
			test: privateKeyJWT(false),
		},
		{
			id: "Q3", profile: profileClient, name: "chosen method not offered",
			what: "OIDC_TOKEN_AUTH_METHOD=client_secret_post, discovery lists only client_secret_basic → refuse the provider as misconfigured: /readyz and the log name the setting and what discovery offers",
			test: loginCase{
				want: refuseProvider, opts: []oidctest.Option{oidctest.WithTokenAuthMethods("client_secret_basic")},
				env:     map[string]string{"OIDC_TOKEN_AUTH_METHOD": "client_secret_post"},
				problem: "token endpoint authentication method client_secret_post (OIDC_TOKEN_AUTH_METHOD) is not one the provider's discovery offers: client_secret_basic",
			}.run,
		},
		{
			id: "R1", profile: profileClient, name: "public client",
			what: `OIDC_CLIENT_SECRET empty, discovery lists "none" → no secret anywhere, PKCE alone; login succeeds`,
			test: loginCase{
				want: accept, opts: []oidctest.Option{oidctest.WithTokenAuthMethods("none")},
				env:   map[string]string{"OIDC_CLIENT_SECRET": ""},
				check: checkPublicClient,
			}.run,
		},
		{
			id: "R1", profile: profileClient, name: "fresh PKCE per login",
			what: "two logins → an S256 challenge each, different; verifier of 43–128 characters matching it at /token",
			test: loginCase{want: accept, check: checkFreshPKCE}.run,
		},

		// What latchkey requires of itself (docs/security.md section 4).
		{
			id: "R2", profile: profileClient, name: "no attempt cookie",
			what: "callback in a browser that did not start the login → 400, /token never called",
			test: stateWithoutAttemptCookie,
		},
		{
			id: "R2", profile: profileClient, name: "wrong state",
			what: "callback with another, tampered, empty or no state → 400, /token never called",
			test: stateWrong,
		},
		{
			id: "R2", profile: profileClient, name: "replayed callback",
			what: "the callback again, same or other browser, even with the attempt cookie → 400, /token called once",
			test: stateReplayed,
		},
		{
			id: "R4", profile: profileClient, name: "Host and X-Forwarded-* ignored",
			what: "Host: evil and X-Forwarded-* → redirect_uri stays BASE_URL/callback at /authorize and /token (F7)",
			test: redirectURIIgnoresHeaders,
		},
		{
			id: "R6", profile: profileClient, name: "access_denied",
			what: "error=access_denied → 403, no /token call, attempt cookie cleared; a retry with fresh values works",
			test: loginCase{
				want: reject, status: http.StatusForbidden,
				behavior: oidctest.Behavior{AuthorizeError: "access_denied"},
				check:    checkErrorCallbackRetry,
			}.run,
		},
		{
			id: "R8", profile: profileClient, name: "return_to",
			what: "return_to https://evil, //evil, /\\evil, %09, javascript:… → land on /; a local path is honoured (F11)",
			test: returnTo,
		},
		{
			id: "R9", profile: profileClient, name: "cookie attributes and size",
			what: "huge tokens → each cookie ≤4096 B, HttpOnly, SameSite=Lax, Path=/, host-only; attempt Max-Age ≤600 (F2, F12)",
			test: cookieAttributes,
		},
		{
			id: "R10", profile: profileClient, name: "session fixation",
			what: "a planted cookie, or a second login over a session → a new session id; the old one is dead",
			test: sessionFixation,
		},
		{
			id: "R12", profile: profileClient, name: "replay after logout",
			what: "cookie saved before logout, replayed from another browser → anonymous",
			test: logoutInvalidatesSession,
		},
		{
			id: "R13", profile: profileClient, name: "cross-site POST",
			what: "POST /logout from another site → 403, session kept, end_session never called",
			test: logoutCrossSite,
		},
		{
			id: "R13", profile: profileClient, name: "POST without csrf",
			what: "same-origin POST /logout without the CSRF token → 403, session kept",
			test: logoutWithoutCSRF,
		},
		{
			id: "R13", profile: profileClient, name: "GET changes nothing",
			what: "GET /logout → a confirmation form; session kept, end_session never called",
			test: logoutGet,
		},
		{
			id: "R13", profile: profileClient, name: "htmx gets HX-Redirect",
			what: "htmx POST /logout → HX-Redirect to end_session, no 3xx; session ended",
			test: logoutHTMX,
		},
		{
			id: "R13", profile: profileClient, name: "no end_session endpoint",
			what: "provider without end_session (Dex, Authelia) → local logout, straight back to /, which says \"still logged in at <provider host>\"",
			test: logoutWithoutEndSession,
		},
		{
			id: "R15", profile: profileClient, name: "htmx POST from another origin",
			what: "htmx POST /profile/refresh cross-origin, or with a wrong CSRF token → 403, session kept",
			test: htmxCrossOrigin,
		},
		{
			id: "R16", profile: profileClient, name: "headers on every answer",
			what: "CSP 'none' directives and nosniff on every answer, errors too; callback 303, no-referrer (R7)",
			test: securityHeaders,
		},
		{
			id: "R17", profile: profileClient, name: "tokens stay server-side",
			what: "ID, access and refresh tokens never in a page or in the debug log",
			test: tokensStayServerSide,
		},
		{
			id: "R18", profile: profileClient, name: "ES256 accepted",
			what: "provider advertises and signs ES256 → accept",
			test: loginCase{want: accept, opts: []oidctest.Option{oidctest.WithAlg("ES256")}}.run,
		},
		{
			id: "R18", profile: profileClient, name: "PS256 accepted",
			what: "provider advertises and signs PS256 → accept",
			test: loginCase{want: accept, opts: []oidctest.Option{oidctest.WithAlg("PS256")}}.run,
		},
		{
			id: "R18", profile: profileClient, name: "HS256 refused",
			what: "ID token HS256, keyed with the client secret → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{Sign: oidctest.SignHS256}}.run,
		},

		// What went wrong elsewhere (docs/security.md section 5).
		{
			id: "F1", profile: profileClient, name: "htmx without a session",
			what: "htmx request without a session → 401 + HX-Redirect, no Location; a navigation → 303 to /login",
			test: unauthenticatedHTMX,
		},
		{
			id: "F8", profile: profileClient, name: "iat 55s ahead",
			what: "iat 55 s in the future, within the 1-min ClockSkew → accept",
			test: loginCase{want: accept, behavior: oidctest.Behavior{IDToken: changeClaim("iat", unixIn(auth.ClockSkew-skewMargin))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "iat 65s ahead",
			what: "iat 65 s in the future, beyond the 1-min ClockSkew → reject",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("iat", unixIn(auth.ClockSkew+skewMargin))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "exp in 30s",
			what: "an ID token with 30 s left, as a provider with one-minute ID tokens gives (Dex idTokens: 1m) → accept",
			test: loginCase{want: accept, behavior: oidctest.Behavior{IDToken: changeClaim("exp", unixIn(30*time.Second))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "exp 25s ago",
			what: "exp 25 s ago, within the 30-s ExpiryLeeway → accept",
			test: loginCase{want: accept, behavior: oidctest.Behavior{IDToken: changeClaim("exp", unixIn(-auth.ExpiryLeeway+skewMargin))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "exp 35s ago",
			what: "exp 35 s ago, beyond the 30-s ExpiryLeeway → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("exp", unixIn(-auth.ExpiryLeeway-skewMargin))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "exp removed",
			what: "ID token without exp → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{IDToken: changeClaim("exp", nil)}}.run,
		},
		{
			id: "F8", profile: profileRefresh, name: "refreshed exp in 30s",
			what: "refreshed ID token with 30 s left → the session goes on with it",
			test: refreshAccepted(oidctest.Behavior{IDToken: changeClaim("exp", unixIn(30*time.Second))}),
		},
		{
			id: "F8", profile: profileClient, name: "nbf in 55s",
			what: "nbf 55 s in the future, within the 1-min ClockSkew → accept",
			test: loginCase{want: accept, behavior: oidctest.Behavior{IDToken: changeClaim("nbf", unixIn(auth.ClockSkew-skewMargin))}}.run,
		},
		{
			id: "F8", profile: profileClient, name: "nbf in 65s",
			what: "nbf 65 s in the future, beyond the 1-min ClockSkew → reject",
			test: loginCase{want: reject, behavior: oidctest.Behavior{IDToken: changeClaim("nbf", unixIn(auth.ClockSkew+skewMargin))}}.run,
		},
		{
			id: "F9", profile: profileClient, name: "unknown kid",
			what: "ID token signed by a key the JWKS lacks → reject, no userinfo call",
			test: loginCase{want: reject, noUserinfo: true, behavior: oidctest.Behavior{Sign: oidctest.SignUnknownKey}}.run,
		},
		{
			id: "F9", profile: profileClient, name: "100 unknown kids",
			what: "100 logout tokens naming an unknown kid → 400 each, at most one JWKS refetch",
			test: unknownKeyFlood,
		},
		{
			id: "F9", profile: profileClient, name: "JWKS answers 500",
			what: "JWKS 500 on a refetch → last good keys kept: the known key still verifies logins and logout tokens",
			test: keysKeptWhenJWKSFails,
		},
		{
			id: "L10", profile: profileClient, name: "rotation during a JWKS outage",
			what: "key rotated while the JWKS endpoint fails for a moment → logins fail meanwhile, and work again within seconds once it is back",
			test: rotationDuringJWKSOutage,
		},
		{
			id: "F10", profile: profileClient, name: "provider down at start",
			what: "discovery down at start → process up, /login 503, logins at once not multiplying discovery; once it is back, the first /login works, without a restart",
			test: providerDownAtStart,
		},
	}
}

// skewMargin keeps the clock-skew rows clear of the edge, so the time a
// login takes cannot move a token across it.
const skewMargin = 5 * time.Second

// changeClaim changes the ID token claim name with change, or removes it
// when change is nil.
func changeClaim(name string, change func(v any) any) func(map[string]any) {
	return func(claims map[string]any) {
		if change == nil {
			delete(claims, name)
			return
		}
		claims[name] = change(claims[name])
	}
}

// appendOne appends "1" to a string claim, as the certification tests do.
func appendOne(v any) any { s, _ := v.(string); return s + "1" }

// unixIn sets a time claim to d from now.
func unixIn(d time.Duration) func(any) any {
	return func(any) any { return time.Now().Add(d).Unix() }
}

// outcome is what the app must make of a login.
type outcome int

const (
	accept outcome = iota
	reject
	// acceptOrReject: either is allowed, never a 5xx.
	acceptOrReject
	// refuseProvider: the app must not use the provider at all.
	refuseProvider
)

// loginCase is one login through a provider that behaves some way, and
// what the app must make of it.
type loginCase struct {
	opts     []oidctest.Option
	env      map[string]string
	behavior oidctest.Behavior
	// setup runs on the provider before the app starts.
	setup func(p *oidctest.Provider)
	want  outcome
	// problem is what /readyz says of a provider refused as misconfigured.
	problem string
	// status is the status a rejection must have; any 4xx when zero.
	status int
	// noUserinfo: the app must refuse before asking for userinfo.
	noUserinfo bool
	// check makes the case's own assertions after the common ones.
	check func(t *testing.T, r *loginRun)
}

// run starts a provider and the app, logs in once and checks the outcome.
func (lc loginCase) run(t *testing.T) {
	t.Helper()
	p := oidctest.New(t, lc.opts...)
	p.SetBehavior(lc.behavior)
	if lc.setup != nil {
		lc.setup(p)
	}
	app := startApp(t, providerEnv(p, lc.env))
	if lc.want == refuseProvider {
		checkProviderRefused(t, app, p, lc.problem)
		return
	}
	app.waitReady(t)
	r := login(t, app, p, "/login")
	switch lc.want {
	case accept:
		assertSignedIn(t, r)
	case reject:
		assertRejected(t, r, lc.status)
	case acceptOrReject:
		if r.final.url.Path == "/dashboard" {
			t.Log("accepted")
			assertSignedIn(t, r)
		} else {
			t.Logf("rejected with %d", r.final.status)
			assertRejected(t, r, 0)
		}
	}
	if lc.noUserinfo && p.UserinfoCalls() != 0 {
		t.Errorf("userinfo was called %d times for a token that must be refused", p.UserinfoCalls())
	}
	if lc.check != nil {
		lc.check(t, r)
	}
}

// checkProviderRefused: a provider whose discovery does not fit the
// configuration is never used: not ready, /readyz says why in the line
// that names the problem, and /login answers 503 saying that the provider
// is misconfigured, not that it is down.
func checkProviderRefused(t *testing.T, app *testApp, p *oidctest.Provider, problem string) {
	t.Helper()
	waitFor(t, "the misconfiguration logged", func() bool { return strings.Contains(app.logs.String(), loggedProblem(problem)) })
	b, _ := newRecordingBrowser(t)
	if ready := b.get(app.URL + "/readyz"); ready.status != http.StatusServiceUnavailable || !strings.Contains(ready.body, "identity provider: "+problem+"\n") {
		t.Errorf("/readyz = %d %q, want 503 with the line %q", ready.status, ready.body, "identity provider: "+problem)
	}
	page := b.get(app.URL + "/login")
	if page.status != http.StatusServiceUnavailable || !page.has("error") {
		t.Errorf("/login should answer a 503 error page, got %d at %s:\n%s", page.status, page.url, page.body)
	}
	if msg := page.text("error"); !strings.Contains(msg, "misconfigured") || strings.Contains(msg, "in a moment") || page.has("try-again") {
		t.Errorf("/login should say that the identity provider is misconfigured, without asking to try again: %q", msg)
	}
	assertNoInternals(t, page.body, p)
	if n := p.AuthorizeCalls(); n != 0 {
		t.Errorf("the browser was sent to the provider %d times", n)
	}
	assertAnonymous(t, app, b)
}

// loggedProblem is a misconfiguration as the log says it.
func loggedProblem(problem string) string { return "problem=" + strconv.Quote(problem) }

// issuerMismatch: a provider whose discovery names another issuer is
// refused as misconfigured, which the log says once per change of what it
// names, however often discovery is tried again.
func issuerMismatch(t *testing.T) {
	p := oidctest.New(t)
	wrong := p.Issuer() + "INVALID"
	p.SetBehavior(oidctest.Behavior{DiscoveryIssuer: wrong})
	app := startApp(t, providerEnv(p, nil))
	problem := fmt.Sprintf("issuer mismatch: configured %q, provider says %q", p.Issuer(), wrong)
	checkProviderRefused(t, app, p, problem)
	calls := p.DiscoveryCalls()
	waitFor(t, "two more discovery attempts", func() bool { return p.DiscoveryCalls() >= calls+2 })
	if n := strings.Count(app.logs.String(), loggedProblem(problem)); n != 1 {
		t.Errorf("the mismatch is logged %d times after %d discovery attempts, want once:\n%s", n, p.DiscoveryCalls(), app.logs)
	}

	other := p.Issuer() + "/other"
	p.SetBehavior(oidctest.Behavior{DiscoveryIssuer: other})
	checkProviderRefused(t, app, p, fmt.Sprintf("issuer mismatch: configured %q, provider says %q", p.Issuer(), other))
	if n := strings.Count(app.logs.String(), "identity provider misconfigured"); n != 2 {
		t.Errorf("%d misconfigurations logged after one change, want 2:\n%s", n, app.logs)
	}
}

func checkHappyPath(t *testing.T, r *loginRun) {
	t.Helper()
	q := r.p.LastAuthorize()
	if got := q.Get("response_type"); got != "code" {
		t.Errorf("response_type = %q, want code", got)
	}
	scopes := strings.Fields(q.Get("scope"))
	for _, s := range []string{"openid", "profile", "email"} {
		if !slices.Contains(scopes, s) {
			t.Errorf("scope %q lacks %s", q.Get("scope"), s)
		}
	}
	if got, want := q.Get("redirect_uri"), r.app.URL+"/callback"; got != want {
		t.Errorf("redirect_uri = %q, want %q", got, want)
	}
	if got := q.Get("code_challenge_method"); got != "S256" {
		t.Errorf("code_challenge_method = %q, want S256", got)
	}
	if q.Get("nonce") == "" || q.Get("state") == "" || q.Get("code_challenge") == "" {
		t.Errorf("authorization request lacks nonce, state or code_challenge: %v", q)
	}
	if got := q.Get("client_id"); got != r.p.ClientID() {
		t.Errorf("client_id = %q, want %q", got, r.p.ClientID())
	}
	if got := r.final.text("user-email"); got != oidctest.DefaultEmail {
		t.Errorf("profile card email = %q", got)
	}
	if n := r.p.TokenCalls(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

// privateKeyJWT signs in with private_key_jwt, through a provider that
// knows the client's key when registered says so, and then refreshes.
func privateKeyJWT(registered bool) func(t *testing.T) {
	return func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "client-key.pem")
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		kid := base64.RawURLEncoding.EncodeToString(thumb) // latchkey's default kid
		known := key.Public()
		if !registered {
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			known = other.Public()
		}
		p := oidctest.New(t, oidctest.WithTokenAuthMethods("private_key_jwt"), oidctest.WithClientKey(known, kid), oidctest.WithOfflineAccess(true))
		app := startApp(t, providerEnv(p, map[string]string{"OIDC_CLIENT_SECRET": "", "OIDC_CLIENT_KEY_FILE": file}))
		app.waitReady(t)
		if !registered {
			assertRejected(t, login(t, app, p, "/login"), http.StatusBadRequest)
			return
		}
		p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
		r := signIn(t, app, p)
		p.SetBehavior(oidctest.Behavior{})
		if status, _, body := refreshProfile(t, app, r.b, r.final); status != http.StatusOK {
			t.Fatalf("refresh = %d, want 200:\n%s\nlogs:\n%s", status, body, app.logs)
		}
		reqs := p.Requests(oidctest.EndpointToken)
		if len(reqs) != 2 || reqs[1].Form.Get("grant_type") != "refresh_token" {
			t.Fatalf("%d token requests, want the code exchange and a refresh", len(reqs))
		}
		jtis := map[string]bool{}
		for _, req := range reqs {
			if req.Header.Get("Authorization") != "" || req.Form.Has("client_secret") {
				t.Errorf("%s grant: a secret was sent besides the assertion", req.Form.Get("grant_type"))
			}
			if got := req.Form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("%s grant: client_assertion_type = %q", req.Form.Get("grant_type"), got)
			}
			assertion := req.Form.Get("client_assertion")
			var claims struct {
				Aud []string `json:"aud"`
			}
			if err := json.Unmarshal(jwtPayload(t, assertion), &claims); err != nil || len(claims.Aud) != 1 || claims.Aud[0] != p.TokenEndpoint() {
				t.Errorf("%s grant: assertion aud = %q (%v), want the token endpoint alone", req.Form.Get("grant_type"), claims.Aud, err)
			}
			jtis[claimOf(t, assertion, "jti")] = true
		}
		if len(jtis) != 2 {
			t.Errorf("the two token requests' assertions share their jti")
		}
		if !strings.Contains(app.logs.String(), kid) {
			t.Errorf("the log does not name the client key's kid %s", kid)
		}
	}
}

func checkClientSecretBasic(t *testing.T, r *loginRun) {
	t.Helper()
	form, header := r.p.LastToken()
	id, secret, ok := (&http.Request{Header: header}).BasicAuth()
	if !ok {
		t.Fatalf("token request without HTTP Basic authentication: %v", header)
	}
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if id != r.p.ClientID() || secret != r.p.ClientSecret() {
		t.Errorf("Basic credentials = %q/%q, want the registered client", id, secret)
	}
	if form.Has("client_secret") {
		t.Error("the client secret was also sent in the token request body")
	}
	if got, want := form.Get("redirect_uri"), r.app.URL+"/callback"; got != want {
		t.Errorf("token request redirect_uri = %q, want %q", got, want)
	}
	if form.Get("code_verifier") == "" {
		t.Error("token request without code_verifier")
	}
}

func checkClientSecretPost(t *testing.T, r *loginRun) {
	t.Helper()
	form, header := r.p.LastToken()
	if got := header.Get("Authorization"); got != "" {
		t.Errorf("token request Authorization = %q, want none", got)
	}
	if form.Get("client_id") != r.p.ClientID() || form.Get("client_secret") != r.p.ClientSecret() {
		t.Errorf("token request body client_id %q, client_secret set %v; want the registered client and its secret", form.Get("client_id"), form.Has("client_secret"))
	}
	if form.Get("code_verifier") == "" {
		t.Error("token request without code_verifier")
	}
}

func checkPublicClient(t *testing.T, r *loginRun) {
	t.Helper()
	for _, e := range []oidctest.Endpoint{oidctest.EndpointAuthorize, oidctest.EndpointToken} {
		for _, req := range r.p.Requests(e) {
			if got := req.Header.Get("Authorization"); got != "" {
				t.Errorf("%s request Authorization = %q, want none", e, got)
			}
			if req.Params().Has("client_secret") {
				t.Errorf("%s request carries a client_secret", e)
			}
		}
	}
	form, _ := r.p.LastToken()
	if form.Get("client_id") != r.p.ClientID() {
		t.Errorf("token request client_id = %q, want %q", form.Get("client_id"), r.p.ClientID())
	}
	if form.Get("code_verifier") == "" {
		t.Error("token request without code_verifier")
	}
}

// checkFreshPKCE logs in a second time and compares the two attempts.
func checkFreshPKCE(t *testing.T, r *loginRun) {
	t.Helper()
	assertSignedIn(t, login(t, r.app, r.p, "/login"))
	auths, tokens := r.p.Requests(oidctest.EndpointAuthorize), r.p.Requests(oidctest.EndpointToken)
	if len(auths) != 2 || len(tokens) != 2 {
		t.Fatalf("%d authorization and %d token requests, want 2 each", len(auths), len(tokens))
	}
	first, second := auths[0].Params(), auths[1].Params()
	for _, q := range []url.Values{first, second} {
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
			t.Errorf("code_challenge_method %q, code_challenge %q; want S256 and a SHA-256 hash", q.Get("code_challenge_method"), q.Get("code_challenge"))
		}
	}
	if first.Get("code_challenge") == second.Get("code_challenge") {
		t.Error("two logins sent the same code challenge")
	}
	for i, req := range tokens {
		v := req.Form.Get("code_verifier")
		if len(v) < 43 || len(v) > 128 {
			t.Errorf("token request %d: code_verifier of %d characters, want 43–128", i, len(v))
		}
		if strings.Contains(auths[i].Params().Get("state"), v) {
			t.Errorf("token request %d: the state carries the verifier", i)
		}
	}
}

func checkUserinfoBearer(t *testing.T, r *loginRun) {
	t.Helper()
	reqs := r.p.Requests(oidctest.EndpointUserinfo)
	if len(reqs) != 1 {
		t.Fatalf("userinfo requests = %d, want 1", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer ") || len(got) <= len("Bearer ") {
		t.Errorf("userinfo Authorization = %q, want a bearer token", got)
	}
	if reqs[0].Query.Has("access_token") || reqs[0].Form.Has("access_token") {
		t.Error("the access token was sent outside the Authorization header")
	}
}

// checkUserinfoClaims: the provider's ID token carries no profile or email
// claims, so what the dashboard shows came from userinfo.
func checkUserinfoClaims(t *testing.T, r *loginRun) {
	t.Helper()
	scopes := strings.Fields(r.p.LastAuthorize().Get("scope"))
	if !slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains([]string{"profile", "email", "phone", "address"}, s) }) {
		t.Errorf("scope %q asks for none of profile, email, phone, address", scopes)
	}
	if n := r.p.UserinfoCalls(); n != 1 {
		t.Errorf("userinfo requests = %d, want 1", n)
	}
	payload := string(jwtPayload(t, r.p.LastIDToken()))
	for _, name := range []string{"given_name", "family_name", "preferred_username", "email_verified"} {
		if strings.Contains(payload, `"`+name+`"`) {
			t.Fatalf("the ID token carries %s; the case needs claims only userinfo releases", name)
		}
	}
	claims := r.final.text("claims")
	for _, want := range []string{`"given_name": "Test"`, `"family_name": "User"`, `"preferred_username": "test"`, `"email_verified": true`} {
		if !strings.Contains(claims, want) {
			t.Errorf("dashboard claims lack %s:\n%s", want, claims)
		}
	}
}

func checkDiscoveredEndpoints(t *testing.T, r *loginRun) {
	t.Helper()
	for e, endpoint := range map[oidctest.Endpoint]string{
		oidctest.EndpointAuthorize: r.p.AuthorizationEndpoint(),
		oidctest.EndpointToken:     r.p.TokenEndpoint(),
		oidctest.EndpointUserinfo:  r.p.UserinfoEndpoint(),
	} {
		reqs := r.p.Requests(e)
		if len(reqs) == 0 {
			t.Errorf("the %s endpoint was never called", e)
			continue
		}
		if want := pathOf(t, endpoint); reqs[0].Path != want {
			t.Errorf("%s called at %s, want the discovered %s", e, reqs[0].Path, want)
		}
	}
}

func checkDiscoveredJWKS(t *testing.T, r *loginRun) {
	t.Helper()
	reqs := r.p.Requests(oidctest.EndpointJWKS)
	if len(reqs) == 0 {
		t.Fatal("the JWKS at its discovered path was never fetched")
	}
	if want := pathOf(t, r.p.JWKSURI()); reqs[0].Path != want {
		t.Errorf("JWKS fetched at %s, want the discovered %s", reqs[0].Path, want)
	}
}

func checkKeyRotationBetweenLogins(t *testing.T, r *loginRun) {
	t.Helper()
	jwks, oldKid := r.p.JWKSCalls(), r.p.KeyID()
	r.p.RotateKey()
	if r.p.KeyID() == oldKid {
		t.Fatal("RotateKey kept the kid")
	}
	second := login(t, r.app, r.p, "/login")
	assertSignedIn(t, second)
	if r.p.JWKSCalls() <= jwks {
		t.Errorf("JWKS fetches = %d after rotation, want more than %d", r.p.JWKSCalls(), jwks)
	}
}

// keyRotationBeforeFirstLogin: the app reads the keys (for a logout token)
// before any login; the provider then rotates and signs the first ID token
// with the new key.
func keyRotationBeforeFirstLogin(t *testing.T) {
	p, app := startWithProvider(t, nil)
	token := signLogoutToken(t, p, logoutClaims(p, "no-such-session"), oidctest.SignValid, "logout+jwt")
	if status, _ := postLogoutToken(t, app, token); status != http.StatusOK {
		t.Fatalf("logout token signed with the first key = %d, want 200", status)
	}
	before := p.JWKSCalls()
	if before == 0 {
		t.Fatal("the app verified a logout token without reading the JWKS")
	}
	p.RotateKey()
	assertSignedIn(t, login(t, app, p, "/login"))
	if p.JWKSCalls() <= before {
		t.Errorf("JWKS fetches = %d after rotation, want more than %d", p.JWKSCalls(), before)
	}
}

func checkIssParameter(t *testing.T, r *loginRun) {
	t.Helper()
	cb := r.rec.last(t, hostOf(t, r.app.URL), "/callback")
	if got := cb.url.Query().Get("iss"); got != r.p.Issuer() {
		t.Errorf("callback iss = %q, want the issuer", got)
	}
}

// checkErrorCallbackRetry: an error callback calls no token endpoint,
// clears the attempt, and a retry starts afresh and succeeds (R6).
func checkErrorCallbackRetry(t *testing.T, r *loginRun) {
	t.Helper()
	if n := r.p.TokenCalls(); n != 0 {
		t.Errorf("token endpoint called %d times after error=access_denied", n)
	}
	first := r.p.LastAuthorize()
	attemptCookie := ""
	for _, c := range parseSetCookies(t, r.rec.last(t, hostOf(t, r.app.URL), "/login").header) {
		if strings.HasPrefix(c.Name, "latchkey-login-") && c.MaxAge > 0 {
			attemptCookie = c.Name
		}
	}
	if attemptCookie == "" {
		t.Fatal("/login set no attempt cookie")
	}
	cb := r.rec.last(t, hostOf(t, r.app.URL), "/callback")
	cleared := false
	for _, c := range parseSetCookies(t, cb.header) {
		if c.Name == attemptCookie && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("the callback did not clear the attempt cookie %s: %v", attemptCookie, cb.header.Values("Set-Cookie"))
	}
	if c := r.b.cookie(r.app.URL, attemptCookie); c != nil {
		t.Errorf("the browser still holds the attempt cookie %s", attemptCookie)
	}

	r.p.SetBehavior(oidctest.Behavior{})
	retry, ok := r.final.doc.Find(`[data-testid="try-again"]`).Attr("href")
	if !ok {
		t.Fatal("no try-again link")
	}
	again := &loginRun{app: r.app, p: r.p, b: r.b, rec: r.rec, final: r.b.get(r.app.URL + retry)}
	assertSignedIn(t, again)
	second := r.p.LastAuthorize()
	for _, name := range []string{"state", "nonce", "code_challenge"} {
		if first.Get(name) == second.Get(name) {
			t.Errorf("the retry reused the %s", name)
		}
	}
}

// rpInitLogout: the logout reaches end_session with everything it checks,
// and the state it brings back is taken once.
func rpInitLogout(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	idToken := p.LastIDToken()
	after := r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
	q := p.LastEndSession()
	if q == nil {
		t.Fatal("the browser never reached end_session")
	}
	if q.Get("id_token_hint") != idToken {
		t.Error("id_token_hint is not the ID token the provider issued")
	}
	if got, want := q.Get("post_logout_redirect_uri"), app.URL+"/"; got != want {
		t.Errorf("post_logout_redirect_uri = %q, want %q", got, want)
	}
	if got := q.Get("client_id"); got != p.ClientID() {
		t.Errorf("client_id = %q, want %q", got, p.ClientID())
	}
	if q.Get("state") == "" {
		t.Error("no state sent to end_session")
	}
	if after.url.Host != hostOf(t, app.URL) || after.url.Path != "/" || after.text("notice") != "You have been logged out." {
		t.Errorf("back from the provider at %s with notice %q", after.url, after.text("notice"))
	}
	assertAnonymous(t, app, r.b)
	if again := r.b.get(after.url.String()); again.has("notice") {
		t.Error("the logout state was accepted twice")
	}
}

// rpInitLogoutReturn comes back from end_session with the state changed
// as change says (or removed when it answers false).
func rpInitLogoutReturn(change func(state string) (string, bool)) func(t *testing.T) {
	return func(t *testing.T) {
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		nf := r.b.noFollow()
		out := nf.submit(r.final, `[data-testid="logout-form"]`, nil)
		endSession := out.header.Get("Location")
		if out.status != http.StatusSeeOther || !strings.HasPrefix(endSession, p.EndSessionEndpoint()) {
			t.Fatalf("logout = %d Location %q, want end_session", out.status, endSession)
		}
		back := nf.get(endSession)
		if back.status != http.StatusFound {
			t.Fatalf("end_session = %d:\n%s", back.status, back.body)
		}
		target := withQuery(t, back.header.Get("Location"), func(q url.Values) {
			if s, ok := change(q.Get("state")); ok {
				q.Set("state", s)
			} else {
				q.Del("state")
			}
		})
		home := r.b.get(target)
		if home.status != http.StatusOK || home.has("notice") || !home.has("login-box") {
			t.Errorf("coming back with a state that is not ours = %d, notice %q; want the plain home page", home.status, home.text("notice"))
		}
	}
}

// backChannel signs a browser in, lets the provider post the logout token
// that token makes of its provider session's claims, and checks the answer:
// with 200 that session ends, otherwise it stays; another session of the
// same user, with another provider session, always stays.
func backChannel(status int, token func(t *testing.T, p *oidctest.Provider, claims map[string]any) string) func(t *testing.T) {
	return func(t *testing.T) {
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		sid := claimOf(t, p.LastIDToken(), "sid")
		bystander := signIn(t, app, p)

		got, header := postLogoutToken(t, app, token(t, p, logoutClaims(p, sid)))
		if got != status {
			t.Errorf("back-channel logout = %d, want %d\nlogs:\n%s", got, status, app.logs)
		}
		if cc := header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		if status == http.StatusOK {
			assertAnonymous(t, app, r.b)
		} else {
			assertSessionValid(t, app, r.b)
		}
		assertSessionValid(t, app, bystander.b)
	}
}

// signedLogout signs the claims, changed by change when not nil, the way
// mode says, with typ.
func signedLogout(mode oidctest.SignMode, typ string, change func(p *oidctest.Provider, claims map[string]any)) func(t *testing.T, p *oidctest.Provider, claims map[string]any) string {
	return func(t *testing.T, p *oidctest.Provider, claims map[string]any) string {
		t.Helper()
		if change != nil {
			change(p, claims)
		}
		return signLogoutToken(t, p, claims, mode, typ)
	}
}

// signES256 signs claims with an ES256 key under the provider's kid, as a
// forger would for a provider that signs with RS256.
func signES256(t *testing.T, p *oidctest.Provider, claims map[string]any) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: p.KeyID()}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func backChannelReplay(t *testing.T) {
	p, app := startWithProvider(t, nil)
	signIn(t, app, p)
	token := signLogoutToken(t, p, logoutClaims(p, claimOf(t, p.LastIDToken(), "sid")), oidctest.SignValid, "logout+jwt")
	if status, _ := postLogoutToken(t, app, token); status != http.StatusOK {
		t.Fatalf("first delivery = %d, want 200", status)
	}
	if status, header := postLogoutToken(t, app, token); status != http.StatusBadRequest || header.Get("Cache-Control") != "no-store" {
		t.Errorf("replayed delivery = %d Cache-Control %q, want 400 and no-store", status, header.Get("Cache-Control"))
	}
}

func backChannelGet(t *testing.T) {
	_, app := startWithProvider(t, nil)
	resp, err := http.Get(app.URL + "/backchannel-logout")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /backchannel-logout = %d, want 405", resp.StatusCode)
	}
}

func backChannelBySubject(t *testing.T) {
	p, app := startWithProvider(t, nil)
	first, second := signIn(t, app, p), signIn(t, app, p)
	claims := logoutClaims(p, "")
	delete(claims, "sid")
	status, header := postLogoutToken(t, app, signLogoutToken(t, p, claims, oidctest.SignValid, "logout+jwt"))
	if status != http.StatusOK || header.Get("Cache-Control") != "no-store" {
		t.Fatalf("back-channel logout by sub = %d Cache-Control %q, want 200 and no-store", status, header.Get("Cache-Control"))
	}
	assertAnonymous(t, app, first.b)
	assertAnonymous(t, app, second.b)
}

// signInForRefresh signs a browser in through a provider whose access
// tokens have already expired, so the next refresh asks for new ones.
func signInForRefresh(t *testing.T) (*oidctest.Provider, *testApp, *loginRun) {
	t.Helper()
	p, app := startWithProvider(t, nil, oidctest.WithOfflineAccess(true))
	p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	r := signIn(t, app, p)
	if grants := refreshGrants(p); len(grants) != 0 {
		t.Fatalf("%d refresh grants before any refresh", len(grants))
	}
	return p, app, r
}

func refreshValid(t *testing.T) { refreshAccepted(oidctest.Behavior{})(t) }

// refreshAccepted: once the provider behaves as b, a refresh succeeds and
// the session goes on with the refreshed ID token.
func refreshAccepted(b oidctest.Behavior) func(t *testing.T) {
	return func(t *testing.T) {
		p, app, r := signInForRefresh(t)
		checkRefreshAccepted(t, p, app, r, b)
	}
}

// checkRefreshAccepted refreshes r's session through a provider behaving
// as b, and checks that the session goes on with the refreshed ID token.
func checkRefreshAccepted(t *testing.T, p *oidctest.Provider, app *testApp, r *loginRun, b oidctest.Behavior) {
	t.Helper()
	first := p.LastIDToken()
	p.SetBehavior(b)
	if status, _, body := refreshProfile(t, app, r.b, r.final); status != http.StatusOK || !strings.Contains(body, "Welcome "+oidctest.DefaultName) {
		t.Fatalf("refresh = %d, want 200 with the profile panel:\n%s\nlogs:\n%s", status, body, app.logs)
	}
	if n := len(refreshGrants(p)); n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}
	refreshed := p.LastIDToken()
	if refreshed == first {
		t.Fatal("the provider issued no new ID token")
	}
	assertSessionValid(t, app, r.b)
	// The session keeps the refreshed ID token: logout hints with it.
	r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
	if hint := p.LastEndSession().Get("id_token_hint"); hint != refreshed {
		t.Errorf("id_token_hint after a refresh is not the refreshed ID token (the first one: %v)", hint == first)
	}
}

// refreshRefused: once the provider behaves as b, the refresh fails and
// the session ends, the old cookie with it.
func refreshRefused(b oidctest.Behavior) func(t *testing.T) {
	return func(t *testing.T) {
		p, app, r := signInForRefresh(t)
		checkRefreshRefused(t, p, app, r, b)
	}
}

// checkRefreshRefused refreshes r's session through a provider behaving as
// b, and checks that the refresh fails and the session ends, the old
// cookie with it.
func checkRefreshRefused(t *testing.T, p *oidctest.Provider, app *testApp, r *loginRun, b oidctest.Behavior) {
	t.Helper()
	saved := r.b.cookie(app.URL, "latchkey").Value
	p.SetBehavior(b)
	status, header, body := refreshProfile(t, app, r.b, r.final)
	if status != http.StatusUnauthorized || header.Get("HX-Redirect") != "/" {
		t.Errorf("refused refresh = %d HX-Redirect %q, want 401 and HX-Redirect /\nlogs:\n%s", status, header.Get("HX-Redirect"), app.logs)
	}
	if header.Get("Location") != "" {
		t.Errorf("the htmx answer carries Location %q", header.Get("Location"))
	}
	if !strings.Contains(body, `data-testid="error"`) {
		t.Errorf("refused refresh should answer the error card:\n%s", body)
	}
	// Whatever the cause — a revoked grant, a login elsewhere at a provider
	// that keeps one refresh token per user (Dex), a token that failed a
	// check — the words are true, and blame neither the user nor anyone.
	if msg := errorMessage(t, body); msg != "Your login could not be renewed, so this session has ended. Please log in again." {
		t.Errorf("refused refresh says %q", msg)
	}
	assertNoInternals(t, body, p)
	if n := len(refreshGrants(p)); n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}
	assertAnonymous(t, app, r.b)
	assertAnonymous(t, app, holding(t, app, saved))
}

// errorMessage is the message of the error card in body.
func errorMessage(t *testing.T, body string) string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(doc.Find(`[data-testid="error-message"]`).Text())
}

// oneRefreshTokenPerUser: at a provider that keeps one refresh token per
// user and client, a second login spends the first's; the first session
// ends at its next refresh, the second is unharmed.
func oneRefreshTokenPerUser(t *testing.T) {
	p, app := startWithProvider(t, nil, oidctest.WithOfflineAccess(true), oidctest.WithOneRefreshTokenPerUser())
	p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	first, second := signIn(t, app, p), signIn(t, app, p)
	checkRefreshRefused(t, p, app, first, oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	if status, _, body := refreshProfile(t, app, second.b, second.final); status != http.StatusOK {
		t.Errorf("the second browser's refresh = %d, want 200:\n%s", status, body)
	}
	assertSessionValid(t, app, second.b)
}

// signInWithRefreshToken signs a browser in through a provider that gives
// refresh tokens, with an access token good for an hour.
func signInWithRefreshToken(t *testing.T) (*oidctest.Provider, *testApp, *loginRun) {
	t.Helper()
	p, app := startWithProvider(t, nil, oidctest.WithOfflineAccess(true))
	return p, app, signIn(t, app, p)
}

// userinfoRejected: the provider forgets the access token, which has not
// expired; Refresh profile refreshes it once and reads userinfo again.
func userinfoRejected(t *testing.T) {
	p, app, r := signInWithRefreshToken(t)
	p.RevokeAccessTokens()
	const n = 3 // at once, as from three tabs
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status, _, body, err := sendRefresh(r.b.client, app.URL, csrfOf(r.final))
			if err != nil || status != http.StatusOK || !strings.Contains(body, "Welcome "+oidctest.DefaultName) {
				t.Errorf("refresh with a rejected access token = %d %v, want 200 with the profile panel:\n%s", status, err, body)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.Logf("logs:\n%s", app.logs)
	}
	if got := len(refreshGrants(p)); got != 1 {
		t.Errorf("%d refresh grants for %d requests, want 1", got, n)
	}
	if got, most := p.UserinfoCalls(), 1+2*n; got <= n || got > most {
		t.Errorf("%d userinfo requests, want the login's, and for each request the rejected one and one after the refresh (at most %d)", got, most)
	}
	// The refreshed access token is kept: the next read needs no refresh.
	if status, _, _ := refreshProfile(t, app, r.b, r.final); status != http.StatusOK || len(refreshGrants(p)) != 1 {
		t.Errorf("the next refresh = %d after %d refresh grants, want 200 and no new grant", status, len(refreshGrants(p)))
	}
	assertSessionValid(t, app, r.b)
}

// userinfoFails: userinfo answers status to every access token; Refresh
// profile answers want after the given number of refresh grants, and the
// session stays.
func userinfoFails(status, want, grants int) func(t *testing.T) {
	return func(t *testing.T) {
		p, app, r := signInWithRefreshToken(t)
		p.SetBehavior(oidctest.Behavior{UserinfoStatus: status})
		got, _, body := refreshProfile(t, app, r.b, r.final)
		if got != want || !strings.Contains(body, `data-testid="error"`) {
			t.Errorf("refresh while userinfo answers %d = %d, want %d with the error card:\n%s\nlogs:\n%s", status, got, want, body, app.logs)
		}
		assertNoInternals(t, body, p)
		if n := len(refreshGrants(p)); n != grants {
			t.Errorf("%d refresh grants, want %d", n, grants)
		}
		assertSessionValid(t, app, r.b)
	}
}

// refreshStaleKid: the provider rotates its signing key after the login,
// and withdraws the old one if unpublish says so; the refreshed ID token,
// signed as sign says, names the old key's kid, as Ory Hydra and Authelia
// do. accepted says whether the refresh must succeed, the stale kid
// logged, or fail and end the session.
func refreshStaleKid(sign oidctest.SignMode, unpublish, accepted bool) func(t *testing.T) {
	return func(t *testing.T) {
		p, app, r := signInForRefresh(t)
		oldKid := p.KeyID()
		p.RotateKey()
		if unpublish {
			p.UnpublishOldKeys()
		}
		b := oidctest.Behavior{Sign: sign, Kid: oldKid}
		if !accepted {
			checkRefreshRefused(t, p, app, r, b)
			return
		}
		checkRefreshAccepted(t, p, app, r, b)
		if logs := app.logs.String(); !strings.Contains(logs, "stale kid") || !strings.Contains(logs, oldKid) {
			t.Errorf("the log does not say that the provider sent a stale kid (%s):\n%s", oldKid, logs)
		}
	}
}

// refreshFiveAtOnce covers F6 and R19 through the dashboard's "Refresh
// profile" control, which htmx posts.
func refreshFiveAtOnce(t *testing.T) {
	p, app, r := signInForRefresh(t)

	// A first refresh, while the provider still hands out expired access
	// tokens, leaves the session with a rotated refresh token and an access
	// token that has expired again.
	if status, _, body := refreshProfile(t, app, r.b, r.final); status != http.StatusOK {
		t.Fatalf("first refresh = %d:\n%s\nlogs:\n%s", status, body, app.logs)
	}
	first := refreshGrants(p)
	if len(first) != 1 {
		t.Fatalf("first refresh made %d refresh grants, want 1", len(first))
	}

	p.SetBehavior(oidctest.Behavior{})
	const n = 5
	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var a answer
			a.status, _, a.body, a.err = sendRefresh(r.b.client, app.URL, csrfOf(r.final))
			answers[i] = a
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a.err != nil {
			t.Errorf("request %d: %v", i, a.err)
			continue
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(a.body))
		if err != nil {
			t.Fatal(err)
		}
		panel := doc.Find(`#profile-panel[data-testid="dashboard"]`)
		if a.status != http.StatusOK || panel.Length() != 1 || doc.Find(`[data-testid="auth-box"]`).Length() != 0 {
			t.Errorf("request %d = %d, want 200 with the profile panel alone:\n%s", i, a.status, a.body)
			continue
		}
		if got := strings.TrimSpace(panel.Find(`[data-testid="welcome"]`).Text()); got != "Welcome "+oidctest.DefaultName {
			t.Errorf("request %d: greeting %q", i, got)
		}
	}
	grants := refreshGrants(p)
	if got := len(grants) - len(first); got != 1 {
		t.Fatalf("five concurrent refreshes made %d refresh grants, want exactly 1", got)
	}
	// R19: the second grant spent the refresh token the first one returned;
	// the provider refuses a spent one.
	spent, used := first[0].Get("refresh_token"), grants[1].Get("refresh_token")
	if used == "" || used == spent {
		t.Errorf("the second refresh sent refresh token %q, want the rotated one, not the first %q", used, spent)
	}
	assertSessionValid(t, app, r.b)
	if again, _, _ := refreshProfile(t, app, r.b, r.final); again != http.StatusOK || len(refreshGrants(p)) != len(grants) {
		t.Errorf("refresh with a fresh access token = %d after %d grants, want 200 and no grant", again, len(refreshGrants(p))-len(grants))
	}
}

// unknownKeyFlood: forged logout tokens naming a key the provider never
// published cost the provider at most one JWKS request per interval.
func unknownKeyFlood(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	sid := claimOf(t, p.LastIDToken(), "sid")
	initial := p.JWKSCalls()
	if initial != 1 {
		t.Fatalf("JWKS fetches after the first login = %d, want 1", initial)
	}

	const n, workers = 100, 8
	tokens := make(chan string, n)
	for range n {
		tokens <- signLogoutToken(t, p, logoutClaims(p, sid), oidctest.SignUnknownKey, "logout+jwt")
	}
	close(tokens)
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     []error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for token := range tokens {
				status, err := deliverLogoutToken(app.URL, token)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					statuses[status]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d deliveries failed, the first: %v", len(errs), errs[0])
	}
	if statuses[http.StatusBadRequest] != n {
		t.Errorf("answers to %d forged logout tokens: %v, want 400 for each", n, statuses)
	}
	refetches := p.JWKSCalls() - initial
	t.Logf("%d forged tokens made %d JWKS refetches", n, refetches)
	if refetches > 1 {
		t.Errorf("%d forged tokens made %d JWKS refetches, want at most 1 per %v", n, refetches, auth.KeyRefetchInterval)
	}
	assertSessionValid(t, app, r.b)
}

// rotationDuringJWKSOutage: a login whose ID token names a key the app has
// not seen, while the key endpoint fails, is refused; once the endpoint is
// back, logins work again within seconds, not after a minute (L10).
func rotationDuringJWKSOutage(t *testing.T) {
	p, app := startWithProvider(t, nil)
	assertSignedIn(t, signIn(t, app, p))
	p.RotateKey()
	p.SetBehavior(oidctest.Behavior{JWKSStatus: http.StatusServiceUnavailable})
	assertRejected(t, login(t, app, p, "/login"), http.StatusBadRequest)

	p.SetBehavior(oidctest.Behavior{})
	back := time.Now()
	var last *loginRun
	for deadline := back.Add(10 * time.Second); time.Now().Before(deadline); {
		last = login(t, app, p, "/login")
		if last.final.has("dashboard") {
			t.Logf("logins work again %v after the key endpoint came back", time.Since(back).Round(10*time.Millisecond))
			return
		}
		time.Sleep(250 * time.Millisecond) // the pace of a user clicking "Try again"
	}
	t.Fatalf("10 s after the key endpoint came back, logins still fail: %d\nlogs:\n%s", last.final.status, app.logs)
}

// deliverLogoutToken posts a logout token as postLogoutToken does; safe to
// call from several goroutines.
func deliverLogoutToken(appURL, token string) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.PostForm(appURL+"/backchannel-logout", url.Values{"logout_token": {token}})
	if err != nil {
		return 0, fmt.Errorf("post logout token: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// keysKeptWhenJWKSFails: once the JWKS endpoint fails, a refetch (asked
// for by an unknown kid) gets nothing, and the keys read before still
// verify the provider's tokens.
func keysKeptWhenJWKSFails(t *testing.T) {
	p, app := startWithProvider(t, nil)
	signIn(t, app, p)
	before := p.JWKSCalls()
	if before == 0 {
		t.Fatal("the JWKS was never fetched")
	}
	p.SetBehavior(oidctest.Behavior{JWKSStatus: http.StatusInternalServerError})
	forged := signLogoutToken(t, p, logoutClaims(p, "no-such-session"), oidctest.SignUnknownKey, "logout+jwt")
	if status, _ := postLogoutToken(t, app, forged); status != http.StatusBadRequest {
		t.Errorf("logout token with an unknown kid = %d, want 400", status)
	}
	if got := p.JWKSCalls(); got != before+1 {
		t.Fatalf("JWKS requests = %d after an unknown kid, want one refetch attempt (%d)", got, before+1)
	}

	// The endpoint still fails: the known key verifies from the kept set.
	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	sid := claimOf(t, p.LastIDToken(), "sid")
	if status, _ := postLogoutToken(t, app, signLogoutToken(t, p, logoutClaims(p, sid), oidctest.SignValid, "logout+jwt")); status != http.StatusOK {
		t.Errorf("logout token signed with the known key = %d, want 200\nlogs:\n%s", status, app.logs)
	}
	assertAnonymous(t, app, r.b)
	if got := p.JWKSCalls(); got != before+1 {
		t.Errorf("JWKS requests = %d, want no more than the one refetch attempt (%d)", got, before+1)
	}
}

// stateWithoutAttemptCookie: a callback reaching a browser that did not
// start the login is refused before the code is used.
func stateWithoutAttemptCookie(t *testing.T) {
	p, app := startWithProvider(t, nil)
	starter, _ := newRecordingBrowser(t)
	callback := authorizeAnswer(t, startLogin(t, app, starter, "/login"))
	b, rec := newRecordingBrowser(t)
	r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
	assertRejected(t, r, http.StatusBadRequest)
	if n := p.TokenCalls(); n != 0 {
		t.Errorf("token endpoint called %d times", n)
	}
}

func stateWrong(t *testing.T) {
	p, app := startWithProvider(t, nil)
	b, rec := newRecordingBrowser(t)
	callback := authorizeAnswer(t, startLogin(t, app, b, "/login"))
	other := strings.Repeat("A", 43) // well formed, names no attempt
	for _, state := range []string{other, "tampered", ""} {
		u := withQuery(t, callback, func(q url.Values) { q.Set("state", state) })
		r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(u)}
		assertRejected(t, r, http.StatusBadRequest)
	}
	missing := withQuery(t, callback, func(q url.Values) { q.Del("state") })
	assertRejected(t, &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(missing)}, http.StatusBadRequest)
	if n := p.TokenCalls(); n != 0 {
		t.Errorf("token endpoint called %d times", n)
	}
}

func stateReplayed(t *testing.T) {
	p, app := startWithProvider(t, nil)
	first := login(t, app, p, "/login")
	assertSignedIn(t, first)
	host := hostOf(t, app.URL)
	callback := first.rec.last(t, host, "/callback").url.String()
	attempt := ""
	for _, c := range first.rec.setCookies(t, host) {
		if strings.HasPrefix(c.Name, "latchkey-login-") && c.Value != "" {
			attempt = c.Name + "=" + c.Value
		}
	}

	again := first.b.noFollow().get(callback)
	if again.status != http.StatusBadRequest || !again.has("error") {
		t.Errorf("replayed callback in the same browser = %d, want a 400 error page", again.status)
	}
	if n := p.TokenCalls(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}

	b, rec := newRecordingBrowser(t)
	r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
	assertRejected(t, r, http.StatusBadRequest)
	if n := p.TokenCalls(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}

	// An attacker who kept the attempt cookie as well still gets nowhere.
	if attempt == "" {
		t.Fatal("no attempt cookie was set")
	}
	b, rec = newRecordingBrowser(t)
	name, value, _ := strings.Cut(attempt, "=")
	u, _ := url.Parse(app.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	r = &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
	assertRejected(t, r, http.StatusBadRequest)
}

// sessionFixation: login always makes a new session id.
func sessionFixation(t *testing.T) {
	p, app := startWithProvider(t, nil)
	const planted = "planted-by-an-attacker"
	b, rec := browserWithCookie(t, app, planted)
	r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(app.URL + "/login")}
	assertSignedIn(t, r)
	first := b.cookie(app.URL, "latchkey").Value
	if first == planted {
		t.Fatal("the planted session cookie survived the login")
	}
	assertAnonymous(t, app, holding(t, app, planted))

	// A second login over a live session (the popup flow allows it) must
	// replace the session, not keep its id.
	popup := b.get(app.URL + "/login?popup=1")
	if popup.status != http.StatusOK || !popup.has("popup-done") {
		t.Fatalf("popup login should end on the popup page, got %d at %s:\n%s", popup.status, popup.url, popup.body)
	}
	second := b.cookie(app.URL, "latchkey").Value
	if second == first {
		t.Error("a new login kept the previous session id")
	}
	assertAnonymous(t, app, holding(t, app, first))
	assertSessionValid(t, app, holding(t, app, second))
}

// cookieAttributes checks every cookie's attributes and size, with tokens
// and claims far larger than a cookie can hold.
func cookieAttributes(t *testing.T) {
	bio := strings.Repeat("a very long biography ", 600)
	p := oidctest.New(t, oidctest.WithUser(map[string]any{"bio": bio}))
	p.SetBehavior(oidctest.Behavior{IDToken: func(claims map[string]any) {
		claims["groups"] = strings.Repeat("group-with-a-long-name,", 300)
	}})
	app := startApp(t, providerEnv(p, nil))
	app.waitReady(t)

	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	if len(p.LastIDToken()) < 6000 {
		t.Fatalf("the ID token is only %d bytes; the test needs a large one", len(p.LastIDToken()))
	}
	if !strings.Contains(r.final.text("claims"), "a very long biography") {
		t.Error("the dashboard lacks the large userinfo claim")
	}
	after := r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" {
		t.Fatalf("logout ended at %s", after.url)
	}

	host := hostOf(t, app.URL)
	var session, attempt int
	for _, e := range r.rec.all(host) {
		for _, line := range e.header.Values("Set-Cookie") {
			if len(line) > 4096 {
				t.Errorf("%s %s set a cookie of %d bytes", e.method, e.url.Path, len(line))
			}
		}
	}
	for _, c := range r.rec.setCookies(t, host) {
		if c.Value == "" {
			continue
		}
		if c.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s is not SameSite=Lax: %s", c.Name, c)
		}
		if !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s should be HttpOnly, Path=/ and host-only: %s", c.Name, c)
		}
		switch {
		case c.Name == "latchkey":
			session++
		case strings.HasPrefix(c.Name, "latchkey-login-"):
			attempt++
			if c.MaxAge <= 0 || c.MaxAge > 600 {
				t.Errorf("login attempt cookie Max-Age = %d, want 1..600", c.MaxAge)
			}
		}
	}
	if session == 0 || attempt == 0 {
		t.Errorf("saw %d session and %d login attempt cookies, want both", session, attempt)
	}
}

// redirectURIIgnoresHeaders: the redirect URI comes from BASE_URL,
// whatever Host and X-Forwarded-* say. The requests are made by hand, with
// the cookie carried over, since a cookie jar files cookies under the Host
// header.
func redirectURIIgnoresHeaders(t *testing.T) {
	p, app := startWithProvider(t, nil)
	want := app.URL + "/callback"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(u string, h http.Header, cookies []*http.Cookie) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			if k == "Host" {
				req.Host = vs[0]
				continue
			}
			req.Header[k] = vs
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		return resp
	}
	for _, h := range []http.Header{
		{"Host": {"evil.example"}},
		{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}},
		{"Host": {"evil.example:8443"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"evil.example"}, "Forwarded": {"host=evil.example;proto=https"}},
	} {
		start := send(app.URL+"/login", h, nil)
		authURL, err := url.Parse(start.Header.Get("Location"))
		if err != nil || start.StatusCode != http.StatusSeeOther {
			t.Fatalf("with %v: /login = %d Location %q", h, start.StatusCode, start.Header.Get("Location"))
		}
		if got := authURL.Query().Get("redirect_uri"); got != want {
			t.Errorf("with %v: authorization redirect_uri = %q, want %q", h, got, want)
		}
		callback := send(authorizeAnswer(t, authURL.String()), h, start.Cookies())
		if callback.StatusCode != http.StatusSeeOther || callback.Header.Get("Location") != "/dashboard" {
			t.Errorf("with %v: callback = %d Location %q, want a 303 to /dashboard", h, callback.StatusCode, callback.Header.Get("Location"))
		}
		if form, _ := p.LastToken(); form.Get("redirect_uri") != want {
			t.Errorf("with %v: token redirect_uri = %q, want %q", h, form.Get("redirect_uri"), want)
		}
	}
}

// returnTo: only a local path is honoured.
func returnTo(t *testing.T) {
	p, app := startWithProvider(t, nil)
	vectors := []string{ // as they appear in the query string
		url.QueryEscape("https://evil.example"),
		"//evil.example",
		url.QueryEscape("//evil.example"),
		"/%5Cevil.example",
		"/%255Cevil.example",
		"%5C%5Cevil.example",
		"/%09/evil.example",
		"/%2509/evil.example",
		"/%252F/evil.example",
		"///evil.example",
		url.QueryEscape("javascript:alert(1)"),
		url.QueryEscape("data:text/html,hi"),
		"http:evil.example",
		"%20/evil.example",
		"evil.example",
	}
	for _, v := range vectors {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			r := login(t, app, p, "/login?return_to="+v)
			if got, want := r.final.url.String(), app.URL+"/"; got != want || r.final.status != http.StatusOK {
				t.Errorf("return_to=%s landed on %s (%d), want %s", v, got, r.final.status, want)
			}
			if !r.final.has("profile-card") {
				t.Errorf("return_to=%s: the login did not complete", v)
			}
		})
	}
	t.Run("local path honoured", func(t *testing.T) {
		t.Parallel()
		r := login(t, app, p, "/login?return_to="+url.QueryEscape("/dashboard?x=1"))
		if got, want := r.final.url.String(), app.URL+"/dashboard?x=1"; got != want {
			t.Errorf("landed on %s, want %s", got, want)
		}
		assertSignedIn(t, r)
	})
}

// logoutInvalidatesSession: a saved cookie is dead after logout.
func logoutInvalidatesSession(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	saved := r.b.cookie(app.URL, "latchkey").Value
	home := r.b.get(app.URL + "/")
	after := r.b.submit(home, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" || !after.has("login-box") {
		t.Fatalf("logout should end on the home page's login box, got %s:\n%s", after.url, after.body)
	}
	assertAnonymous(t, app, r.b)
	replay := holding(t, app, saved)
	assertAnonymous(t, app, replay)
	if home := replay.get(app.URL + "/"); !home.has("login-box") || home.has("profile-card") {
		t.Error("the replayed cookie still shows a profile card")
	}
}

func logoutCrossSite(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	csrf := r.final.doc.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
	got := r.b.post(app.URL+"/logout", url.Values{"csrf": {csrf}}, http.Header{
		"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"},
	})
	if got.status != http.StatusForbidden || !got.has("error") {
		t.Errorf("cross-site logout = %d, want a 403 error page:\n%s", got.status, got.body)
	}
	assertSessionValid(t, app, r.b)
	if n := p.EndSessionCalls(); n != 0 {
		t.Errorf("end_session called %d times", n)
	}
}

func logoutWithoutCSRF(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	got := r.b.post(app.URL+"/logout", url.Values{}, http.Header{
		"Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"},
	})
	if got.status != http.StatusForbidden || !got.has("error") {
		t.Errorf("logout without csrf = %d, want a 403 error page:\n%s", got.status, got.body)
	}
	assertSessionValid(t, app, r.b)
}

func logoutGet(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	got := r.b.get(app.URL + "/logout")
	if got.status != http.StatusOK || !got.has("logout-confirm") || !got.has("logout-form") {
		t.Errorf("GET /logout = %d, want a confirmation form:\n%s", got.status, got.body)
	}
	assertSessionValid(t, app, r.b)
	if n := p.EndSessionCalls(); n != 0 {
		t.Errorf("end_session called %d times", n)
	}
}

// logoutHTMX: htmx cannot follow a redirect to another origin, so it is
// told where to go instead.
func logoutHTMX(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	csrf := r.final.doc.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
	got := r.b.noFollow().post(app.URL+"/logout", url.Values{"csrf": {csrf}}, http.Header{
		"HX-Request": {"true"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"},
	})
	if got.status < 200 || got.status > 299 || got.header.Get("Location") != "" {
		t.Errorf("htmx logout = %d Location %q, want 2xx without Location", got.status, got.header.Get("Location"))
	}
	target := got.header.Get("HX-Redirect")
	if !strings.HasPrefix(target, p.EndSessionEndpoint()+"?") {
		t.Errorf("HX-Redirect = %q, want the provider's end_session", target)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("id_token_hint") != p.LastIDToken() || q.Get("state") == "" {
		t.Errorf("HX-Redirect %q lacks the id_token_hint or the state", target)
	}
	assertAnonymous(t, app, r.b)
}

func logoutWithoutEndSession(t *testing.T) {
	p, app := startWithProvider(t, nil, oidctest.WithoutEndSession())
	r := signIn(t, app, p)
	out := r.b.noFollow().submit(r.final, `[data-testid="logout-form"]`, nil)
	loc, err := url.Parse(out.header.Get("Location"))
	if err != nil || out.status != http.StatusSeeOther || loc.Host != "" || loc.Path != "/" {
		t.Fatalf("logout = %d Location %q, want straight to /", out.status, out.header.Get("Location"))
	}
	home := r.b.get(app.URL + loc.String())
	if !home.has("login-box") {
		t.Errorf("logout should land on the home page's login box:\n%s", home.body)
	}
	// The provider's own session lives on, and the next Log In goes
	// through it without a question: the page says so.
	notice := home.text("notice")
	if want := "still logged in at " + hostOf(t, p.Issuer()); !strings.HasPrefix(notice, "You have been logged out") || !strings.Contains(notice, want) {
		t.Errorf("logged-out notice = %q, want it to say %q", notice, want)
	}
	assertAnonymous(t, app, r.b)
}

// htmxCrossOrigin: a state-changing htmx request needs the same origin and
// the session's CSRF token.
func htmxCrossOrigin(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	for name, tc := range map[string]struct {
		csrf   string
		header http.Header
	}{
		"cross-origin": {csrfOf(r.final), http.Header{"HX-Request": {"true"}, "Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		"wrong csrf":   {"not-the-csrf-token", http.Header{"HX-Request": {"true"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}}},
	} {
		got := r.b.noFollow().post(app.URL+"/profile/refresh", url.Values{"csrf": {tc.csrf}}, tc.header)
		if got.status != http.StatusForbidden {
			t.Errorf("%s htmx POST /profile/refresh = %d, want 403", name, got.status)
		}
	}
	if n := p.UserinfoCalls(); n != 1 {
		t.Errorf("userinfo requests = %d, want only the login's", n)
	}
	assertSessionValid(t, app, r.b)
}

// unauthenticatedHTMX: htmx never gets a redirect.
func unauthenticatedHTMX(t *testing.T) {
	_, app := startWithProvider(t, nil)
	b, _ := newRecordingBrowser(t)
	nf := b.noFollow()
	partial := nf.getWith(app.URL+"/dashboard", http.Header{"HX-Request": {"true"}})
	if partial.status != http.StatusUnauthorized {
		t.Errorf("htmx /dashboard = %d, want 401", partial.status)
	}
	if got := partial.header.Get("HX-Redirect"); !strings.HasPrefix(got, "/login?return_to=") {
		t.Errorf("HX-Redirect = %q, want /login?return_to=…", got)
	}
	if got := partial.header.Get("Location"); got != "" {
		t.Errorf("htmx answer carries Location %q", got)
	}
	plain := nf.get(app.URL + "/dashboard")
	if plain.status != http.StatusSeeOther || plain.header.Get("Location") != "/login?return_to=%2Fdashboard" {
		t.Errorf("/dashboard = %d Location %q, want 303 to /login?return_to=%%2Fdashboard", plain.status, plain.header.Get("Location"))
	}
}

// providerDownAtStart: the app starts without its provider and logs in
// once the provider is back, without a restart.
func providerDownAtStart(t *testing.T) {
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	app := startApp(t, providerEnv(p, nil))
	b, _ := newRecordingBrowser(t)

	if health := b.get(app.URL + "/healthz"); health.status != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", health.status)
	}
	waitFor(t, "a discovery attempt", func() bool { return p.DiscoveryCalls() > 0 })
	if ready := b.get(app.URL + "/readyz"); ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", ready.status)
	}
	down := b.get(app.URL + "/login")
	if down.status != http.StatusServiceUnavailable || !down.has("error") {
		t.Errorf("/login = %d, want a 503 error page:\n%s", down.status, down.body)
	}
	if !strings.Contains(down.text("error"), "identity provider") {
		t.Errorf("the 503 page should name the identity provider: %q", down.text("error"))
	}
	assertNoInternals(t, down.body, p)

	// Logins that arrive together while it is down wait for the same
	// discovery attempts, which they do not multiply.
	const n = 10
	before := p.DiscoveryCalls()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(app.URL + "/login")
			if err != nil {
				t.Errorf("GET /login: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/login while the provider is down = %d, want 503", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := p.DiscoveryCalls() - before; got > 4 {
		t.Errorf("%d logins at once made %d discovery attempts, want a few at most", n, got)
	}

	// The first click once it is back signs in: the login waits for the
	// discovery attempt it asks for.
	p.SetBehavior(oidctest.Behavior{})
	assertSignedIn(t, login(t, app, p, "/login"))
}

// securityHeaders checks R16's headers on every answer, error pages
// included, and R7's callback hygiene.
func securityHeaders(t *testing.T) {
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	host := hostOf(t, app.URL)
	for _, e := range r.rec.all(host) {
		assertHeaders(t, e.method+" "+e.url.Path, e.header)
	}
	cb := r.rec.last(t, host, "/callback")
	if got := cb.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("/callback Referrer-Policy = %q, want no-referrer", got)
	}
	if cb.status != http.StatusSeeOther || cb.header.Get("Location") != "/dashboard" {
		t.Errorf("/callback = %d Location %q, want a 303 to a clean URL", cb.status, cb.header.Get("Location"))
	}

	b, _ := newRecordingBrowser(t)
	home := b.get(app.URL + "/")
	assertHeaders(t, "home page", home.header)
	bad := b.get(app.URL + "/callback?state=" + strings.Repeat("B", 43) + "&code=x")
	if bad.status != http.StatusBadRequest || !bad.has("error") {
		t.Errorf("bad callback = %d, want a 400 error page", bad.status)
	}
	assertHeaders(t, "error page", bad.header)
	if got := bad.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("failed /callback Referrer-Policy = %q, want no-referrer", got)
	}
	missing := b.get(app.URL + "/no-such-page")
	if missing.status != http.StatusNotFound || !missing.has("error") {
		t.Errorf("/no-such-page = %d, want the 404 error page", missing.status)
	}
	assertHeaders(t, "404 page", missing.header)
}

// tokensStayServerSide: no token reaches a page or the log.
func tokensStayServerSide(t *testing.T) {
	p, app := startWithProvider(t, map[string]string{"LOG_LEVEL": "debug"})
	r := signIn(t, app, p)
	home := r.b.get(app.URL + "/")
	r.b.get(app.URL + "/logout")
	r.b.submit(home, `[data-testid="logout-form"]`, nil)

	idToken := p.LastIDToken()
	reqs := p.Requests(oidctest.EndpointUserinfo)
	if idToken == "" || len(reqs) == 0 {
		t.Fatal("the provider issued no tokens")
	}
	accessToken := strings.TrimPrefix(reqs[0].Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(idToken, ".")
	secrets := map[string]string{"ID token": idToken, "ID token payload": parts[1], "ID token signature": parts[2], "access token": accessToken}

	texts := map[string]string{"log": app.logs.String()}
	for i, e := range r.rec.all(hostOf(t, app.URL)) {
		if strings.HasPrefix(e.header.Get("Content-Type"), "text/html") {
			texts[fmt.Sprintf("page %d (%s %s)", i, e.method, e.url.Path)] = string(e.body)
		}
	}
	for where, text := range texts {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
		if m := tokenShape.FindString(text); m != "" {
			t.Errorf("%s contains %q, shaped like the provider's access or refresh token", where, m)
		}
	}
}
