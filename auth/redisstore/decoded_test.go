package redisstore

import (
	"fmt"
	"testing"

	"latchkey/auth"
)

func TestDecodedSessionsAreCopies(t *testing.T) {
	s, err := New("redis://127.0.0.1:1/0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: "ada"}, CSRFToken: "csrf"}))
	first, err := s.decode("k", data)
	if err != nil {
		t.Fatal(err)
	}
	first.User.Subject, first.CSRFToken = "changed", "changed"
	again, err := s.decode("other", data)
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != "other" || again.User.Subject != "ada" || again.CSRFToken != "csrf" {
		t.Errorf("a change to one decoded session shows in the next: %+v", again)
	}
	if _, err := s.decode("k", "\x02\x01\x09cut"); err == nil {
		t.Error("a damaged record decoded")
	}
	for i := range 2 * decodedSessions {
		if _, err := s.decode("k", string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: fmt.Sprint(i)}}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.decoded.Len(); n > decodedSessions {
		t.Errorf("%d decoded sessions kept, want at most %d", n, decodedSessions)
	}
}
