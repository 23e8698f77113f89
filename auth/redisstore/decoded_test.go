package redisstore

import (
	"encoding/json"
	"fmt"
	"testing"

	"latchkey/auth"
)

func TestDecodedSessionsAreCopies(t *testing.T) {
	var d decoded
	data, err := json.Marshal(&auth.Session{Key: "k", User: auth.User{Subject: "ada"}, CSRFToken: "csrf"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.decode(string(data))
	if err != nil {
		t.Fatal(err)
	}
	first.User.Subject, first.CSRFToken = "changed", "changed"
	again, err := d.decode(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if again.User.Subject != "ada" || again.CSRFToken != "csrf" {
		t.Errorf("a change to one decoded session shows in the next: %+v", again)
	}
	if _, err := d.decode("{not json"); err == nil {
		t.Error("bad JSON decoded")
	}
	for i := range 2 * decodedSessions {
		if _, err := d.decode(fmt.Sprintf(`{"key":"k%d"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.sessions); n > decodedSessions {
		t.Errorf("%d decoded sessions kept, want at most %d", n, decodedSessions)
	}
}
