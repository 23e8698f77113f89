package auth

import (
	"encoding/binary"
	"errors"
	"time"
)

// Every request with a session reads its record from the store, so every
// store keeps sessions in one compact binary form that decodes without
// parsing: a format byte, then fields, each a uvarint tag, a uvarint length
// and that many bytes. A string's bytes are the string; a time's are its
// varint Unix seconds and uvarint nanoseconds; a flag's, the byte 1; a
// list's, each string as a uvarint length and its bytes. Empty fields
// (false, no strings) are left out, and tags a decoder does not know are
// skipped.
//
// recordFields lists the fields with their tags, and both the encoder and
// the decoder read it: adding a field to Session is adding a row at its end
// (a test fails while a field of Session has no row). A tag is never
// reused, so records written before a change keep their meaning after it.
//
// Records of the forms used before this one still decode: see
// record_legacy.go.
const formatTagged = 2

// errBadRecord reports a session record that is cut short, or of an
// unknown form.
var errBadRecord = errors.New("malformed session record")

// field is one row of a record's field table: where a value of type T
// keeps the field.
type field[T any] struct {
	// tag is the field's number in the record: its row's position in the
	// table, counting from 1.
	tag uint64
	// name is the field's path in T (e.g. "User.Email"), by which the
	// table's test checks that every field of T has a row.
	name string
	// Exactly one of str, time, flag and list is set, but in a row whose
	// tag is retired and no longer means anything.
	str  func(*T) *string
	time func(*T) *time.Time
	flag func(*T) *bool
	list func(*T) *[]string
	// readOnly rows hold a field of old records, which the decoder still
	// reads but the encoder no longer writes.
	readOnly bool
}

// recordFields are the fields of a session record. Rows are only ever
// added at the end.
var recordFields = []field[Session]{
	{tag: 1, name: "User.Subject", str: func(s *Session) *string { return &s.User.Subject }},
	{tag: 2, name: "User.Name", str: func(s *Session) *string { return &s.User.Name }},
	{tag: 3, name: "User.Email", str: func(s *Session) *string { return &s.User.Email }},
	{tag: 4, name: "User.Picture", str: func(s *Session) *string { return &s.User.Picture }},
	{tag: 5, name: "User.ClaimsJSON", str: func(s *Session) *string { return &s.User.ClaimsJSON }},
	{tag: 6, name: "ProviderSID", str: func(s *Session) *string { return &s.ProviderSID }},
	{tag: 7, name: "UserAgent", str: func(s *Session) *string { return &s.UserAgent }},
	{tag: 8, name: "CreatedAt", time: func(s *Session) *time.Time { return &s.CreatedAt }},
	{tag: 9, name: "LastSeen", time: func(s *Session) *time.Time { return &s.LastSeen }},
	{tag: 10, name: "IdleUntil", time: func(s *Session) *time.Time { return &s.IdleUntil }},
	{tag: 11, name: "ExpiresAt", time: func(s *Session) *time.Time { return &s.ExpiresAt }},
	// 12 to 16 are the tokens in the clear, as records kept them before
	// they were sealed (tag 18); they are read, and sealed on the next
	// write of the session.
	{tag: 12, name: "tokens.IDToken", readOnly: true, str: func(s *Session) *string { return &s.legacyTokens().IDToken }},
	{tag: 13, name: "tokens.AccessToken", readOnly: true, str: func(s *Session) *string { return &s.legacyTokens().AccessToken }},
	{tag: 14, name: "tokens.TokenType", readOnly: true, str: func(s *Session) *string { return &s.legacyTokens().TokenType }},
	{tag: 15, name: "tokens.RefreshToken", readOnly: true, str: func(s *Session) *string { return &s.legacyTokens().RefreshToken }},
	{tag: 16, name: "tokens.Expiry", readOnly: true, time: func(s *Session) *time.Time { return &s.legacyTokens().Expiry }},
	// 17 was the CSRF token, now derived from the cookie's id.
	{tag: 17, name: "CSRFToken", readOnly: true},
	{tag: 18, name: "sealed", str: func(s *Session) *string { return &s.sealed }},
	{tag: 19, name: "User.EmailVerified", flag: func(s *Session) *bool { return &s.User.EmailVerified }},
	{tag: 20, name: "User.PreferredUsername", str: func(s *Session) *string { return &s.User.PreferredUsername }},
	{tag: 21, name: "User.Groups", list: func(s *Session) *[]string { return &s.User.Groups }},
}

