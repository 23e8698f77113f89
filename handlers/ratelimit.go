package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// errRateLimited reports a client that started too many logins lately.
var errRateLimited = errors.New("too many login attempts from this client")

// loginLimiter bounds how many logins one client can start or finish per
// minute, so a stranger cannot make latchkey spend store writes and
// client-authenticated token requests without end. Each client has a
// bucket of perMinute tokens that refills continuously; /login and
// /callback take one each. IPv6 clients are counted by /64, which is what
// one of them usually holds.
type loginLimiter struct {
	perMinute float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// limiterClients bounds how many clients the limiter remembers. Beyond it,
// buckets that have refilled are forgotten first; a client whose bucket is
// forgotten early only gets a fresh one.
const limiterClients = 10_000

func newLoginLimiter(perMinute int, now func() time.Time) *loginLimiter {
	return &loginLimiter{perMinute: float64(perMinute), now: now, buckets: make(map[netip.Prefix]*bucket)}
}

// take spends one of the client's tokens. When none is left it reports
// false and how long until one is.
func (l *loginLimiter) take(client netip.Addr) (bool, time.Duration) {
	key := clientPrefix(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= limiterClients {
			l.forget(now)
		}
		b = &bucket{tokens: l.perMinute, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.perMinute, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
		return false, wait
	}
	b.tokens--
	return true, 0
}

// forget drops the buckets that are full again, and if that frees nothing,
// half of the rest.
func (l *loginLimiter) forget(now time.Time) {
	for key, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Minutes()*l.perMinute >= l.perMinute {
			delete(l.buckets, key)
		}
	}
	for key := range l.buckets {
		if len(l.buckets) < limiterClients/2 {
			break
		}
		delete(l.buckets, key)
	}
}

// clientPrefix is what the limiter counts a client by.
func clientPrefix(addr netip.Addr) netip.Prefix {
	bits := addr.BitLen()
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // no address: all such requests share one bucket
	}
	return p
}

// limitLogins answers 429, with Retry-After, to a client that has used up
// its logins for now. perMinute of 0 turns the limit off.
func limitLogins(p *pages, perMinute int, trusted []netip.Prefix) func(http.Handler) http.Handler {
	if perMinute <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	limiter := newLoginLimiter(perMinute, time.Now)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok, wait := limiter.take(clientAddr(r, trusted))
			if !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				p.fail(w, r, errRateLimited)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
