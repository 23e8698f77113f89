package oidctest

import "net/http"

// pictureSVG is the default user's picture: a plain grey circle.
const pictureSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">` +
	`<circle cx="32" cy="32" r="32" fill="#9aa5b1"/></svg>`

// handlePicture serves the default user's picture, so profile pages load it without network.
func handlePicture(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet, http.MethodHead)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(pictureSVG))
}
