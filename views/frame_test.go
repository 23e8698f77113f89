package views_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/a-h/templ"

	"latchkey/views"
)

// Pages drawn with their frames kept are the pages drawn without, byte
// for byte, for every kind of frame, drawn once or again.
func TestKeptFramesDrawTheSamePages(t *testing.T) {
	popup := signedIn(ada)
	popup.Popup = true
	bare := anonymous()
	bare.Bare = true
	exposed := anonymous()
	exposed.DevIdP, exposed.DevIdPExposed = true, true
	onDashboard := signedIn(ada)
	onDashboard.Path, onDashboard.Title, onDashboard.AuthRequired = "/dashboard", "Dashboard", true
	prefixed := signedIn(ada)
	prefixed.Links = views.Links{Home: "/.latchkey/", Dashboard: "/.latchkey/account", Logout: "/.latchkey/logout"}
	prefixed.Path = "/.latchkey/account"
	titled := anonymous()
	titled.Title = hostile
	pages := map[string]func(views.Shell) templ.Component{
		"dashboard": func(s views.Shell) templ.Component {
			return views.Dashboard(s, []views.Device{{ID: "k", Name: "Firefox on Linux", Current: true}})
		},
		"logout confirm": views.LogoutConfirm,
		"error page": func(s views.Shell) templ.Component {
			return views.ErrorPage(s, views.Problem{Status: 404, Title: "Not found", Message: hostile})
		},
	}
	frames := &views.Frames{}
	for name, s := range map[string]views.Shell{
		"anonymous": anonymous(), "signed in": signedIn(ada), "popup": popup, "bare": bare,
		"exposed demo login": exposed, "on the dashboard": onDashboard, "prefixed": prefixed, "hostile title": titled,
	} {
		for page, draw := range pages {
			if page == "dashboard" && s.User == nil {
				continue // only ever drawn for a signed-in user
			}
			t.Run(name+"/"+page, func(t *testing.T) {
				want := renderString(t, draw(s))
				kept := s
				kept.Frames = frames
				for range 2 { // drawing the frame, then reusing it
					if got := renderString(t, draw(kept)); got != want {
						t.Fatalf("with kept frames:\n%s\nwithout:\n%s", got, want)
					}
				}
			})
		}
	}
}

// Frames are drawn and read by many requests at once.
func TestKeptFramesConcurrently(t *testing.T) {
	frames := &views.Frames{}
	s := signedIn(ada)
	want := renderString(t, views.Dashboard(s, nil))
	s.Frames = frames
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				var buf bytes.Buffer
				if err := views.Dashboard(s, nil).Render(t.Context(), &buf); err != nil || buf.String() != want {
					t.Errorf("page drawn concurrently differs (%v)", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(t.Context(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}
