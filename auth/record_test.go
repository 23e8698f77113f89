package auth

import (
	"encoding/binary"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// notInRecord are the fields of Session that its record leaves out: the
// key, under which the store keeps the record, and what only the cookie
// gives or this process knows.
var notInRecord = map[string]bool{"Key": true, "CSRFToken": true, "tokens": true, "keys": true}

// valueFields returns the path of every field of the struct v points to
// that holds a value (a string, a time, a bool or a list of strings;
// structs are walked into), but those in skip, with its address.
func valueFields(t *testing.T, v any, skip map[string]bool) map[string]uintptr {
	t.Helper()
	fields := map[string]uintptr{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f, name := v.Field(i), prefix+v.Type().Field(i).Name
			switch {
			case skip[name]:
			case f.Type() == reflect.TypeFor[time.Time](), f.Kind() == reflect.String, f.Kind() == reflect.Bool,
				f.Type() == reflect.TypeFor[[]string]():
				fields[name] = f.UnsafeAddr()
			case f.Kind() == reflect.Struct:
				walk(f, name+".")
			default:
				t.Fatalf("field %s has type %s, which the record does not know", name, f.Type())
			}
		}
	}
	walk(reflect.ValueOf(v).Elem(), "")
	return fields
}

// checkTable checks that the rows of fields keep the fields of the struct
// v points to, each in the field it names, and that every field but those
// in skip has a row.
func checkTable[T any](t *testing.T, v *T, fields []field[T], skip map[string]bool) {
	t.Helper()
	addrs := valueFields(t, v, skip)
	rows := map[string]bool{}
	for i, f := range fields {
		if f.tag != uint64(i+1) {
			t.Errorf("row %d (%s) has tag %d; tags are the rows' positions from 1", i, f.name, f.tag)
		}
		if f.readOnly {
			continue // read from old records into where they are kept now
		}
		kinds := 0
		for _, set := range []bool{f.str != nil, f.time != nil, f.flag != nil, f.list != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("row %s must say where one string, time, flag or list is kept", f.name)
			continue
		}
		addr, ok := addrs[f.name]
		if !ok {
			t.Errorf("row %s names no field to store", f.name)
			continue
		}
		var got uintptr
		switch {
		case f.str != nil:
			got = uintptr(unsafe.Pointer(f.str(v)))
		case f.time != nil:
			got = uintptr(unsafe.Pointer(f.time(v)))
		case f.flag != nil:
			got = uintptr(unsafe.Pointer(f.flag(v)))
		default:
			got = uintptr(unsafe.Pointer(f.list(v)))
		}
		if got != addr {
			t.Errorf("row %s keeps its value in another field", f.name)
		}
		rows[f.name] = true
	}
	for name := range addrs {
		if !rows[name] {
			t.Errorf("%s has no row: it would not be stored", name)
		}
	}
}

func TestRecordFieldsListEveryField(t *testing.T) {
	checkTable(t, &Session{}, recordFields, notInRecord)
	checkTable(t, &Tokens{}, tokenFields, nil)
}

// fullSession has every field its record holds set to a value of its own.
func fullSession(t *testing.T) *Session {
	t.Helper()
	sess := &Session{Key: "key-value"}
	for i, f := range recordFields {
		switch {
		case f.readOnly:
		case f.str != nil:
			*f.str(sess) = f.name + "-value"
		case f.time != nil:
			*f.time(sess) = time.Unix(1_700_000_000+int64(i), int64(i)*1_000_001)
		case f.flag != nil:
			*f.flag(sess) = true
		case f.list != nil:
			*f.list(sess) = []string{f.name + "-one", "", "a, b"}
		}
	}
	return sess
}

