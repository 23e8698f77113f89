package proxy

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"
)

// Identity is who is signed in, as latchkey tells the app.
type Identity struct {
	// SessionKey is latchkey's key of the session in its store. It is
	// never sent: it keys the cache of ready-made headers, and the app
	// receives a one-way hash of it as the assertion's sid. Without it
	// nothing is cached: the headers are made, and the assertion
	// signed, for every request.
	SessionKey        string
	Subject           string
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Groups            []string
	// AccessToken is sent as Authorization: Bearer when access tokens
	// are passed; empty: no Authorization header at all.
	AccessToken string
}

// HeaderNames are the names of the headers set on the app's requests.
// An empty name sends no such header (the name of another field still
// strips a client's copy of it).
type HeaderNames struct {
	User              string // the subject (sub)
	Email             string
	PreferredUsername string
	Groups            string // comma-separated
	Assertion         string // the signed assertion
}

// DefaultHeaderNames returns the names oauth2-proxy uses, so that apps
// written for it work unchanged, and X-Latchkey-Assertion.
func DefaultHeaderNames() HeaderNames {
	return HeaderNames{
		User:              "X-Forwarded-User",
		Email:             "X-Forwarded-Email",
		PreferredUsername: "X-Forwarded-Preferred-Username",
		Groups:            "X-Forwarded-Groups",
		Assertion:         "X-Latchkey-Assertion",
	}
}

// alsoStripped are identity headers other login proxies set, which an
// app moved from behind one of them may still trust: oauth2-proxy's
// access token and auth_request headers, and the Remote-* headers of
// Authelia and Authentik.
var alsoStripped = []string{
	"X-Forwarded-Access-Token",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Preferred-Username",
	"X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
	"Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
}

// Bounds on what is sent. A longer value is dropped, not cut, so that
// the app never reads a different name than the provider gave.
const (
	maxValueBytes    = 1024     // user, email, username, one group
	maxGroupsBytes   = 8 << 10  // the comma-joined groups
	maxTokenBytes    = 16 << 10 // an access token
	defaultCacheSize = 4096
)

