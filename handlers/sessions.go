package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/mileusna/useragent"

	"latchkey/auth"
	"latchkey/views"
)

// handleDashboard shows the signed-in user's profile and sessions.
func handleDashboard(p *pages, list *deviceList) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		devices, err := list.devices(r, sess)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		s := p.shell(r, "Dashboard")
		s.AuthRequired = true
		p.render(w, r, http.StatusOK, views.Dashboard(s, devices), nil)
	}
}

// handleEndSession signs one of the user's other sessions out.
func handleEndSession(p *pages, sessions *auth.Sessions, list *deviceList) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		id := chi.URLParam(r, "id")
		// Named before it ends, for the panel to say which one it was.
		name := "that session"
		if devices, err := list.devices(r, sess); err == nil {
			for _, d := range devices {
				if d.ID == id && !d.Current {
					name = d.Name
				}
			}
		}
		status := "Signed out " + name + "."
		switch err := sessions.EndOther(r.Context(), sess, id); {
		case err == nil:
			p.log.InfoContext(r.Context(), "ended a session from the sessions panel", "sub", sess.User.Subject)
		case errors.Is(err, auth.ErrNoSession): // already over, or not this user's: nothing to do
			status = "That session had already ended."
		default:
			p.fail(w, r, err)
			return
		}
		renderSessionsPanel(w, r, p, list, status)
	}
}

// handleEndOtherSessions signs the user out everywhere but here.
func handleEndOtherSessions(p *pages, sessions *auth.Sessions, list *deviceList) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		n, err := sessions.EndAllOthers(r.Context(), sess)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.log.InfoContext(r.Context(), "ended all other sessions", "sub", sess.User.Subject, "count", n)
		status := "Signed out everywhere else."
		switch n {
		case 0:
			status = "There were no other sessions to sign out."
		case 1:
			status = "Signed out 1 other session."
		default:
			status = fmt.Sprintf("Signed out %d other sessions.", n)
		}
		renderSessionsPanel(w, r, p, list, status)
	}
}

// renderSessionsPanel answers htmx with the panel, which says status, and
// a plain form post with a redirect back to the dashboard.
func renderSessionsPanel(w http.ResponseWriter, r *http.Request, p *pages, list *deviceList, status string) {
	if !isHTMX(r) {
		redirect(w, r, p.site.dashboard(), http.StatusNoContent)
		return
	}
	devices, err := list.devices(r, sessionFrom(r.Context()))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, views.SessionsPanel(p.shell(r, ""), devices, status), nil)
}

// deviceList lists the user's sessions as the sessions panel shows them.
type deviceList struct {
	sessions *auth.Sessions
	// names remembers what deviceName made of the browsers seen lately:
	// parsing a User-Agent costs more than the rest of a session's entry.
	names *auth.Cache[string, string]
}

// namesKept bounds the browsers whose names are remembered; each key is
// at most auth.MaxUserAgent bytes.
const namesKept = 256

func newDeviceList(sessions *auth.Sessions) *deviceList {
	return &deviceList{sessions: sessions, names: auth.NewCache[string, string](namesKept)}
}

// devices returns the live sessions of current's user, this one first,
// then the newest.
func (l *deviceList) devices(r *http.Request, current *auth.Session) ([]views.Device, error) {
	list, err := l.sessions.List(r.Context(), current)
	if err != nil {
		return nil, err
	}
	// This device first, then the newest.
	slices.SortFunc(list, func(a, b *auth.Session) int {
		switch {
		case (a.Key == current.Key) != (b.Key == current.Key):
			if a.Key == current.Key {
				return -1
			}
			return 1
		case !a.CreatedAt.Equal(b.CreatedAt):
			return b.CreatedAt.Compare(a.CreatedAt)
		}
		return strings.Compare(a.Key, b.Key)
	})
	now := time.Now()
	devices := make([]views.Device, 0, len(list))
	for _, s := range list {
		devices = append(devices, views.Device{
			ID:   s.Key,
			Name: l.name(s.UserAgent),
			// UTC, said so, for a reader without the script, which shows
			// it in the reader's own time zone.
			SignedIn:    s.CreatedAt.UTC().Format("2 Jan 2006, 15:04 MST"),
			SignedInISO: s.CreatedAt.UTC().Format(time.RFC3339),
			LastSeen:    ago(now.Sub(s.LastSeen)),
			Current:     s.Key == current.Key,
		})
	}
	return devices, nil
}

// name is deviceName(userAgent), remembered.
func (l *deviceList) name(userAgent string) string {
	if name, ok := l.names.Get(userAgent); ok {
		return name
	}
	name := deviceName(userAgent)
	l.names.Put(userAgent, name)
	return name
}

// deviceName describes a browser in a few words, e.g. "Firefox on Linux".
func deviceName(userAgent string) string {
	ua := useragent.Parse(userAgent)
	switch {
	case ua.Name != "" && ua.OS != "":
		return ua.Name + " on " + ua.OS
	case ua.Name != "":
		return ua.Name
	default:
		return "Unknown browser"
	}
}

// ago says how long ago something happened, to the minute.
func ago(d time.Duration) string {
	switch m := int(d / time.Minute); {
	case m < 1:
		return "just now"
	case m == 1:
		return "a minute ago"
	case m < 60:
		return fmt.Sprintf("%d minutes ago", m)
	case m < 120:
		return "an hour ago"
	case m < 48*60:
		return fmt.Sprintf("%d hours ago", m/60)
	default:
		return fmt.Sprintf("%d days ago", m/(24*60))
	}
}
