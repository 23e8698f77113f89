package devidp

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// TestAuthorizeParameterBounds: the parameters an authorization request
// makes the provider keep are refused when they are too long, so nobody
// can make it hold megabytes per request.
func TestAuthorizeParameterBounds(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	long := strings.Repeat("x", maxParamLength+1)
	for _, param := range []string{"state", "nonce", "code_challenge"} {
		t.Run(param, func(t *testing.T) {
			u, _ := url.Parse(newLogin().authURL(party))
			q := u.Query()
			q.Set(param, long)
			u.RawQuery = q.Encode()
			resp := env.get(t, u.String())
			if loc, err := resp.Location(); err == nil && loc.Path == "/dev-idp/login" {
				t.Fatalf("a %d-byte %s reached the sign-in page", len(long), param)
			}
			if resp.StatusCode < 300 {
				t.Errorf("status %d, want a refusal", resp.StatusCode)
			}
		})
	}
	t.Run("longest allowed", func(t *testing.T) {
		l := newLogin()
		l.state, l.nonce = strings.Repeat("s", maxParamLength), strings.Repeat("n", maxParamLength)
		env.openSignInPage(t, l.authURL(party))
	})
}

// TestRequestSizeLimits: every endpoint refuses an oversized URI or body,
// and any body but a URL-encoded form, before reading it.
func TestRequestSizeLimits(t *testing.T) {
	var refused []int
	env := newTestEnv(t, mountChi, func(c *Config) {
		c.Refuse = func(w http.ResponseWriter, _ *http.Request, status int, message string) {
			refused = append(refused, status)
			http.Error(w, "refused: "+message, status)
		}
	})
	multipartBody := func() (string, *bytes.Buffer) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "big.bin")
		_, _ = fw.Write(bytes.Repeat([]byte("a"), 1<<10))
		_ = mw.WriteField("grant_type", "authorization_code")
		_ = mw.Close()
		return mw.FormDataContentType(), &buf
	}
	do := func(t *testing.T, method, target, contentType string, body *bytes.Buffer) *http.Response {
		t.Helper()
		var req *http.Request
		if body == nil {
			req = httptest.NewRequest(method, target, nil)
		} else {
			req = httptest.NewRequest(method, target, body)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		env.srv.Config.Handler.ServeHTTP(rec, req)
		return rec.Result()
	}
	for _, path := range []string{"/dev-idp/authorize", "/dev-idp/login", "/dev-idp/end_session", "/dev-idp/.well-known/openid-configuration"} {
		t.Run("long URI "+path, func(t *testing.T) {
			resp := do(t, http.MethodGet, path+"?state="+strings.Repeat("x", maxRequestURI), "", nil)
			if resp.StatusCode != http.StatusRequestURITooLong {
				t.Errorf("status %d, want 414", resp.StatusCode)
			}
		})
	}
	for _, path := range []string{"/dev-idp/oauth/token", "/dev-idp/login", "/dev-idp/revoke", "/dev-idp/oauth/introspect"} {
		t.Run("large form "+path, func(t *testing.T) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("c", maxRequestBody)}}
			resp := do(t, http.MethodPost, path, "application/x-www-form-urlencoded", bytes.NewBufferString(form.Encode()))
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", resp.StatusCode)
			}
		})
		t.Run("multipart "+path, func(t *testing.T) {
			contentType, body := multipartBody()
			resp := do(t, http.MethodPost, path, contentType, body)
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("status %d, want 415", resp.StatusCode)
			}
		})
	}
	if len(refused) == 0 {
		t.Error("refusals did not use the app's Refuse page")
	}
}

// TestFloodStaysBounded: a stranger who sends authorization requests as
// fast as they can, each as large as allowed or larger, makes the provider
// hold a bounded number of bounded requests.
func TestFloodStaysBounded(t *testing.T) {
	env := newTestEnv(t, mountChi)
	party := env.relyingParty(t, testClientSecret, oauth2.AuthStyleInHeader)
	handler := env.srv.Config.Handler
	store := env.provider.store

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	huge := strings.Repeat("x", 900<<10)
	for i := range 3 * maxAuthRequests {
		l := newLogin()
		l.state = strings.Repeat("s", maxParamLength-8) + fmt.Sprintf("%08d", i)
		l.nonce = strings.Repeat("n", maxParamLength)
		target := l.authURL(party)
		if i%10 == 0 {
			// The request of the report: a 900 KB state.
			l.state = huge
			target = l.authURL(party)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code >= 500 {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	store.mu.Lock()
	pending := len(store.authRequests.m)
	store.mu.Unlock()
	if pending > maxAuthRequests {
		t.Errorf("%d auth requests kept, want at most %d", pending, maxAuthRequests)
	}
	// 1,000 requests of two 1 KB values each, with their maps: a few MB.
	// Unbounded, the 300 huge ones alone would be 270 MB.
	if grown := int64(heap()) - int64(before); grown > 16<<20 {
		t.Errorf("heap grew by %d MB", grown>>20)
	}
}

// TestStorageCapsTokensAndSessions: sign-ins and tokens beyond the limits
// drop the oldest, which then no longer work.
func TestStorageCapsTokensAndSessions(t *testing.T) {
	key, err := newSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s := newStorage(key, demoUsers("http://localhost/"), &client{id: testClientID, secret: testClientSecret})
	ctx := t.Context()
	var first string
	for i := range maxTokens + 50 {
		a, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{
			ClientID: testClientID, Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
			RedirectURI: "http://localhost/callback", CodeChallenge: "c", CodeChallengeMethod: oidc.CodeChallengeMethodS256,
		}, "")
		if err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		if err := s.signInAuthRequest(a.GetID(), "ada"); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		a, err = s.AuthRequestByID(ctx, a.GetID())
		if err != nil {
			t.Fatalf("AuthRequestByID: %v", err)
		}
		_, refresh, _, err := s.CreateAccessAndRefreshTokens(ctx, a, "")
		if err != nil {
			t.Fatalf("tokens %d: %v", i, err)
		}
		if i == 0 {
			first = refresh
		}
	}
	s.mu.Lock()
	counts := []int{len(s.authRequests.m), len(s.sessions.m), len(s.accessTokens.m), len(s.refreshTokens.m), len(s.codes)}
	s.mu.Unlock()
	limits := []int{maxAuthRequests, maxSessions, maxTokens, maxTokens, maxAuthRequests}
	for i, n := range counts {
		if n > limits[i] {
			t.Errorf("%s: %d kept, limit %d", []string{"auth requests", "sessions", "access tokens", "refresh tokens", "codes"}[i], n, limits[i])
		}
	}
	if _, err := s.TokenRequestByRefreshToken(ctx, first); err == nil {
		t.Error("the oldest refresh token still works after the limit was passed")
	}
}
