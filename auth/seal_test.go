package auth

import (
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

var testTokens = Tokens{
	IDToken:      "eyJ.id-token-of-ada.sig",
	AccessToken:  "access-token-of-ada",
	TokenType:    "Bearer",
	RefreshToken: "refresh-token-of-ada",
	Expiry:       time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC),
}

// startWithTokens signs ada in with testTokens and returns the session,
// the response that set its cookie and the session as its request loads it.
func startWithTokens(t *testing.T, s *testSessions) (*Session, *httptest.ResponseRecorder, *Session) {
	t.Helper()
	tokens := testTokens
	sess := &Session{User: User{Subject: "ada", Email: "ada@example.com"}, tokens: &tokens}
	rec := httptest.NewRecorder()
	if err := s.Start(t.Context(), rec, httptest.NewRequest("GET", "/callback", nil), sess); err != nil {
		t.Fatalf("Start: %v", err)
	}
	loaded, err := s.Load(t.Context(), requestWith(rec))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sess, rec, loaded
}

// equalTokens reports whether a and b are the same tokens, their expiry
// the same instant.
func equalTokens(a, b Tokens) bool {
	same := a.Expiry.Equal(b.Expiry)
	a.Expiry, b.Expiry = time.Time{}, time.Time{}
	return same && a == b
}

func TestTokensOpenOnlyWithTheCookie(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	sess, _, loaded := startWithTokens(t, s)
	if got, err := loaded.Tokens(); err != nil || !equalTokens(got, testTokens) {
		t.Fatalf("tokens of the session its cookie loads = %+v, %v; want %+v", got, err, testTokens)
	}
	if got := loaded.IDTokenHint(); got != testTokens.IDToken {
		t.Errorf("IDTokenHint = %q, want the ID token", got)
	}
	fromStore, err := s.store.Load(t.Context(), sess.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fromStore.Tokens(); !errors.Is(err, errTokensSealed) {
		t.Errorf("tokens of the session as the store holds it = %+v, %v; want errTokensSealed", got, err)
	}
	if got := fromStore.IDTokenHint(); got != "" {
		t.Errorf("IDTokenHint without the cookie = %q, want none", got)
	}
	list, err := s.List(t.Context(), loaded)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if _, err := list[0].Tokens(); err == nil {
		t.Error("a session of the user's list opens its tokens")
	}
}

func TestRecordHoldsNoTokenInTheClear(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	sess, _, loaded := startWithTokens(t, s)
	record := string(MarshalSession(sess))
	for name, secret := range map[string]string{
		"ID token": testTokens.IDToken, "access token": testTokens.AccessToken,
		"refresh token": testTokens.RefreshToken, "CSRF token": loaded.CSRFToken,
	} {
		if strings.Contains(record, secret) {
			t.Errorf("the record holds the %s in the clear", name)
		}
	}
	if !strings.Contains(record, "ada@example.com") {
		t.Error("the record does not hold the user's email either: the test reads the wrong bytes")
	}
	again, err := UnmarshalSession(sess.Key, []byte(record))
	if err != nil {
		t.Fatal(err)
	}
	again.keys = loaded.keys
	if got, err := again.Tokens(); err != nil || !equalTokens(got, testTokens) {
		t.Errorf("the record's tokens open as %+v, %v; want %+v", got, err, testTokens)
	}
}

// TestSealedTokensStayWithTheirSession: a record copied under another
// session's key does not open there, not with that session's cookie, and
// not with its own cookie's keys either: the key is the associated data.
func TestSealedTokensStayWithTheirSession(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	victim, _, victimLoaded := startWithTokens(t, s)
	thief, thiefRec, _ := startWithTokens(t, s)

	s.store.mu.Lock()
	copied := s.store.sessions[victim.Key]
	copied.Key = thief.Key
	s.store.sessions[thief.Key] = copied
	s.store.mu.Unlock()

	loaded, err := s.Load(t.Context(), requestWith(thiefRec))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, err := loaded.Tokens(); !errors.Is(err, errTokensUnreadable) {
		t.Errorf("the victim's record under the thief's key opens with the thief's cookie: %+v, %v", got, err)
	}
	if _, err := victimLoaded.keys.open(copied.sealed, thief.Key); !errors.Is(err, errTokensUnreadable) {
		t.Errorf("the victim's tokens open under another key with the victim's own keys: %v", err)
	}

	// A session whose tokens do not open can do nothing with them: it ends.
	r := NewRefresher(nil, s.Sessions)
	if _, err := r.Fresh(t.Context(), loaded); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("Fresh of a session whose tokens do not open = %v; want ErrSessionEnded", err)
	}
	if _, err := s.Load(t.Context(), requestWith(thiefRec)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load after Fresh ended it = %v; want ErrNoSession", err)
	}
}

