package auth

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Every request with a session reads its record from the store, so stores
// keep sessions in a compact binary form that decodes without parsing: a
// version byte, then each field of Session but the key, in a fixed order.
// Strings are a uvarint length and their bytes; times are varint Unix
// seconds and uvarint nanoseconds. Records from before this form are JSON
// objects, and still read.
const recordVersion = 1

// errBadRecord reports a session record that is cut short or of an
// unknown version.
var errBadRecord = errors.New("malformed session record")

// MarshalSession returns the record a store keeps for sess.
func MarshalSession(sess *Session) []byte {
	u, t := &sess.User, &sess.Tokens
	strs := []string{u.Subject, u.Name, u.Email, u.Picture, u.ClaimsJSON, sess.IDToken,
		t.AccessToken, t.TokenType, t.RefreshToken, sess.ProviderSID, sess.CSRFToken, sess.UserAgent}
	size := 1 + 5*2*binary.MaxVarintLen64
	for _, s := range strs {
		size += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 0, size)
	b = append(b, recordVersion)
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, tm := range []time.Time{t.Expiry, sess.CreatedAt, sess.LastSeen, sess.IdleUntil, sess.ExpiresAt} {
		b = binary.AppendVarint(b, tm.Unix())
		b = binary.AppendUvarint(b, uint64(tm.Nanosecond()))
	}
	return b
}

// UnmarshalSession decodes the record of the session stored under key.
func UnmarshalSession(key string, data []byte) (*Session, error) {
	if len(data) > 0 && data[0] == '{' {
		var sess Session
		if err := json.Unmarshal(data, &sess); err != nil {
			return nil, err
		}
		sess.Key = key
		return &sess, nil
	}
	if len(data) == 0 || data[0] != recordVersion {
		return nil, errBadRecord
	}
	// One copy of the record; every string field is a part of it.
	r := recordReader{rest: string(data[1:])}
	sess := &Session{Key: key}
	u, t := &sess.User, &sess.Tokens
	for _, s := range []*string{&u.Subject, &u.Name, &u.Email, &u.Picture, &u.ClaimsJSON, &sess.IDToken,
		&t.AccessToken, &t.TokenType, &t.RefreshToken, &sess.ProviderSID, &sess.CSRFToken, &sess.UserAgent} {
		*s = r.string()
	}
	for _, tm := range []*time.Time{&t.Expiry, &sess.CreatedAt, &sess.LastSeen, &sess.IdleUntil, &sess.ExpiresAt} {
		*tm = r.time()
	}
	if r.bad || r.rest != "" {
		return nil, errBadRecord
	}
	return sess, nil
}

// recordReader reads a record's fields in turn; bad says one was cut short.
type recordReader struct {
	rest string
	bad  bool
}

func (r *recordReader) uvarint() uint64 {
	v, n := uvarint(r.rest)
	if n <= 0 {
		r.bad, r.rest = true, ""
		return 0
	}
	r.rest = r.rest[n:]
	return v
}

func (r *recordReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.rest)) {
		r.bad, r.rest = true, ""
		return ""
	}
	s := r.rest[:n]
	r.rest = r.rest[n:]
	return s
}

func (r *recordReader) time() time.Time {
	u := r.uvarint()
	sec := int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint writes it
	nsec := r.uvarint()
	if nsec >= uint64(time.Second) {
		r.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

// uvarint is binary.Uvarint for a string, which saves copying the record
// back into bytes.
func uvarint(s string) (uint64, int) {
	var v uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1 // overflow
			}
			return v | uint64(c)<<shift, i + 1
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
