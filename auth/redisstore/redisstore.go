// Package redisstore keeps sessions in Redis, so that several instances of
// the app serving one site share them: a session begun on one instance
// is used and ended on any other.
//
// Layout, under Options.Prefix:
//
//	s:<key>       the session's record (auth.MarshalSession), expiring at
//	              its Deadline
//	u:<subject>   set of the keys of that user's sessions
//	sid:<sid>     set of the keys of that provider session's sessions
//	c:<id>        a claimed id, holding the claim's end in Unix milliseconds
//
// An index set expires no earlier than the absolute limit of its latest
// member; members whose session has gone are dropped when met.
//
// Two channels, under the same prefix, keep what instances remember of
// sessions coherent (see cache.go):
//
//	invalidate        the key of every session record written or deleted
//	invalidate:users  the subject of every user who gains a session
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"latchkey/auth"
)

// Client timeouts, short so that requests fail fast (and the app answers
// 503) while Redis cannot be reached.
const (
	dialTimeout  = 2 * time.Second
	ioTimeout    = 2 * time.Second
	poolTimeout  = 3 * time.Second
	maxRetries   = 1
	dialAttempts = 1
)

// poolSize is how many connections a Store opens to Redis at most, unless
// the URL's pool_size says otherwise: 10 per CPU (go-redis's own default),
// but no fewer than minPoolSize. A request holds a connection only for its
// round trip, yet a busy instance has hundreds in flight whenever its
// memory of sessions starts empty (at start, or after the subscription
// was lost), and each one waits for a connection of its own.
func poolSize() int { return max(minPoolSize, 10*runtime.GOMAXPROCS(0)) }

const minPoolSize = 100

// Options tune a Store.
type Options struct {
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
	// Prefix starts every key the store writes; empty means "latchkey:".
	Prefix string
	// Logger receives what the Redis client logs (connection failures,
	// say); nil leaves the client's logger as it is.
	Logger *slog.Logger
}

// Store is an auth.SessionStore in Redis, safe for concurrent use by many
// goroutines and many processes sharing one Redis database and Prefix.
type Store struct {
	client  *redis.Client
	now     func() time.Time
	prefix  string
	create  *redis.Script
	update  *redis.Script
	claim   *redis.Script
	listSet *redis.Script
	// decoded remembers sessions decoded lately, by their record.
	decoded *auth.Cache[string, *auth.Session]
	// cache remembers the sessions read lately, by key, while the
	// invalidation channel keeps it coherent (see cache.go).
	cache       *sessionCache
	stopListen  context.CancelFunc
	listenEnded chan struct{}
}

var _ auth.SessionStore = (*Store)(nil)

// New connects to the Redis server at url (redis://[user:pass@]host:port/db,
// rediss:// for TLS), as SESSION_STORE gives it. It does not wait for the
// server: the app starts while Redis is down, and the client connects when
// Redis answers.
func New(url string, opts Options) (*Store, error) {
	copts, err := clientOptions(url)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Prefix == "" {
		opts.Prefix = "latchkey:"
	}
	if opts.Logger != nil {
		routeClientLog(opts.Logger)
	}
	s := &Store{
		client:      redis.NewClient(copts),
		now:         opts.Now,
		prefix:      opts.Prefix,
		create:      redis.NewScript(createScript),
		update:      redis.NewScript(updateScript),
		claim:       redis.NewScript(claimScript),
		listSet:     redis.NewScript(listSetScript),
		decoded:     auth.NewCache[string, *auth.Session](decodedSessions),
		cache:       newSessionCache(opts.Now),
		listenEnded: make(chan struct{}),
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stopListen = stop
	go func() {
		defer close(s.listenEnded)
		s.listen(ctx)
	}()
	return s, nil
}

// clientOptions parses a session store URL. Its errors never repeat the
// URL, which may hold a password.
func clientOptions(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var escape url.EscapeError
		var ue *url.Error
		switch {
		case errors.As(err, &escape):
			return nil, errors.New("parse session store URL: invalid %-escape")
		case errors.As(err, &ue):
			return nil, fmt.Errorf("parse session store URL: %v", ue.Err)
		default:
			return nil, errors.New("parse session store URL: malformed")
		}
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("parse session store URL: scheme %q is not redis or rediss", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("parse session store URL: no host")
	}
	copts, err := redis.ParseURL(raw)
	if err != nil {
		msg := err.Error()
		if password, ok := u.User.Password(); ok && password != "" {
			msg = strings.ReplaceAll(msg, password, "xxxxx")
		}
		return nil, fmt.Errorf("parse session store URL: %s", msg)
	}
	// Settings given in the URL's query win over these.
	if copts.PoolSize == 0 {
		copts.PoolSize = poolSize()
	}
	if copts.DialTimeout == 0 {
		copts.DialTimeout = dialTimeout
	}
	if copts.ReadTimeout == 0 {
		copts.ReadTimeout = ioTimeout
	}
	if copts.WriteTimeout == 0 {
		copts.WriteTimeout = ioTimeout
	}
	if copts.PoolTimeout == 0 {
		copts.PoolTimeout = poolTimeout
	}
	if copts.MaxRetries == 0 {
		copts.MaxRetries = maxRetries
	}
	copts.DialerRetries = dialAttempts
	// Maintenance notifications are a Redis Cloud feature; a self-hosted
	// server would only refuse the command on every new connection.
	copts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return copts, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.stopListen()
	<-s.listenEnded
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close session store: %w", err)
	}
	return nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fail("ping session store", err)
	}
	return nil
}

func (s *Store) sessionKey(key string) string     { return s.prefix + "s:" + key }
func (s *Store) subjectKey(subject string) string { return s.prefix + "u:" + subject }
func (s *Store) providerSIDKey(sid string) string { return s.prefix + "sid:" + sid }
func (s *Store) claimKey(id string) string        { return s.prefix + "c:" + id }

// unixMilliCeil is t in Unix milliseconds, rounded up so that an expiry
// set from it is never earlier than t.
func unixMilliCeil(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}
