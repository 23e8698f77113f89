package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// ErrSessionEnded reports a session that had to end: its tokens could not
// be refreshed because the provider refused, or they do not open.
var ErrSessionEnded = errors.New("session ended: its tokens could not be refreshed or opened")

// ErrNoRefreshToken reports an expired access token that cannot be
// refreshed because the provider gave no refresh token.
var ErrNoRefreshToken = errors.New("access token expired and no refresh token")

// refresh asks the provider for new tokens with refreshToken. A refreshed
// ID token is verified like the first one and must name the same user;
// the tokens' IDToken is empty when the provider sent none.
func (p *Provider) refresh(ctx context.Context, refreshToken, subject, oldIDToken string) (Tokens, error) {
	c := p.conn.Load()
	if c == nil {
		return Tokens{}, &ProviderError{Reason: ReasonUnavailable, Err: ErrProviderUnavailable}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.rp.HttpClient())
	token, err := c.rp.OAuthConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Tokens{}, &ProviderError{Reason: classify(err), Err: fmt.Errorf("refresh tokens: %w", err)}
	}
	tokens := Tokens{AccessToken: token.AccessToken, TokenType: token.TokenType, RefreshToken: token.RefreshToken, Expiry: token.Expiry}
	idToken, _ := token.Extra("id_token").(string)
	if idToken == "" {
		return tokens, nil
	}
	want := idTokenWant{accessToken: token.AccessToken, refreshed: true, subject: subject, previous: oldIDToken}
	if _, err := p.verifyIDToken(ctx, c, idToken, want); err != nil {
		return Tokens{}, &ProviderError{Reason: ReasonInvalid, Err: fmt.Errorf("verify refreshed ID token: %w", err)}
	}
	tokens.IDToken = idToken
	return tokens, nil
}

// Refresher gives sessions a valid access token, refreshing it when it has
// expired — once per session, however many requests ask at the same time.
type Refresher struct {
	provider *Provider
	sessions *Sessions
	flight   singleflight.Group
}

// NewRefresher returns a Refresher.
func NewRefresher(provider *Provider, sessions *Sessions) *Refresher {
	return &Refresher{provider: provider, sessions: sessions}
}

// expiryMargin refreshes a little early, so a token does not expire on its
// way to the provider.
const expiryMargin = 30 * time.Second

func (r *Refresher) fresh(t Tokens) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || r.sessions.now().Add(expiryMargin).Before(t.Expiry))
}

// tokensOf opens sess's tokens. A session whose tokens do not open can
// neither refresh nor read userinfo: it is ended.
func (r *Refresher) tokensOf(ctx context.Context, sess *Session) (Tokens, error) {
	t, err := sess.Tokens()
	if errors.Is(err, errTokensUnreadable) {
		return Tokens{}, r.end(ctx, sess, err)
	}
	return t, err
}

// Fresh returns sess with an access token that has not expired. When the
// provider refuses the refresh, the session is ended and ErrSessionEnded
// returned. The returned session is shared: do not change it.
func (r *Refresher) Fresh(ctx context.Context, sess *Session) (*Session, error) {
	tokens, err := r.tokensOf(ctx, sess)
	if err != nil {
		return nil, err
	}
	if r.fresh(tokens) {
		return sess, nil
	}
	return r.renew(ctx, sess, "")
}

// Userinfo reads the user's profile from the provider with sess's access
// token, refreshed first when it has expired, and returns the session
// that token is in. When userinfo rejects the access token though it has
// not expired (RFC 6750, 3.1: revoked, or forgotten by a provider that
// restarted), the tokens are refreshed once, as Fresh does, and userinfo
// read again; a refresh the provider refuses ends the session.
func (r *Refresher) Userinfo(ctx context.Context, sess *Session) (*Session, User, error) {
	sess, err := r.Fresh(ctx, sess)
	if err != nil {
		return nil, User{}, err
	}
	user, err := r.provider.profile(ctx, sess)
	if !errors.Is(err, ErrAccessTokenRejected) {
		return sess, user, err
	}
	tokens, err := r.tokensOf(ctx, sess)
	if err != nil {
		return nil, User{}, err
	}
	if sess, err = r.renew(ctx, sess, tokens.AccessToken); err != nil {
		return nil, User{}, err
	}
	user, err = r.provider.profile(ctx, sess)
	return sess, user, err
}

// renew refreshes sess's tokens unless the session, read again, holds
// fresh ones other than the access token rejected ("" for none): one
// refresh per session at a time, whose result serves every request
// waiting for it.
func (r *Refresher) renew(ctx context.Context, sess *Session, rejected string) (*Session, error) {
	usable := func(t Tokens) bool { return r.fresh(t) && (rejected == "" || t.AccessToken != rejected) }
	for again := false; ; again = true {
		v, err, shared := r.flight.Do(sess.Key, func() (any, error) {
			return r.renewNow(ctx, sess, usable)
		})
		if err != nil {
			return nil, err
		}
		next := v.(*Session)
		// A refresh this request joined may have been one for an expired
		// access token, which found the rejected one fresh: then it asks
		// again, once.
		if t, err := next.Tokens(); err != nil || usable(t) || !shared || again {
			return next, nil
		}
	}
}

// renewNow is one refresh of sess's tokens, unless usable finds the ones
// the session holds now good enough.
func (r *Refresher) renewNow(ctx context.Context, sess *Session, usable func(Tokens) bool) (*Session, error) {
	// Detached from one caller's cancellation: the result serves all.
	ctx = context.WithoutCancel(ctx)
	// Another request, or another instance, may have refreshed already.
	current, err := r.sessions.Reload(ctx, sess)
	if err != nil {
		return nil, err
	}
	cur, err := r.tokensOf(ctx, current)
	if err != nil {
		return nil, err
	}
	if usable(cur) {
		return current, nil
	}
	if cur.RefreshToken == "" {
		// The session itself is still good; only a new login can get
		// tokens again.
		return nil, ErrNoRefreshToken
	}
	next, err := r.provider.refresh(ctx, cur.RefreshToken, current.User.Subject, cur.IDToken)
	var provErr *ProviderError
	if errors.As(err, &provErr) && provErr.Reason == ReasonInvalid {
		// Refused (invalid_grant, say). Another instance may have spent
		// the refresh token a moment ago: use its result if so.
		if again, loadErr := r.sessions.Reload(ctx, current); loadErr == nil {
			if t, err := again.Tokens(); err == nil && t.RefreshToken != cur.RefreshToken && r.fresh(t) {
				return again, nil
			}
		}
		return nil, r.end(ctx, current, err)
	}
	if err != nil {
		return nil, err
	}
	if next.RefreshToken == "" {
		next.RefreshToken = cur.RefreshToken // not rotated
	}
	if next.IDToken == "" {
		next.IDToken = cur.IDToken
	}
	// Only the tokens change, in the session as it is now: one that
	// ended while the provider answered stays ended.
	return r.sessions.updateTokens(ctx, current, next)
}

func (r *Refresher) end(ctx context.Context, sess *Session, cause error) error {
	if err := r.sessions.store.Delete(ctx, sess.Key); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrSessionEnded, cause)
}
