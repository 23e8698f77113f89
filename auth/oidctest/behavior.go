package oidctest

import (
	"net/http"
	"time"
)

// SecretErrorDescription is the error_description the provider sends whenever a Behavior makes it
// fail. It looks like leaked internals and carries markup, so a test can assert that the client
// neither shows nor echoes what a provider says in error descriptions.
const SecretErrorDescription = `internal error: db password=hunter2-oidctest host=10.0.0.7 <script>alert("oidctest")</script>`

// Behavior says how the provider misbehaves. The zero value is a correct provider.
type Behavior struct {
	// AuthorizeError, such as "access_denied", makes /authorize redirect back with this error,
	// SecretErrorDescription and the state instead of a code.
	AuthorizeError string
	// DiscoveryDown makes the discovery document answer 503, as if the provider were down.
	DiscoveryDown bool
	// DiscoveryIssuer replaces the issuer in the discovery document.
	DiscoveryIssuer string
	// IDToken changes the ID token claims before they are signed: delete "sub", append "1" to
	// "iss", "aud" or "nonce", move "iat" or "exp", add "azp", and so on. Claims are iss, sub,
	// aud, nonce and sid as string, and iat, exp and auth_time as int64 Unix seconds. It runs on
	// the server's goroutine, for authorization-code and refresh-token grants alike.
	IDToken func(claims map[string]any)
	// Sign chooses how ID tokens are signed.
	Sign SignMode
	// Kid, when not empty, replaces the kid header of ID tokens signed with a key (as Sign says),
	// as Ory Hydra and Authelia put the original key's kid on refreshed ID tokens signed with the
	// current key.
	Kid string
	// TokenStatus, when not zero, makes the token endpoint answer this status with an OAuth error
	// body, without using the code.
	TokenStatus int
	// TokenHang makes the token endpoint block until the client gives up or the provider closes.
	TokenHang bool
	// UserinfoSub, when not empty, replaces the sub claim in userinfo responses.
	UserinfoSub string
	// UserinfoStatus, when not zero, makes userinfo answer this status with an error body.
	UserinfoStatus int
	// AccessTokenLifetime, when not zero, is the access token lifetime the token endpoint announces
	// in expires_in, for authorization-code and refresh-token grants alike. It may be negative, to
	// hand out a token the client must treat as already expired and refresh before using. The
	// provider itself still accepts the token at userinfo for its usual hour, so a login can read
	// userinfo with it.
	AccessTokenLifetime time.Duration
	// RefreshError, such as "invalid_grant", makes refresh-token grants fail with this OAuth error
	// and SecretErrorDescription: status 401 for "invalid_client", 400 otherwise. The refresh
	// token is not used up.
	RefreshError string
	// JWKSStatus, when not zero, makes the JWKS endpoint answer this status with an error body
	// instead of the keys, as a provider whose key endpoint fails does.
	JWKSStatus int
	// IssParam replaces the iss parameter of authorization responses: "" sends the issuer when
	// WithIssParameter is on, "-" omits it, any other value is sent as given (even when
	// WithIssParameter is off).
	IssParam string
}

// SignMode is how the provider signs an ID token.
type SignMode int

// The ways to sign an ID token.
const (
	// SignValid signs with the current key and names it in the kid header.
	SignValid SignMode = iota
	// SignNone produces an unsigned token: alg "none" and an empty signature.
	SignNone
	// SignBadSignature signs correctly, then corrupts the last bytes of the signature.
	SignBadSignature
	// SignNoKid signs with the current key without a kid header, and the JWKS lists its keys
	// without kid either.
	SignNoKid
	// SignUnknownKey signs with a key, and a kid, that the JWKS does not contain.
	SignUnknownKey
	// SignHS256 signs with HMAC-SHA256 keyed with the client secret, which an RP must refuse
	// when it pins asymmetric algorithms.
	SignHS256
)

// String names the sign mode.
func (m SignMode) String() string {
	switch m {
	case SignValid:
		return "SignValid"
	case SignNone:
		return "SignNone"
	case SignBadSignature:
		return "SignBadSignature"
	case SignNoKid:
		return "SignNoKid"
	case SignUnknownKey:
		return "SignUnknownKey"
	case SignHS256:
		return "SignHS256"
	}
	return "SignMode(unknown)"
}

// errorCodeForStatus picks an OAuth error code that fits a forced status: unauthorized for 401,
// clientError for the other 4xx, and a server error code for 5xx.
func errorCodeForStatus(status int, unauthorized, clientError string) string {
	switch {
	case status == http.StatusUnauthorized:
		return unauthorized
	case status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	default:
		return clientError
	}
}
