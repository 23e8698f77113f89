package storetest

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
)

// BenchSession returns a session as large as a real login makes one
// (signed tokens, a userinfo document), for subject, not yet saved; its
// key is random and its limits lie an hour ahead of now.
func BenchSession(subject string, now time.Time) *auth.Session {
	token := func(n int) string { return strings.Repeat(rand.Text(), n/26+1)[:n] }
	sess := &auth.Session{
		Key: rand.Text() + rand.Text(),
		User: auth.User{
			Subject: subject,
			Name:    "Ada Lovelace",
			Email:   "ada@example.com",
			Picture: "https://app.example.com/assets/avatars/ada.svg",
			ClaimsJSON: `{
  "sub": "` + subject + `",
  "name": "Ada Lovelace",
  "given_name": "Ada",
  "family_name": "Lovelace",
  "picture": "https://app.example.com/assets/avatars/ada.svg",
  "email": "ada@example.com",
  "email_verified": true
}`,
		},
		ProviderSID: rand.Text(),
		UserAgent:   "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
		CreatedAt:   now,
		LastSeen:    now,
		IdleUntil:   now.Add(time.Hour),
		ExpiresAt:   now.Add(time.Hour),
	}
	sess.Seal(rand.Text(), auth.Tokens{
		IDToken:      token(780),
		AccessToken:  token(900),
		TokenType:    "Bearer",
		RefreshToken: token(64),
		Expiry:       now.Add(15 * time.Minute),
	})
	return sess
}

// BenchmarkLoad measures what each request of a signed-in browser costs
// before any page is drawn: finding the session its cookie names (the
// cookie is opened at its first request, then remembered) and loading that
// session from store, through auth.Sessions as the app's middleware does.
func BenchmarkLoad(b *testing.B, store auth.SessionStore) {
	b.Helper()
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{strings.Repeat("s", auth.MinSecretLength)}, SessionMaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	sessions := auth.NewSessions(auth.SessionsConfig{Store: store, Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	rec := httptest.NewRecorder()
	if err := sessions.Start(b.Context(), rec, httptest.NewRequest(http.MethodGet, "/", nil), BenchSession("ada", time.Now())); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sessions.Load(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
