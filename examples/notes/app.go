package main

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

//go:embed page.html notes.css
var files embed.FS

var pageTemplates = template.Must(template.ParseFS(files, "page.html"))

// Limits of what one user can make the app keep.
const (
	maxNoteLength = 1000 // characters
	maxNotes      = 100  // per user; the oldest go
	maxUsers      = 10_000
	maxFormBytes  = 8 << 10
)

// appConfig configures the app.
type appConfig struct {
	// Issuer is latchkey's BASE_URL.
	Issuer string
	// Audience is this app as latchkey names it: its UPSTREAM's origin.
	Audience string
	Log      *slog.Logger
}

// app is the notes app.
type app struct {
	verifier *verifier
	log      *slog.Logger
	handler  http.Handler

	mu    sync.Mutex
	notes map[string][]note // by the user's sub
}

type note struct {
	Text string
	At   time.Time
}

func newApp(cfg appConfig) (*app, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("the app needs latchkey's URL and its own audience")
	}
	a := &app{verifier: newVerifier(cfg.Issuer, cfg.Audience), log: cfg.Log, notes: map[string][]note{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /notes", a.addNote)
	mux.Handle("GET /notes.css", http.FileServerFS(files))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// The app's forms are posted from its own pages only.
	csrf := http.NewCrossOriginProtection()
	a.handler = headers(csrf.Handler(mux))
	return a, nil
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// headers sets the app's own security headers. A strict policy: the
// scripts latchkey serves for the page (htmx and latchkey.js) come from
// this same origin, through latchkey.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// identity is who is asking: the verified assertion, and the plain
// headers latchkey sent beside it.
type identity struct {
	User    *user
	Headers [][2]string
}

// who reads the request's identity. The headers say the same as the
// assertion, but only the assertion proves it came from latchkey; a
// request without one is a visitor on one of latchkey's public paths.
func (a *app) who(r *http.Request) (*identity, error) {
	u, err := a.verifier.verify(r.Context(), r)
	if errors.Is(err, errNoAssertion) {
		return &identity{}, nil
	}
	if err != nil {
		return nil, err
	}
	if got := r.Header.Get("X-Forwarded-User"); got != u.Subject {
		return nil, errors.New("X-Forwarded-User does not match the assertion")
	}
	id := &identity{User: u}
	for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups"} {
		id.Headers = append(id.Headers, [2]string{name, r.Header.Get(name)})
	}
	return id, nil
}

// page is what page.html draws.
type page struct {
	*identity
	Notes []note
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	id, err := a.who(r)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	p := page{identity: id}
	if id.User != nil {
		p.Notes = a.notesOf(id.User.Subject)
	}
	a.render(w, "page", p)
}

func (a *app) addNote(w http.ResponseWriter, r *http.Request) {
	id, err := a.who(r)
	switch {
	case err != nil:
		a.refuse(w, r, err)
		return
	case id.User == nil:
		// latchkey lets no request without a session reach this path.
		http.Error(w, "Sign in to write notes.", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" || utf8.RuneCountInString(text) > maxNoteLength {
		http.Error(w, "A note has 1 to 1,000 characters.", http.StatusUnprocessableEntity)
		return
	}
	a.mu.Lock()
	sub := id.User.Subject
	if _, ok := a.notes[sub]; !ok && len(a.notes) >= maxUsers {
		for other := range a.notes { // make room: forget someone, at random
			delete(a.notes, other)
			break
		}
	}
	list := append(a.notes[sub], note{Text: text, At: time.Now()})
	if len(list) > maxNotes {
		list = list[len(list)-maxNotes:]
	}
	a.notes[sub] = list
	a.mu.Unlock()
	a.log.Info("note saved", "sub", sub)
	if r.Header.Get("HX-Request") != "true" {
		// A plain form post, without JavaScript: back to the page.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, "notes", page{identity: id, Notes: a.notesOf(sub)})
}

func (a *app) notesOf(sub string) []note {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]note(nil), a.notes[sub]...)
}

// refuse answers a request whose identity does not check out: it did not
// come through latchkey, or latchkey is not who signed it.
func (a *app) refuse(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Warn("identity refused", "path", r.URL.Path, "err", err)
	http.Error(w, "This app is reached through latchkey only.", http.StatusForbidden)
}

func (a *app) render(w http.ResponseWriter, name string, p page) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, p); err != nil {
		a.log.Error("render", "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
