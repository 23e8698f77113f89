package auth

import (
	"encoding/json"
	"time"
)

// The forms session records had before the tagged one, which stores may
// still hold after an upgrade. They are only ever read, and the fixtures in
// testdata are records written by those versions. They hold the tokens in
// the clear, which Sessions seals on the session's next write, and a CSRF
// token, now derived from the cookie's id instead.

// formatOrdered is the first binary form: the format byte, then twelve
// strings and five times in a fixed order.
const formatOrdered = 1

// unmarshalOrdered decodes a record of formatOrdered.
func unmarshalOrdered(key string, data []byte) (*Session, error) {
	r := recordReader{rest: string(data[1:])}
	sess := &Session{Key: key}
	u, t := &sess.User, sess.legacyTokens()
	var csrf string // now derived from the cookie's id
	for _, s := range []*string{&u.Subject, &u.Name, &u.Email, &u.Picture, &u.ClaimsJSON, &t.IDToken,
		&t.AccessToken, &t.TokenType, &t.RefreshToken, &sess.ProviderSID, &csrf, &sess.UserAgent} {
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

// jsonRecord is a session as the stores kept it in JSON: the embedded
// store before its binary form, the Redis store before it took the
// binary form too.
type jsonRecord struct {
	User struct {
		Subject    string `json:"sub"`
		Name       string `json:"name"`
		Email      string `json:"email"`
		Picture    string `json:"picture"`
		ClaimsJSON string `json:"claims_json"`
	} `json:"user"`
	IDToken string `json:"id_token"`
	Tokens  struct {
		AccessToken  string    `json:"access_token"`
		TokenType    string    `json:"token_type"`
		RefreshToken string    `json:"refresh_token"`
		Expiry       time.Time `json:"expiry"`
	} `json:"tokens"`
	ProviderSID string    `json:"sid"`
	UserAgent   string    `json:"user_agent"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeen    time.Time `json:"last_seen"`
	IdleUntil   time.Time `json:"idle_until"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// unmarshalJSON decodes a JSON record. The key it holds is not trusted:
// the record is the session stored under key.
func unmarshalJSON(key string, data []byte) (*Session, error) {
	var j jsonRecord
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, errBadRecord
	}
	return &Session{
		Key: key,
		User: User{
			Subject:    j.User.Subject,
			Name:       j.User.Name,
			Email:      j.User.Email,
			Picture:    j.User.Picture,
			ClaimsJSON: j.User.ClaimsJSON,
		},
		ProviderSID: j.ProviderSID,
		UserAgent:   j.UserAgent,
		CreatedAt:   j.CreatedAt,
		LastSeen:    j.LastSeen,
		IdleUntil:   j.IdleUntil,
		ExpiresAt:   j.ExpiresAt,
		tokens: &Tokens{
			IDToken:      j.IDToken,
			AccessToken:  j.Tokens.AccessToken,
			TokenType:    j.Tokens.TokenType,
			RefreshToken: j.Tokens.RefreshToken,
			Expiry:       j.Tokens.Expiry,
		},
	}, nil
}
