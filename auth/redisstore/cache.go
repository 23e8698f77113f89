package redisstore

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
)

// The sessions an instance read lately are kept in its memory, and so are
// the lists of a user's sessions that the sessions panel shows, so that
// most page views need no round trip to Redis. They are kept coherent
// across instances through Redis itself: every write to a session record —
// an update, a deletion — publishes the session's key on the store's
// invalidation channel, and every new session publishes its user's subject
// on the users' channel, in the same script or transaction as the write.
// Every instance subscribes to both and forgets what it hears of: the
// session, or the user's list. A list is remembered as the keys of its
// sessions, each served only while that session is remembered too, so a
// session written or ended anywhere also drops the lists it is in. A
// logout on one instance is refused on the others as soon as they hear of
// it, within milliseconds.
//
// The cache serves only while the subscription is known to work: from the
// server's confirmation of it until it fails, or until it has been silent
// past a ping it should have answered. Then everything is forgotten, and
// every read goes to Redis until the subscription is confirmed again. A
// read that began before an invalidation arrived is not remembered, so a
// record read just before its session ended cannot linger.
const (
	// cachedSessions bounds how many sessions an instance remembers.
	cachedSessions = 10_000
	// cachedLists bounds how many users' lists of sessions it remembers.
	cachedLists = 10_000
	// cacheFor bounds how long a remembered session is served without
	// reading it again, should an invalidation ever be lost.
	cacheFor = 30 * time.Second
	// listenPing is how often a silent subscription is pinged; one that
	// stays silent twice as long counts as failed.
	listenPing = time.Second
)

// sessionCache is an instance's memory of the sessions it read.
type sessionCache struct {
	now func() time.Time

	mu      sync.Mutex
	serving bool // the subscription is confirmed and working
	// The epochs move at every invalidation and every forgetting: of a
	// session, and of a list; a list read waits on both, since it reads
	// sessions too.
	epochs  epochs
	entries *auth.Cache[string, cachedSession]
	lists   *auth.Cache[string, cachedList]
}

type cachedSession struct {
	sess *auth.Session
	// data is the record sess was decoded from: what an update of it
	// expects Redis to hold still.
	data string
	at   time.Time
}

// cachedList is a user's live sessions as a list read found them: their
// keys, newest first.
type cachedList struct {
	keys []string
	at   time.Time
}

// listed is a session read from Redis with its record.
type listed struct {
	sess *auth.Session
	data string
}

func newSessionCache(now func() time.Time) *sessionCache {
	return &sessionCache{
		now:     now,
		entries: auth.NewCache[string, cachedSession](cachedSessions),
		lists:   auth.NewCache[string, cachedList](cachedLists),
	}
}

// get returns a copy of the session remembered under key, and the record
// it was decoded from.
func (c *sessionCache) get(key string) (*auth.Session, string, bool) {
	c.mu.Lock()
	if !c.serving {
		c.mu.Unlock()
		return nil, "", false
	}
	e, ok := c.entries.Get(key)
	c.mu.Unlock()
	if !ok || c.now().Sub(e.at) >= cacheFor {
		return nil, "", false
	}
	s := *e.sess
	return &s, e.data, true
}

// list returns copies of the sessions of the list remembered for subject,
// in its order; false unless the list and every session in it are
// remembered.
func (c *sessionCache) list(subject string) ([]*auth.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.serving {
		return nil, false
	}
	l, ok := c.lists.Get(subject)
	now := c.now()
	if !ok || now.Sub(l.at) >= cacheFor {
		return nil, false
	}
	out := make([]*auth.Session, len(l.keys))
	for i, key := range l.keys {
		e, ok := c.entries.Get(key)
		if !ok || now.Sub(e.at) >= cacheFor {
			return nil, false
		}
		s := *e.sess
		out[i] = &s
	}
	return out, true
}

type epochs struct{ sessions, lists uint64 }

// begin is called before reading a session or a list from Redis; remember
// and rememberList take what it returned, and keep what was read only if
// nothing it depends on was invalidated meanwhile.
func (c *sessionCache) begin() epochs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epochs
}

// remember keeps sess, decoded from the record data read from Redis
// since begin returned since.
func (c *sessionCache) remember(key string, sess *auth.Session, data string, since epochs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serving && c.epochs.sessions == since.sessions {
		s := *sess
		c.entries.Put(key, cachedSession{sess: &s, data: data, at: c.now()})
	}
}

// rememberList keeps the list of subject's sessions, read from Redis since
// begin returned since, and each of its sessions.
func (c *sessionCache) rememberList(subject string, list []listed, since epochs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.serving || c.epochs != since {
		return
	}
	now := c.now()
	keys := make([]string, len(list))
	for i, l := range list {
		s := *l.sess
		c.entries.Put(s.Key, cachedSession{sess: &s, data: l.data, at: now})
		keys[i] = s.Key
	}
	c.lists.Put(subject, cachedList{keys: keys, at: now})
}

// forget drops the session under key: it was written or deleted. The
// lists it is in go with it (list serves none without it).
func (c *sessionCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epochs.sessions++
	c.entries.Remove(key)
}

// forgetList drops the list of subject's sessions: a session was added.
func (c *sessionCache) forgetList(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epochs.lists++
	c.lists.Remove(subject)
}

// serve starts or stops serving from memory; either way what it holds is
// forgotten, since invalidations may have been missed.
func (c *sessionCache) serve(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serving = on
	c.epochs.sessions++
	c.epochs.lists++
	c.entries = auth.NewCache[string, cachedSession](cachedSessions)
	c.lists = auth.NewCache[string, cachedList](cachedLists)
}

// listen keeps the subscription to the invalidation channel until ctx ends,
// and tells the cache what it hears and whether it can be trusted.
func (s *Store) listen(ctx context.Context) {
	defer s.cache.serve(false)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		heard := s.subscription(ctx)
		s.cache.serve(false)
		if ctx.Err() != nil {
			return
		}
		if heard {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// subscription subscribes once and serves the cache from it until it
// fails; it reports whether the subscription was ever confirmed.
func (s *Store) subscription(ctx context.Context) (confirmed bool) {
	ps := s.client.Subscribe(ctx, s.invalidations(), s.userInvalidations())
	defer ps.Close()
	// Close ends a blocking receive at once by closing the subscription.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	lastHeard, pinged := time.Now(), false
	for {
		msg, err := ps.ReceiveTimeout(ctx, listenPing)
		var netErr net.Error
		switch {
		case ctx.Err() != nil:
			return confirmed
		case errors.As(err, &netErr) && netErr.Timeout():
			if time.Since(lastHeard) >= 2*listenPing || (pinged && time.Since(lastHeard) >= listenPing) {
				return confirmed // silent past its ping: take it as dead
			}
			if err := ps.Ping(ctx); err != nil {
				return confirmed
			}
			pinged = true
			continue
		case err != nil:
			return confirmed
		}
		lastHeard, pinged = time.Now(), false
		switch m := msg.(type) {
		case *redis.Subscription:
			// Both channels are subscribed at once; the count says so.
			if m.Kind == "subscribe" && m.Count == 2 {
				confirmed = true
				s.cache.serve(true)
			}
		case *redis.Message:
			if m.Channel == s.userInvalidations() {
				s.cache.forgetList(m.Payload)
			} else {
				s.cache.forget(m.Payload)
			}
		}
	}
}

// invalidations is the channel the keys of written sessions go out on.
func (s *Store) invalidations() string { return s.prefix + "invalidate" }

// userInvalidations is the channel the subjects of users with a new
// session go out on.
func (s *Store) userInvalidations() string { return s.prefix + "invalidate:users" }
