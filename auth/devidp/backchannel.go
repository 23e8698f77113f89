package devidp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// backChannelLogoutEvent is the "events" member that makes a JWT a logout
// token (Back-Channel Logout 1.0, section 2.4).
const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenType is the "typ" header of a logout token (Back-Channel
// Logout 1.0, section 2.4; it keeps the token from passing for an ID token).
const logoutTokenType = "logout+jwt"

// logoutTokenLifetime is how long a logout token is valid after it is issued.
const logoutTokenLifetime = 2 * time.Minute

// backChannelTimeout bounds a delivery when Config.HTTPClient is nil.
const backChannelTimeout = 5 * time.Second

// backChannel tells the client that a provider session has ended, by POSTing
// a signed logout token to its back-channel logout URI (Back-Channel Logout
// 1.0, sections 2.4 and 2.5).
type backChannel struct {
	uri    string
	issuer string
	key    *signingKey
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
}

// defaultBackChannelClient gives up after backChannelTimeout and follows no
// redirects: a client's back-channel endpoint answers the POST itself.
func defaultBackChannelClient() *http.Client {
	return &http.Client{
		Timeout: backChannelTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// logout delivers a logout token for sess and waits for the answer, so the
// client has ended its session before the browser comes back to it. A
// failure is logged and otherwise ignored: it must not stop the logout.
func (b *backChannel) logout(ctx context.Context, sess session) {
	if err := b.deliver(ctx, sess); err != nil {
		b.log.LogAttrs(ctx, slog.LevelWarn, "development identity provider back-channel logout failed",
			slog.String("uri", b.uri), slog.String("user", sess.subject), slog.Any("error", err))
		return
	}
	b.log.LogAttrs(ctx, slog.LevelInfo, "development identity provider back-channel logout delivered",
		slog.String("uri", b.uri), slog.String("user", sess.subject))
}

func (b *backChannel) deliver(ctx context.Context, sess session) error {
	token, err := b.logoutToken(sess)
	if err != nil {
		return fmt.Errorf("sign logout token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.uri,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("build back-channel logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("post logout token: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post logout token: status %d", resp.StatusCode)
	}
	return nil
}

// logoutToken signs a logout token for sess with the provider's key: iss,
// aud, iat, exp, jti, sid, sub and the logout event; never a nonce.
func (b *backChannel) logoutToken(sess session) (string, error) {
	issued := b.now()
	claims := &oidc.LogoutTokenClaims{
		Issuer:     b.issuer,
		Subject:    sess.subject,
		Audience:   oidc.Audience{sess.clientID},
		IssuedAt:   oidc.FromTime(issued),
		Expiration: oidc.FromTime(issued.Add(logoutTokenLifetime)),
		JWTID:      rand.Text(),
		SessionID:  sess.id,
		Events:     map[string]any{backChannelLogoutEvent: struct{}{}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: b.key.SignatureAlgorithm(), Key: &jose.JSONWebKey{Key: b.key.Key(), KeyID: b.key.ID()}},
		(&jose.SignerOptions{}).WithType(logoutTokenType),
	)
	if err != nil {
		return "", fmt.Errorf("create signer: %w", err)
	}
	signed, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signed.CompactSerialize()
}
