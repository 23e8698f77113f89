package auth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a SessionStore held in this process's memory: sessions
// end when the process does, and are not shared with other processes.
type MemoryStore struct {
	now      func() time.Time
	mu       sync.RWMutex
	sessions map[string]Session
	claims   map[string]time.Time
}

// NewMemoryStore returns an empty MemoryStore. now is its clock; nil means
// time.Now.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, sessions: make(map[string]Session), claims: make(map[string]time.Time)}
}

// Sweep deletes expired sessions and claims.
func (m *MemoryStore) Sweep(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, n := m.now(), 0
	for key, s := range m.sessions {
		if !now.Before(s.Deadline()) {
			delete(m.sessions, key)
			n++
		}
	}
	for id, until := range m.claims {
		if !now.Before(until) {
			delete(m.claims, id)
		}
	}
	return n, nil
}

// Create stores a copy of s under s.Key, as any store would keep it: with
// its tokens only sealed.
func (m *MemoryStore) Create(_ context.Context, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.Key]; ok {
		return ErrSessionExists
	}
	m.sessions[s.Key] = s.stored()
	return nil
}

// Load returns a copy of the session stored under key.
func (m *MemoryStore) Load(_ context.Context, key string) (*Session, error) {
	m.mu.RLock()
	s, ok := m.sessions[key]
	m.mu.RUnlock()
	if !ok || !m.now().Before(s.Deadline()) {
		return nil, ErrNoSession
	}
	return &s, nil
}

// Update changes the live session under key, under the store's lock.
func (m *MemoryStore) Update(_ context.Context, key string, change func(*Session) error) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.sessions[key]
	if !ok {
		return nil, ErrNoSession
	}
	next, err := ApplyUpdate(&cur, m.now(), change)
	if err != nil {
		return nil, err
	}
	stored := next.stored()
	m.sessions[key] = stored
	return &stored, nil
}

// Delete removes the session stored under key, if any.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, key)
	return nil
}

// DeleteBySID removes every session with the provider session id sid.
func (m *MemoryStore) DeleteBySID(_ context.Context, sid string) (int, error) {
	return m.deleteWhere(func(s *Session) bool { return sid != "" && s.ProviderSID == sid }), nil
}

// DeleteBySubject removes every session of subject but keep.
func (m *MemoryStore) DeleteBySubject(_ context.Context, subject, keep string) (int, error) {
	return m.deleteWhere(func(s *Session) bool { return s.User.Subject == subject && s.Key != keep }), nil
}

func (m *MemoryStore) deleteWhere(match func(*Session) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, n := m.now(), 0
	for key, s := range m.sessions {
		if match(&s) {
			delete(m.sessions, key)
			if now.Before(s.Deadline()) {
				n++
			}
		}
	}
	return n
}

// ListBySubject returns copies of subject's live sessions, newest first.
func (m *MemoryStore) ListBySubject(_ context.Context, subject string) ([]*Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	var list []*Session
	for _, s := range m.sessions {
		if s.User.Subject == subject && now.Before(s.Deadline()) {
			list = append(list, &s)
		}
	}
	slices.SortFunc(list, NewestFirst)
	return list, nil
}

// Claim marks id as used until expires.
func (m *MemoryStore) Claim(_ context.Context, id string, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.claims[id]; ok && m.now().Before(until) {
		return false, nil
	}
	m.claims[id] = expires
	return true, nil
}