// TestOpenedTokensAreTheSealedOnes: opening the same value again gives
// what it holds (without decrypting it again), a value sealed since gives
// its own tokens, and neither another session key nor a damaged copy
// opens a value opened before.
func TestOpenedTokensAreTheSealedOnes(t *testing.T) {
	k := deriveKeys("the id in the cookie")
	refreshed := testTokens
	refreshed.AccessToken, refreshed.Expiry = "refreshed-access-token", testTokens.Expiry.Add(time.Hour)
	first, second := k.seal(testTokens, "key"), k.seal(refreshed, "key")
	for i, tt := range []struct {
		sealed string
		want   Tokens
	}{{first, testTokens}, {first, testTokens}, {second, refreshed}, {first, testTokens}, {second, refreshed}} {
		got, err := k.open(tt.sealed, "key")
		if err != nil || !got.Expiry.Equal(tt.want.Expiry) || got.AccessToken != tt.want.AccessToken || got.IDToken != tt.want.IDToken || got.RefreshToken != tt.want.RefreshToken {
			t.Errorf("open %d = %+v, %v; want %+v", i, got, err, tt.want)
		}
	}
	if _, err := k.open(second, "another session's key"); !errors.Is(err, errTokensUnreadable) {
		t.Errorf("a value opened before opens under another key: %v", err)
	}
	damaged := []byte(second)
	damaged[len(damaged)-1] ^= 1
	if _, err := k.open(string(damaged), "key"); !errors.Is(err, errTokensUnreadable) {
		t.Errorf("a damaged copy of a value opened before opens: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = k.open(second, "key") }); n != 0 {
		t.Errorf("opening the value opened last allocates %v times", n)
	}
}

// TestRecordFromBeforeSealing: a session whose record holds its tokens in
// the clear (an upgrade) keeps working, and its next request seals them.
func TestRecordFromBeforeSealing(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	sess, rec, _ := startWithTokens(t, s)
	data, err := os.ReadFile("testdata/session-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	old, err := UnmarshalSession(sess.Key, data)
	if err != nil {
		t.Fatal(err)
	}
	_, oldTokens := fixtureSession()
	old.CreatedAt, old.LastSeen = s.clock.now, s.clock.now
	old.IdleUntil, old.ExpiresAt = s.clock.now.Add(time.Hour), s.clock.now.Add(time.Hour)
	s.store.mu.Lock()
	s.store.sessions[sess.Key] = *old
	s.store.mu.Unlock()

	loaded, err := s.Load(t.Context(), requestWith(rec))
	if err != nil {
		t.Fatalf("Load of a session from before sealing: %v", err)
	}
	if got, err := loaded.Tokens(); err != nil || got.RefreshToken != oldTokens.RefreshToken || got.IDToken != oldTokens.IDToken {
		t.Fatalf("its tokens = %+v, %v; want the record's", got, err)
	}
	s.store.mu.Lock()
	stored := s.store.sessions[sess.Key]
	s.store.mu.Unlock()
	if stored.tokens != nil || stored.sealed == "" {
		t.Fatalf("after its first request the store holds tokens %+v, sealed %q; want them sealed only", stored.tokens, stored.sealed)
	}
	if strings.Contains(string(MarshalSession(&stored)), oldTokens.RefreshToken) {
		t.Error("the record written again holds the refresh token in the clear")
	}
	again, err := s.Load(t.Context(), requestWith(rec))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Tokens(); err != nil || got.AccessToken != oldTokens.AccessToken {
		t.Errorf("tokens after sealing = %+v, %v; want the record's", got, err)
	}
}
