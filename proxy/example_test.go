package proxy_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"latchkey/proxy"
)

// user is who an app behind latchkey learns is asking.
type user struct {
	jwt.Claims
	Email  string   `json:"email"`
	Groups []string `json:"groups"`
}

// verifiedUser checks the assertion latchkey sent with r: signed by one
// of latchkey's keys, by latchkey, for this app, and not expired.
func verifiedUser(r *http.Request, keys *jose.JSONWebKeySet) (*user, error) {
	tok, err := jwt.ParseSigned(r.Header.Get("X-Latchkey-Assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, err
	}
	var u user
	if err := tok.Claims(keys, &u); err != nil {
		return nil, err
	}
	return &u, u.Validate(jwt.Expected{
		Issuer:      "https://login.example.com",           // latchkey's BASE_URL
		AnyAudience: jwt.Audience{"http://127.0.0.1:8080"}, // its UPSTREAM: this app
	})
}

// An app behind latchkey verifies who is asking instead of trusting the
// network: it reads latchkey's keys from /.latchkey/jwks.json (again
// when an assertion names a key it does not know, after a rotation) and
// checks the assertion of each request with go-jose.
func Example_verifyAssertion() {
	// latchkey's side: its key set, and a request it sends to the app.
	keys, _ := proxy.SigningKeysFromSecrets([]string{"the SESSION_SECRET, of 32 characters or more"})
	signer, _ := proxy.NewSigner("https://login.example.com", keys)
	latchkey := httptest.NewServer(signer.JWKS())
	defer latchkey.Close()
	ids, _ := proxy.NewIdentityHeaders(proxy.IdentityConfig{Signer: signer, Audience: "http://127.0.0.1:8080"})
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/", nil)
	ids.Set(r.Header, &proxy.Identity{SessionKey: "k", Subject: "ada", Email: "ada@example.com", EmailVerified: true, Groups: []string{"staff"}})

	// The app's side: fetch the keys, then check each request.
	resp, err := http.Get(latchkey.URL) // https://login.example.com/.latchkey/jwks.json
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		log.Fatal(err)
	}

	if u, err := verifiedUser(r, &jwks); err == nil {
		fmt.Println(u.Subject, u.Email, u.Groups)
	}
	r.Header.Set("X-Latchkey-Assertion", "forged")
	if _, err := verifiedUser(r, &jwks); err != nil {
		fmt.Println("forged: refused")
	}
	// Output:
	// ada ada@example.com [staff]
	// forged: refused
}

// The proxy route, as the handlers build it from this package. The
// session lookup and the pages are the handlers' own; here they are
// stand-ins.
func ExampleProxy_Forward() {
	upstream, err := proxy.ParseUpstream("http://127.0.0.1:8080")
	if err != nil {
		log.Fatal(err) // a configuration error naming UPSTREAM
	}
	ids, _ := proxy.NewIdentityHeaders(proxy.IdentityConfig{})
	p, _ := proxy.New(proxy.Config{
		Upstream:  upstream,
		Identity:  ids,
		OwnCookie: func(name string) bool { return name == "latchkey" || name == "__Host-latchkey" },
	})
	public, _ := proxy.ParsePublicPaths([]string{"/static/*", "/favicon.ico", "/healthz"})
	policy, _ := proxy.NewPolicy(proxy.PolicyConfig{EmailDomains: []string{"example.com"}})
	session := func(r *http.Request) *proxy.Identity { return nil }
	forbidden := func(w http.ResponseWriter, r *http.Request, id *proxy.Identity, reason string) {
		http.Error(w, "Signed in as "+id.Email+", but "+reason+".", http.StatusForbidden)
	}

	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := proxy.ParseRequest(r)
		if err != nil {
			status := err.(*proxy.PathError).Status()
			http.Error(w, http.StatusText(status), status)
			return
		}
		id := session(r)
		switch {
		case public.Match(q.Path):
		case id == nil:
			q.WriteChallenge(w, "/.latchkey/login?return_to="+url.QueryEscape(q.ReturnTo()), "app.example.com")
			return
		default:
			if ok, reason := policy.Allows(id); !ok {
				forbidden(w, r, id, reason)
				return
			}
		}
		p.Forward(w, r, q.Path, id)
	})
	_ = route
}