// sameSession reports how got differs from want, field by field.
func sameSession(t *testing.T, got, want *Session) {
	t.Helper()
	if got.Key != want.Key {
		t.Errorf("Key = %q, want %q", got.Key, want.Key)
	}
	for _, f := range recordFields {
		switch {
		case f.readOnly:
		case f.str != nil:
			if g, w := *f.str(got), *f.str(want); g != w {
				t.Errorf("%s = %q, want %q", f.name, g, w)
			}
		case f.time != nil:
			if g, w := *f.time(got), *f.time(want); !g.Equal(w) {
				t.Errorf("%s = %v, want %v", f.name, g, w)
			}
		case f.flag != nil:
			if g, w := *f.flag(got), *f.flag(want); g != w {
				t.Errorf("%s = %v, want %v", f.name, g, w)
			}
		case f.list != nil:
			if g, w := *f.list(got), *f.list(want); !slices.Equal(g, w) {
				t.Errorf("%s = %q, want %q", f.name, g, w)
			}
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	want := fullSession(t)
	got, err := UnmarshalSession(want.Key, MarshalSession(want))
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	sameSession(t, got, want)

	zero := &Session{Key: "k"}
	got, err = UnmarshalSession("k", MarshalSession(zero))
	if err != nil {
		t.Fatalf("zero session: %v", err)
	}
	sameSession(t, got, zero)
	if !got.CreatedAt.IsZero() || got.tokens != nil {
		t.Errorf("a zero session decodes with a sign-in time %v and tokens %+v", got.CreatedAt, got.tokens)
	}
}

// fixtureSession is the session the records in testdata hold, written by
// the versions that used those forms, with its tokens in the clear.
func fixtureSession() (*Session, Tokens) {
	at := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec) }
	return &Session{
			Key: "3f5a0c1e9b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468",
			User: User{
				Subject:    "auth0|64f1c2d3e4b5a69788990011",
				Name:       "Ada Lovelace",
				Email:      "ada@example.com",
				Picture:    "https://app.example.com/assets/avatars/ada.svg",
				ClaimsJSON: "{\n  \"sub\": \"auth0|64f1c2d3e4b5a69788990011\",\n  \"name\": \"Ada Lovelace\",\n  \"email\": \"ada@example.com\",\n  \"email_verified\": true\n}",
			},
			ProviderSID: "sid-7c9e6679-7425-40de-944b",
			UserAgent:   "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
			CreatedAt:   at(1_767_222_000, 456_000_000),
			LastSeen:    at(1_767_222_900, 0),
			IdleUntil:   at(1_767_224_700, 789_000_000),
			ExpiresAt:   at(1_767_308_400, 456_000_000),
		}, Tokens{
			IDToken:      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZpeHR1cmUifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbS8iLCJzdWIiOiJhZGEifQ.c2lnbmF0dXJl",
			AccessToken:  "fixture-access-token-0123456789",
			TokenType:    "Bearer",
			RefreshToken: "fixture-refresh-token-9876543210",
			Expiry:       at(1_767_225_600, 123_000_000),
		}
}

// sameTokens reports how got differs from want.
func sameTokens(t *testing.T, got *Tokens, want Tokens) {
	t.Helper()
	if got == nil {
		t.Fatal("no tokens")
	}
	if !got.Expiry.Equal(want.Expiry) {
		t.Errorf("Expiry = %v, want %v", got.Expiry, want.Expiry)
	}
	g := *got
	g.Expiry = want.Expiry
	if g != want {
		t.Errorf("tokens = %+v, want %+v", g, want)
	}
}

// TestRecordReadsOlderForms: records the stores wrote before still load
// after an upgrade, with every field, their tokens in the clear (sealed on
// the session's next write).
func TestRecordReadsOlderForms(t *testing.T) {
	for _, file := range []string{
		"session-v1.bin",     // the embedded store's first binary form
		"session-redis.json", // the Redis store's JSON, also the embedded store's before its binary form
	} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			want, tokens := fixtureSession()
			got, err := UnmarshalSession(want.Key, data)
			if err != nil {
				t.Fatalf("UnmarshalSession: %v", err)
			}
			sameSession(t, got, want)
			sameTokens(t, got.tokens, tokens)
		})
	}
}

