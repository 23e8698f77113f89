// Package proxy is latchkey in front of an app: it decides which requests
// reach the app, and tells the app who is asking. It knows nothing of
// sessions, providers or pages: the caller looks up the session, turns it
// into an Identity, and renders latchkey's own pages.
//
// # Two ways in front of an app
//
// In proxy mode latchkey is the app's front door. For each request the
// caller does, in this order:
//
//  1. ParseRequest: the canonical path, and who is asking. A path that
//     cannot be canonicalised safely is refused (*PathError: 400, or 414
//     when too long).
//  2. PublicPaths.Match: a public path goes to the app with or without a
//     session.
//  3. Without a session, Request.Challenge answers: a navigation is sent
//     to the login with Request.ReturnTo as return_to (303); an htmx
//     request gets 401 with HX-Trigger (LoginRequiredEvent) and
//     HX-Redirect; anything else 401 with WWW-Authenticate (AuthScheme),
//     never a redirect.
//  4. Policy.Allows: a signed-in user who is not allowed gets latchkey's
//     403 page, which says why.
//  5. Proxy.Forward sends the request on, to the canonical path.
//
// In forward-auth mode a front server (nginx auth_request, Caddy
// forward_auth, Traefik forwardAuth) asks latchkey about each request it
// receives. ParseForwardAuth rebuilds that request; without a session
// Request.Challenge answers (never a 3xx to nginx, which turns it into a
// 500: Caddy and Traefik send X-Forwarded-Method, nginx does not); a user
// not allowed gets 403; an allowed one 200 with IdentityHeaders.Set on
// the answer, which the front server copies onto the app's request.
// Which locations need a session is then the front server's configuration.
//
// # Paths
//
// Access is decided on one canonical path, and the upstream is sent that
// path, so that what was matched is what the app acts on: percent-decoded,
// dot segments removed, repeated slashes merged (see CanonicalPath). What
// servers disagree about is refused rather than guessed at: encoded
// slashes and backslashes, raw backslashes, control characters, invalid
// UTF-8, double encoding, encoded ? and #, look-alikes of separators, and
// segments that Java or Windows servers would read as dot segments. A path
// is public only if every such reading of it matches a pattern; the
// pattern syntax is that of PublicPaths (/static/* is the subtree, * stays
// within a segment, ** spans segments).
//
// # What the app receives
//
// Every request has the client's copies of the identity headers removed,
// in any case and with underscores for dashes (X_Forwarded_User), along
// with the identity headers of oauth2-proxy, Authelia and Authentik, the
// client's Authorization when access tokens are passed, and latchkey's
// cookies. Then IdentityHeaders sets X-Forwarded-User (sub),
// X-Forwarded-Email, X-Forwarded-Preferred-Username and X-Forwarded-Groups
// (oauth2-proxy's names; see HeaderNames), Authorization: Bearer with
// the access token when asked to, and X-Latchkey-Assertion. A value that
// could not be sent as it is (control characters, invalid UTF-8,
// surrounding spaces, too long; a group with a comma) is left out, never
// altered, and logged. X-Forwarded-For, -Host and -Proto are set by
// httputil.ReverseProxy, and the client's forwarding headers are dropped
// in every spelling (X_Forwarded_For too, and -Port and -Prefix); the
// client's Host is kept unless Config.UpstreamHost is set. Nothing is
// added to the app's responses.
//
// The assertion is an ES256 JWT valid for AssertionLifetime (2 minutes),
// with iss (BASE_URL), aud (the upstream's origin), sub, email,
// email_verified, preferred_username, groups, sid (SessionID, a one-way
// hash of the session's store key), iat and exp, and the signing key's
// thumbprint as kid. Signer.JWKS publishes the keys. They are derived
// from the session secrets (SigningKeysFromSecrets), so that every
// instance sharing SESSION_SECRET signs and publishes alike, or read from
// a PEM file (ParseSigningKeys); the first key signs, all are published.
// A session's headers are made once and its assertion signed about once
// a minute, however many requests it makes. The example shows an app
// verifying the assertion with go-jose.
//
// # Upstreams
//
// ParseUpstream reads http://host:port[/base], https://host[/base] (HTTP/2
// when the app offers it) and Unix sockets: unix:/run/app.sock,
// unix:///run/app.sock, and, with a base path, unix:/run/app.sock:/base
// as in nginx, so a socket path cannot contain a colon. NewTransport keeps
// 256 idle connections and bounds connecting and the wait for response
// headers, but not the response itself: event streams and WebSockets last
// as long as they like. A failed request reaches Config.ErrorHandler as
// an *UpstreamError (Unreachable, Timeout, Broken); a client that went
// away is neither answered nor reported.
package proxy
