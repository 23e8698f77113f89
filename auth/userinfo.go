package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ErrAccessTokenRejected reports that userinfo refused the access token
// with 401 (RFC 6750, 3.1: invalid_token), though it had not expired: the
// provider revoked it, or forgot it in a restart.
var ErrAccessTokenRejected = errors.New("access token rejected")

// maxUserinfoBytes bounds a userinfo response.
const maxUserinfoBytes = 1 << 20

// readUserinfo reads the userinfo endpoint with accessToken; its sub must
// be subject. Errors are *ProviderError: a 5xx or no answer is
// ReasonUnavailable, a 401 wraps ErrAccessTokenRejected.
func readUserinfo(ctx context.Context, c *connection, accessToken, tokenType, subject string) (*oidc.UserInfo, error) {
	fail := func(reason Reason, err error) error {
		return &ProviderError{Reason: reason, Err: fmt.Errorf("read userinfo: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.rp.UserinfoEndpoint(), nil)
	if err != nil {
		return nil, fail(ReasonInvalid, err)
	}
	req.Header.Set("Authorization", bearer(tokenType)+" "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.rp.HttpClient().Do(req)
	if err != nil {
		return nil, fail(classify(err), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfoBytes+1))
	switch {
	case err != nil:
		return nil, fail(classify(err), err)
	case resp.StatusCode == http.StatusUnauthorized:
		// The reason is in WWW-Authenticate (RFC 6750, 3), or in a body
		// some providers add.
		return nil, fail(ReasonInvalid, fmt.Errorf("%w: status %s, %.200q", ErrAccessTokenRejected, resp.Status, resp.Header.Get("WWW-Authenticate")))
	case resp.StatusCode >= 500:
		return nil, fail(ReasonUnavailable, fmt.Errorf("status %s", resp.Status))
	case resp.StatusCode != http.StatusOK:
		return nil, fail(ReasonInvalid, fmt.Errorf("status %s", resp.Status))
	case len(body) > maxUserinfoBytes:
		return nil, fail(ReasonInvalid, fmt.Errorf("response over %d bytes", maxUserinfoBytes))
	}
	var info oidc.UserInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fail(ReasonInvalid, fmt.Errorf("decode: %w", err))
	}
	if info.Subject != subject {
		return nil, fail(ReasonInvalid, rp.ErrUserInfoSubNotMatching)
	}
	return &info, nil
}

// userinfo reads the userinfo endpoint at login, whose sub must be the ID
// token's. A provider without one leaves the ID token's claims as the
// profile.
func (p *Provider) userinfo(ctx context.Context, c *connection, claims *oidc.IDTokenClaims, tokens Tokens) (*oidc.UserInfo, error) {
	if c.rp.UserinfoEndpoint() == "" {
		return &oidc.UserInfo{
			Subject:         claims.Subject,
			UserInfoProfile: claims.UserInfoProfile,
			UserInfoEmail:   claims.UserInfoEmail,
		}, nil
	}
	return readUserinfo(ctx, c, tokens.AccessToken, tokens.TokenType, claims.Subject)
}

// profile reads the provider's userinfo with sess's access token and
// returns the user it describes.
func (p *Provider) profile(ctx context.Context, sess *Session) (User, error) {
	c := p.conn.Load()
	if c == nil {
		return User{}, &ProviderError{Reason: ReasonUnavailable, Err: ErrProviderUnavailable}
	}
	if c.rp.UserinfoEndpoint() == "" {
		return sess.User, nil // as the ID token gave it at login
	}
	tokens, err := sess.Tokens()
	if err != nil {
		return User{}, fmt.Errorf("read userinfo: %w", err)
	}
	info, err := readUserinfo(ctx, c, tokens.AccessToken, tokens.TokenType, sess.User.Subject)
	if err != nil {
		return User{}, err
	}
	user, err := userFrom(sess.User.Subject, info)
	if err != nil {
		return User{}, err
	}
	// Groups only in the ID token stay what the login read.
	user.Groups = p.groups(ctx, user, nil, sess.User.Groups)
	return user, nil
}