// IdentityConfig configures IdentityHeaders.
type IdentityConfig struct {
	// Names are the header names; the zero value means
	// DefaultHeaderNames.
	Names HeaderNames
	// PassAccessToken sends Identity.AccessToken as Authorization:
	// Bearer, and strips the client's Authorization header.
	PassAccessToken bool
	// Signer signs the assertion sent as Names.Assertion; nil: none is
	// sent.
	Signer *Signer
	// Audience is the assertion's aud, naming the app: the upstream's
	// Origin in proxy mode. Required with Signer.
	Audience string
	// CacheSize bounds the sessions whose headers are kept ready.
	// Default 4096.
	CacheSize int
	// Log receives a warning when a value from the provider cannot be
	// sent; nil: discarded.
	Log *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// IdentityHeaders strips what clients send to pass as someone, and sets
// who is signed in on requests to the app (in proxy mode) or on the
// answer to a front server's check (in forward-auth mode). The headers of
// a session are made once and reused while its identity stays the same,
// and its assertion is signed again when it has less than a minute left:
// about once a minute for an active session. It is safe for concurrent
// use.
type IdentityHeaders struct {
	names   [5]string // canonical: user, email, username, groups, assertion
	passTok bool
	signer  *Signer
	aud     string
	strip   foldedNames
	cache   *passportCache
	flight  singleflight.Group
	log     *slog.Logger
	now     func() time.Time
}

const (
	hUser = iota
	hEmail
	hUsername
	hGroups
	hAssertion
)

// NewIdentityHeaders checks the header names and returns IdentityHeaders.
func NewIdentityHeaders(cfg IdentityConfig) (*IdentityHeaders, error) {
	names := cfg.Names
	if names == (HeaderNames{}) {
		names = DefaultHeaderNames()
	}
	ih := &IdentityHeaders{passTok: cfg.PassAccessToken, signer: cfg.Signer, aud: cfg.Audience, log: cfg.Log, now: cfg.Now}
	switch {
	case cfg.Signer != nil && cfg.Audience == "":
		return nil, errors.New("identity headers: the assertion needs an audience")
	case cfg.Signer != nil && names.Assertion == "":
		return nil, errors.New("identity headers: the assertion needs a header name")
	}
	if ih.log == nil {
		ih.log = slog.New(slog.DiscardHandler)
	}
	if ih.now == nil {
		ih.now = time.Now
	}
	seen := map[string]bool{}
	for i, name := range []string{names.User, names.Email, names.PreferredUsername, names.Groups, names.Assertion} {
		if name == "" {
			continue
		}
		if err := checkHeaderName(name); err != nil {
			return nil, err
		}
		key := foldName(name)
		if seen[key] {
			return nil, fmt.Errorf("header name %q is given twice", name)
		}
		seen[key] = true
		ih.names[i] = textproto.CanonicalMIMEHeaderKey(name)
	}
	d := DefaultHeaderNames()
	stripped := append([]string{names.User, names.Email, names.PreferredUsername, names.Groups, names.Assertion,
		d.User, d.Email, d.PreferredUsername, d.Groups, d.Assertion}, alsoStripped...)
	if cfg.PassAccessToken {
		stripped = append(stripped, "Authorization")
	}
	for _, name := range stripped {
		ih.strip.add(name)
	}
	size := cfg.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	ih.cache = newPassportCache(size)
	return ih, nil
}

// reservedHeaders may not be used for identity: they carry the request
// itself, or are set by the proxy.
var reservedHeaders = []string{
	"Authorization", "Connection", "Content-Length", "Content-Type", "Cookie", "Host",
	"Keep-Alive", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
}

func checkHeaderName(name string) error {
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("header name %q is not a valid header name", name)
		}
	}
	for _, r := range reservedHeaders {
		if foldName(r) == foldName(name) {
			return fmt.Errorf("header name %q is reserved for the request itself", name)
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in a header name (RFC 9110
// token).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// foldName is a header name as stripping compares it: lower case, with
// '_' as '-', since some servers behind a proxy read X_Forwarded_User as
// X-Forwarded-User.
func foldName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// sameFolded reports whether key folds to folded, without allocating.
// It compares from the end: the names share prefixes (X-Forwarded-).
func sameFolded(key, folded string) bool {
	if len(key) != len(folded) {
		return false
	}
	for i := len(key) - 1; i >= 0; i-- {
		c := key[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != folded[i] {
			return false
		}
	}
	return true
}

// foldedNames is a set of header names matched in any spelling, kept by
// length as foldName makes them.
type foldedNames struct{ byLen [][]string }

func (f *foldedNames) add(name string) {
	if name == "" {
		return
	}
	key := foldName(name)
	for len(f.byLen) <= len(key) {
		f.byLen = append(f.byLen, nil)
	}
	if !slices.Contains(f.byLen[len(key)], key) {
		f.byLen[len(key)] = append(f.byLen[len(key)], key)
	}
}

// names returns every name of the set, folded.
func (f *foldedNames) names() []string {
	var all []string
	for _, names := range f.byLen {
		all = append(all, names...)
	}
	return all
}

// strip removes from h the headers whose names are in the set.
func (f *foldedNames) strip(h http.Header) {
	for key := range h {
		if len(key) >= len(f.byLen) {
			continue
		}
		for _, folded := range f.byLen[len(key)] {
			if sameFolded(key, folded) {
				delete(h, key)
				break
			}
		}
	}
}

// Strip removes from h every header that latchkey sets or that passes
// identity to apps, in any spelling: any case, and with underscores for
// dashes.
func (ih *IdentityHeaders) Strip(h http.Header) { ih.strip.strip(h) }

// Set strips h (see Strip), then sets the headers of id; a nil id only
// strips. Values that could not be sent as they are (control characters,
// invalid UTF-8, leading or trailing spaces, too long) are left out, and
// logged when the session's headers are made.
func (ih *IdentityHeaders) Set(h http.Header, id *Identity) {
	ih.Strip(h)
	ih.set(h, id)
}

// SetAll is Set for the answer to a front server's check: every header
// is there, empty when id gives it no value. A front server that copies
// the headers of the answer onto the app's request then replaces the
// client's copies with nothing, rather than keeping them or, as Caddy
// 2.6's copy_headers does for a header the answer lacks, sending the name
// of a placeholder.
func (ih *IdentityHeaders) SetAll(h http.Header, id *Identity) {
	ih.Set(h, id)
	for _, name := range ih.names {
		if name != "" && h[name] == nil {
			h[name] = emptyValue
		}
	}
	if ih.passTok && h["Authorization"] == nil {
		h["Authorization"] = emptyValue
	}
}

// emptyValue is an empty header value; shared, never modified.
var emptyValue = []string{""}

// set sets the headers of id on h, already stripped.
func (ih *IdentityHeaders) set(h http.Header, id *Identity) {
	if id == nil {
		return
	}
	p := ih.passport(id)
	for i, v := range p.values {
		if v != nil && ih.names[i] != "" {
			h[ih.names[i]] = v
		}
	}
	if p.authorization != nil {
		h["Authorization"] = p.authorization
	}
}

// passport holds the ready-made header values of one session. It is
// never changed once made: a request that finds it out of date makes a
// new one.
type passport struct {
	id            Identity // what it was made from, Groups copied
	values        [5][]string
	authorization []string
	expires       time.Time // of the assertion
}

// matches reports whether p was made from an identity equal to id.
func (p *passport) matches(id *Identity) bool {
	a := &p.id
	return a.Subject == id.Subject && a.Email == id.Email && a.EmailVerified == id.EmailVerified &&
		a.PreferredUsername == id.PreferredUsername && a.AccessToken == id.AccessToken &&
		slices.Equal(a.Groups, id.Groups)
}

// usable reports whether p can be sent for id at now.
func (p *passport) usable(id *Identity, now time.Time, signed bool) bool {
	return p.matches(id) && (!signed || p.expires.Sub(now) >= assertionReuse)
}

// passport returns the headers of id, made once per session and kept
// while they stay usable.
func (ih *IdentityHeaders) passport(id *Identity) *passport {
	now := ih.now()
	key := id.SessionKey
	if key == "" {
		return ih.make(id, nil, now)
	}
	if p := ih.cache.get(key); p != nil && p.usable(id, now, ih.signer != nil) {
		return p
	}
	// Concurrent requests of one session make its headers once.
	v, _, _ := ih.flight.Do(key, func() (any, error) {
		old := ih.cache.get(key)
		if old != nil && old.usable(id, now, ih.signer != nil) {
			return old, nil
		}
		p := ih.make(id, old, now)
		ih.cache.put(key, p)
		return p, nil
	})
	if p := v.(*passport); p.usable(id, now, ih.signer != nil) {
		return p
	}
	// Another request of the session was making headers for a different
	// identity (a refresh changed it meanwhile).
	return ih.make(id, nil, now)
}

// make makes the headers of id, reusing the values of old when it was
// made from the same identity, and signs its assertion.
func (ih *IdentityHeaders) make(id *Identity, old *passport, now time.Time) *passport {
	p := &passport{id: *id}
	p.id.Groups = slices.Clone(id.Groups)
	same := old != nil && old.matches(id)
	if same {
		p.values, p.authorization = old.values, old.authorization
	} else {
		ih.makeValues(p, id)
	}
	if ih.signer != nil {
		// A failure is tried again at the same pace, and logged once.
		p.values[hAssertion], p.expires = nil, now.Add(AssertionLifetime)
		if token, err := ih.signer.Sign(&p.id, ih.aud, now); err == nil {
			p.values[hAssertion] = []string{token}
		} else if !same {
			ih.log.Error("assertion not sent to the app", "sub", quoteShort(id.Subject), "err", err)
		}
	}
	return p
}

// makeValues makes the header values of id, leaving out those that cannot
// be sent as they are.
func (ih *IdentityHeaders) makeValues(p *passport, id *Identity) {
	one := func(i int, v string) {
		if v == "" || ih.names[i] == "" {
			return
		}
		if why := valueProblem(v, maxValueBytes); why != "" {
			ih.dropped(ih.names[i], id, why)
			return
		}
		p.values[i] = []string{v}
	}
	one(hUser, id.Subject)
	one(hEmail, id.Email)
	one(hUsername, id.PreferredUsername)
	if ih.names[hGroups] != "" && len(id.Groups) > 0 {
		if joined := ih.joinGroups(id); joined != "" {
			p.values[hGroups] = []string{joined}
		}
	}
	if ih.passTok && id.AccessToken != "" {
		if why := tokenProblem(id.AccessToken); why != "" {
			ih.dropped("Authorization", id, why)
		} else {
			p.authorization = []string{"Bearer " + id.AccessToken}
		}
	}
}

// joinGroups comma-joins the groups that can be told apart once joined.
func (ih *IdentityHeaders) joinGroups(id *Identity) string {
	var b strings.Builder
	for _, g := range id.Groups {
		why := valueProblem(g, maxValueBytes)
		if why == "" && strings.IndexByte(g, ',') >= 0 {
			why = "a comma, which would split the group in two"
		}
		if why != "" {
			ih.dropped(ih.names[hGroups], id, "group "+quoteShort(g)+": "+why)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g)
	}
	if b.Len() > maxGroupsBytes {
		ih.dropped(ih.names[hGroups], id, fmt.Sprintf("the groups are %d bytes joined, more than %d", b.Len(), maxGroupsBytes))
		return ""
	}
	return b.String()
}

func (ih *IdentityHeaders) dropped(header string, id *Identity, why string) {
	ih.log.Warn("identity value not sent to the app", "header", header, "sub", quoteShort(id.Subject), "reason", why)
}

// valueProblem says why v cannot be sent as a header value, or "".
func valueProblem(v string, limit int) string {
	switch {
	case len(v) > limit:
		return fmt.Sprintf("%d bytes, more than %d", len(v), limit)
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t':
		return "leading or trailing space, which the app's server would drop"
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f || (r >= 0x80 && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029')) {
			return "a control character"
		}
	}
	return ""
}

// tokenProblem says why an access token cannot be sent, or "".
func tokenProblem(tok string) string {
	if len(tok) > maxTokenBytes {
		return fmt.Sprintf("the access token is %d bytes, more than %d", len(tok), maxTokenBytes)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return "the access token holds a space, control or non-ASCII character"
		}
	}
	return ""
}

// quoteShort quotes s for a log line, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// passportCache keeps the passports of recent sessions, at most size of
// them. It is split into shards so that requests of different sessions
// seldom wait for each other; a full shard forgets one session at random.
type passportCache struct {
	seed     maphash.Seed
	perShard int
	shards   [16]struct {
		mu sync.RWMutex
		m  map[string]*passport
	}
}

func newPassportCache(size int) *passportCache {
	c := &passportCache{seed: maphash.MakeSeed(), perShard: max(1, size/16)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*passport)
	}
	return c
}

func (c *passportCache) shard(key string) int {
	return int(maphash.String(c.seed, key) % uint64(len(c.shards)))
}

func (c *passportCache) get(key string) *passport {
	s := &c.shards[c.shard(key)]
	s.mu.RLock()
	p := s.m[key]
	s.mu.RUnlock()
	return p
}

func (c *passportCache) put(key string, p *passport) {
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.perShard {
		for k := range s.m { // one, at random
			delete(s.m, k)
			break
		}
	}
	s.m[key] = p
}

// len returns how many sessions are kept, for tests.
func (c *passportCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