// TestRecordReadsTokensInTheClear: a tagged record whose tokens were not
// sealed yet loads them, and the next record written has them only sealed.
func TestRecordReadsTokensInTheClear(t *testing.T) {
	want, tokens := fixtureSession()
	data := MarshalSession(want)
	for tag, v := range map[uint64]string{12: tokens.IDToken, 13: tokens.AccessToken, 14: tokens.TokenType, 15: tokens.RefreshToken, 17: "old-csrf-token"} {
		data = binary.AppendUvarint(data, tag)
		data = binary.AppendUvarint(data, uint64(len(v)))
		data = append(data, v...)
	}
	got, err := UnmarshalSession(want.Key, data)
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	sameSession(t, got, want)
	tokens.Expiry = time.Time{}
	sameTokens(t, got.tokens, tokens)
	if again := MarshalSession(got); strings.Contains(string(again), tokens.RefreshToken) || strings.Contains(string(again), "old-csrf-token") {
		t.Errorf("a record written again holds tokens in the clear: %q", again)
	}
}

func TestRecordSkipsFieldsOfLaterVersions(t *testing.T) {
	want := fullSession(t)
	data := MarshalSession(want)
	data = binary.AppendUvarint(data, uint64(len(recordFields)+7))
	data = binary.AppendUvarint(data, 5)
	data = append(data, "later"...)
	got, err := UnmarshalSession(want.Key, data)
	if err != nil {
		t.Fatalf("a record with a field of a later version: %v", err)
	}
	sameSession(t, got, want)
}

func TestRecordRejectsDamage(t *testing.T) {
	full := fullSession(t)
	data := MarshalSession(full)
	// A record cut short either fails to decode or lacks whole fields; it
	// never decodes to a wrong value.
	for n := range len(data) {
		got, err := UnmarshalSession(full.Key, data[:n])
		if err != nil {
			continue
		}
		for _, f := range recordFields {
			switch {
			case f.str != nil:
				if g := *f.str(got); g != "" && g != *f.str(full) {
					t.Fatalf("cut to %d bytes: %s = %q", n, f.name, g)
				}
			case f.time != nil:
				if g := *f.time(got); !g.IsZero() && !g.Equal(*f.time(full)) {
					t.Fatalf("cut to %d bytes: %s = %v", n, f.name, g)
				}
			case f.list != nil:
				if g := *f.list(got); g != nil && !slices.Equal(g, *f.list(full)) {
					t.Fatalf("cut to %d bytes: %s = %q", n, f.name, g)
				}
			}
		}
	}
	for _, bad := range []string{"", "\x00", "\x03" + string(data[1:]), "\x02\x08\x01\x00", "\x02\x08\x02\x00\xff"} {
		if got, err := UnmarshalSession("k", []byte(bad)); err == nil {
			t.Errorf("record %q decoded as %+v", bad, got)
		}
	}
	if _, err := UnmarshalSession("k", []byte("\x02"+strings.Repeat("\xff", 20))); err == nil {
		t.Error("an overflowing varint decoded")
	}
}

// TestRecordRejectsBadFlagsAndLists: a flag is the byte 1 alone, and a
// list's strings fill its field exactly.
func TestRecordRejectsBadFlagsAndLists(t *testing.T) {
	for _, bad := range []string{
		"\x02\x13\x01\x00",     // User.EmailVerified as 0
		"\x02\x13\x02\x01\x01", // as two bytes
		"\x02\x15\x03\x05ab",   // User.Groups: a string longer than the field
	} {
		if got, err := UnmarshalSession("k", []byte(bad)); err == nil {
			t.Errorf("record %q decoded as %+v", bad, got.User)
		}
	}
	got, err := UnmarshalSession("k", []byte("\x02\x13\x01\x01\x15\x06\x02ab\x00\x01c"))
	if err != nil || !got.User.EmailVerified || !slices.Equal(got.User.Groups, []string{"ab", "", "c"}) {
		t.Errorf("good flag and list: %+v, %v", got.User, err)
	}
}