// MarshalSession returns the record a store keeps for sess: its tokens
// only as sealed, and neither its CSRF token nor anything else the cookie
// gives. The key is not part of it: stores keep the record under the key.
func MarshalSession(sess *Session) []byte {
	b := make([]byte, 0, 1+fieldsSize(sess, recordFields))
	b = append(b, formatTagged)
	return appendFields(b, sess, recordFields)
}

// UnmarshalSession decodes the record of the session stored under key.
func UnmarshalSession(key string, data []byte) (*Session, error) {
	if len(data) == 0 {
		return nil, errBadRecord
	}
	switch data[0] {
	case formatTagged:
	case formatOrdered:
		return unmarshalOrdered(key, data)
	case '{':
		return unmarshalJSON(key, data)
	default:
		return nil, errBadRecord
	}
	// One copy of the record; every string field is a part of it.
	r := recordReader{rest: string(data[1:])}
	sess := &Session{Key: key}
	readFields(&r, sess, recordFields)
	if r.bad {
		return nil, errBadRecord
	}
	return sess, nil
}

// fieldsSize is at least the size of v's encoded fields.
func fieldsSize[T any](v *T, fields []field[T]) int {
	n := 0
	for i := range fields {
		f := &fields[i]
		switch {
		case f.readOnly:
		case f.str != nil:
			if s := *f.str(v); s != "" {
				n += 2*binary.MaxVarintLen64 + len(s)
			}
		case f.time != nil:
			n += 4 * binary.MaxVarintLen64
		case f.flag != nil:
			n += 3
		case f.list != nil:
			if l := *f.list(v); len(l) > 0 {
				n += 2 * binary.MaxVarintLen64
				for _, s := range l {
					n += binary.MaxVarintLen64 + len(s)
				}
			}
		}
	}
	return n
}

// appendFields appends v's fields, but the empty ones, to b.
func appendFields[T any](b []byte, v *T, fields []field[T]) []byte {
	for i := range fields {
		f := &fields[i]
		switch {
		case f.readOnly:
		case f.str != nil:
			s := *f.str(v)
			if s == "" {
				continue
			}
			b = binary.AppendUvarint(b, f.tag)
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		case f.time != nil:
			t := *f.time(v)
			if t.IsZero() {
				continue
			}
			var tm [2 * binary.MaxVarintLen64]byte
			n := binary.PutVarint(tm[:], t.Unix())
			n += binary.PutUvarint(tm[n:], uint64(t.Nanosecond()))
			b = binary.AppendUvarint(b, f.tag)
			b = binary.AppendUvarint(b, uint64(n))
			b = append(b, tm[:n]...)
		case f.flag != nil:
			if *f.flag(v) {
				b = append(binary.AppendUvarint(b, f.tag), 1, 1)
			}
		case f.list != nil:
			l := *f.list(v)
			if len(l) == 0 {
				continue
			}
			size := 0
			for _, s := range l {
				size += uvarintLen(uint64(len(s))) + len(s)
			}
			b = binary.AppendUvarint(b, f.tag)
			b = binary.AppendUvarint(b, uint64(size))
			for _, s := range l {
				b = binary.AppendUvarint(b, uint64(len(s)))
				b = append(b, s...)
			}
		}
	}
	return b
}

// uvarintLen is how many bytes binary.AppendUvarint writes for v.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// readFields reads fields into v until the record ends; r.bad says it was
// damaged.
func readFields[T any](r *recordReader, v *T, fields []field[T]) {
	for r.rest != "" && !r.bad {
		tag := r.uvarint()
		payload := r.string()
		if r.bad {
			return
		}
		if tag == 0 || tag > uint64(len(fields)) {
			continue // a field of a later version
		}
		f := &fields[tag-1]
		switch {
		case f.str != nil:
			*f.str(v) = payload
		case f.time != nil:
			t := recordReader{rest: payload}
			*f.time(v) = t.time()
			if t.bad || t.rest != "" {
				r.bad = true
			}
		case f.flag != nil:
			if payload != "\x01" {
				r.bad = true
			}
			*f.flag(v) = true
		case f.list != nil:
			l := recordReader{rest: payload}
			var list []string
			for l.rest != "" && !l.bad {
				list = append(list, l.string())
			}
			if l.bad {
				r.bad = true
			}
			*f.list(v) = list
		}
	}
}

// recordReader reads a record's values in turn; bad says one was cut
// short.
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
