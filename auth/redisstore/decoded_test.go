package redisstore

import (
	"fmt"
	"testing"

	"latchkey/auth"
)

func TestDecodedSessionsAreCopies(t *testing.T) {
	var d decoded
	data := string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: "ada"}, CSRFToken: "csrf"}))
	first, err := d.decode("k", data)
	if err != nil {
		t.Fatal(err)
	}
	first.User.Subject, first.CSRFToken = "changed", "changed"
	again, err := d.decode("other", data)
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != "other" || again.User.Subject != "ada" || again.CSRFToken != "csrf" {
		t.Errorf("a change to one decoded session shows in the next: %+v", again)
	}
	if _, err := d.decode("k", "\x02\x01\x09cut"); err == nil {
		t.Error("a damaged record decoded")
	}
	for i := range 2 * decodedSessions {
		if _, err := d.decode("k", string(auth.MarshalSession(&auth.Session{User: auth.User{Subject: fmt.Sprint(i)}}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.sessions); n > decodedSessions {
		t.Errorf("%d decoded sessions kept, want at most %d", n, decodedSessions)
	}
}
