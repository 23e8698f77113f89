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
	data := string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: "ada"}, UserAgent: "browser"}))
	first, ok := s.decode("k", data)
	if !ok {
		t.Fatal("decode failed")
	}
	first.User.Subject, first.UserAgent = "changed", "changed"
	again, ok := s.decode("other", data)
	if !ok {
		t.Fatal("decode failed")
	}
	if again.Key != "other" || again.User.Subject != "ada" || again.UserAgent != "browser" {
		t.Errorf("a change to one decoded session shows in the next: %+v", again)
	}
	if _, ok := s.decode("k", "\x02\x01\x09cut"); ok {
		t.Error("a damaged record decoded")
	}
	for i := range 2 * decodedSessions {
		if _, ok := s.decode("k", string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: fmt.Sprint(i)}}))); !ok {
			t.Fatal("decode failed")
		}
	}
	if n := s.decoded.Len(); n > decodedSessions {
		t.Errorf("%d decoded sessions kept, want at most %d", n, decodedSessions)
	}
}
