package handlers

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"latchkey/views"
)

// assetServer serves the embedded static files. Each file is reachable
// under its own name (revalidated with its ETag) and under a name with its
// content hash in it (cached as immutable), and is compressed once, here.
type assetServer struct {
	files  map[string]*asset // by URL path below /assets/
	hashed map[string]string // plain name → hashed name
}

type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	etag        string
	contentType string
	immutable   bool
}

func newAssets(fsys fs.FS) (*assetServer, error) {
	s := &assetServer{files: make(map[string]*asset), hashed: make(map[string]string)}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read asset %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(name)
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		a := asset{body: body, etag: `"` + hash + `"`, contentType: ctype}
		if compressible(ctype) {
			a.gzipped = gzipped(body)
		}
		hashedName := strings.TrimSuffix(name, ext) + "." + hash + ext
		plain, immutable := a, a
		immutable.immutable = true
		s.files[name] = &plain
		s.files[hashedName] = &immutable
		s.hashed[name] = hashedName
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	for _, required := range []string{"app.css", "app.js", "vendor/htmx/htmx.min.js", "favicon.svg"} {
		if _, ok := s.hashed[required]; !ok {
			return nil, fmt.Errorf("load assets: %s is missing", required)
		}
	}
	return s, nil
}

// paths are the hashed URLs pages link to.
func (s *assetServer) paths() views.Assets {
	url := func(name string) string { return "/assets/" + s.hashed[name] }
	return views.Assets{
		CSS:     url("app.css"),
		App:     url("app.js"),
		HTMX:    url("vendor/htmx/htmx.min.js"),
		Favicon: url("favicon.svg"),
	}
}

func (s *assetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := s.files[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if a.gzipped != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gzipped
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") ||
		strings.Contains(contentType, "javascript") ||
		strings.Contains(contentType, "json") ||
		strings.Contains(contentType, "svg")
}

// gzipped returns body compressed, or nil when that does not make it
// meaningfully smaller.
func gzipped(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(body)                                    // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	if buf.Len() >= len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for candidate := range strings.SplitSeq(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip listed with a non-zero quality.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		quality, err := strconv.ParseFloat(q, 64)
		return err == nil && quality > 0
	}
	return false
}
