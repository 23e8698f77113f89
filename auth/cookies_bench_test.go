package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkOpenSessionCookie measures opening a session cookie that has not
// been seen lately: verify, decrypt, decode. Later requests with the same
// cookie skip this (see BenchmarkSessionsLoad).
func BenchmarkOpenSessionCookie(b *testing.B) {
	c, err := NewCookies(CookieConfig{Secrets: []string{strings.Repeat("s", MinSecretLength)}, SessionMaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := c.set(rec, c.session, sessionCookie, randomString(32), time.Hour); err != nil {
		b.Fatal(err)
	}
	value := rec.Result().Cookies()[0].Value
	b.ReportAllocs()
	for b.Loop() {
		var id string
		if err := c.open(c.session, sessionCookie, value, &id); err != nil {
			b.Fatal(err)
		}
	}
}
