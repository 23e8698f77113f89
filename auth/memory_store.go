package auth

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is a SessionStore held in this process's memory: sessions
// end when the process does.
type MemoryStore struct {
	mu       sync.RWMutex
	sessions map[string]Session
	saves    int
}

// sweepEvery is how many saves pass between sweeps of expired sessions,
// so abandoned sessions cannot pile up.
const sweepEvery = 1024

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: make(map[string]Session)}
}

// Save stores a copy of s under s.Key.
func (m *MemoryStore) Save(_ context.Context, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.Key] = *s
	m.saves++
	if m.saves%sweepEvery == 0 {
		now := time.Now()
		for key, sess := range m.sessions {
			if !now.Before(sess.ExpiresAt) {
				delete(m.sessions, key)
			}
		}
	}
	return nil
}

// Load returns a copy of the session stored under key.
func (m *MemoryStore) Load(_ context.Context, key string) (*Session, error) {
	m.mu.RLock()
	s, ok := m.sessions[key]
	m.mu.RUnlock()
	if !ok {
		return nil, ErrNoSession
	}
	return &s, nil
}

// Delete removes the session stored under key, if any.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, key)
	return nil
}
