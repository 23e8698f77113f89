package auth

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// fullSession has every field of Session set to a value of its own,
// found by reflection, so that a field added later and left out of the
// record fails the round trip.
func fullSession(t *testing.T) *Session {
	t.Helper()
	sess := &Session{}
	n := 0
	var fill func(v reflect.Value, name string)
	fill = func(v reflect.Value, name string) {
		n++
		switch v.Interface().(type) {
		case string:
			v.SetString(name + "-value")
		case time.Time:
			v.Set(reflect.ValueOf(time.Unix(1_700_000_000+int64(n), int64(n)*1_000_001)))
		default:
			if v.Kind() != reflect.Struct {
				t.Fatalf("session field %s has type %s, which the record does not know", name, v.Type())
			}
			for i := range v.NumField() {
				fill(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		}
	}
	fill(reflect.ValueOf(sess).Elem(), "Session")
	return sess
}

func TestRecordRoundTrip(t *testing.T) {
	want := fullSession(t)
	got, err := UnmarshalSession(want.Key, MarshalSession(want))
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}

	zero := &Session{Key: "k"}
	got, err = UnmarshalSession("k", MarshalSession(zero))
	if err != nil || !got.Tokens.Expiry.IsZero() || !got.CreatedAt.IsZero() || got.User.Subject != "" {
		t.Errorf("zero session round trip: %+v, %v", got, err)
	}
}

func TestRecordReadsJSON(t *testing.T) {
	want := fullSession(t)
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalSession("bucket-key", data)
	if err != nil {
		t.Fatalf("UnmarshalSession: %v", err)
	}
	if got.Key != "bucket-key" || got.User != want.User || got.CSRFToken != want.CSRFToken || !got.IdleUntil.Equal(want.IdleUntil) {
		t.Errorf("JSON record read as %+v", got)
	}
}

func TestRecordRejectsDamage(t *testing.T) {
	data := MarshalSession(fullSession(t))
	for n := range len(data) {
		if _, err := UnmarshalSession("k", data[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", n, len(data))
		}
	}
	if _, err := UnmarshalSession("k", append(data, 0)); err == nil {
		t.Error("a record with a byte too many decoded")
	}
	if _, err := UnmarshalSession("k", append([]byte{recordVersion + 1}, data[1:]...)); err == nil {
		t.Error("a record of an unknown version decoded")
	}
}
