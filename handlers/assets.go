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
	"sync"

	"latchkey/views"
)

// assetServer serves the embedded static files. Each file is reachable
// under its own name (revalidated with its ETag) and under a name with its
// content hash in it (cached as immutable). A file is gzipped once, when a
// browser that accepts gzip first asks for it, so starting the program
// compresses nothing.
type assetServer struct {
	files  map[string]*asset // by URL path below /assets/
	hashed map[string]string // plain name → hashed name
	// under is the path the files are served under: /assets/, or the
	// same under latchkey's prefix in front of an app.
	under string
}

// asset is one URL of a file. Header values are made once and shared by
// every response; nothing modifies them.
type asset struct {
	file         *assetFile
	cacheControl []string
}

// assetFile is a file's content in each encoding it is served in.
type assetFile struct {
	identity    encoded
	etag        []string
	contentType []string
	vary        []string // nil for a file that is never compressed

	gzipOnce sync.Once
	gzip     *encoded // set by gzipOnce; nil when compression does not pay
}

// encoded is a file's body in one encoding, with its headers.
type encoded struct {
	body            []byte
	contentLength   []string
	contentEncoding []string // nil for identity
}

func newEncoded(body []byte, encoding string) *encoded {
	e := &encoded{body: body, contentLength: []string{strconv.Itoa(len(body))}}
	if encoding != "" {
		e.contentEncoding = []string{encoding}
	}
	return e
}

func newAssets(fsys fs.FS) (*assetServer, error) {
	s := &assetServer{files: make(map[string]*asset), hashed: make(map[string]string), under: routeAssets}
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
		f := &assetFile{
			identity:    *newEncoded(body, ""),
			etag:        []string{`"` + hash + `"`},
			contentType: []string{ctype},
		}
		if compressible(ctype) {
			f.vary = []string{"Accept-Encoding"}
		}
		hashedName := strings.TrimSuffix(name, ext) + "." + hash + ext
		s.files[name] = &asset{file: f, cacheControl: []string{"no-cache"}}
		s.files[hashedName] = &asset{file: f, cacheControl: []string{"public, max-age=31536000, immutable"}}
		s.hashed[name] = hashedName
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	for _, required := range []string{"app.css", "app.js", "box.css", "vendor/htmx/htmx.min.js", "favicon.svg"} {
		if _, ok := s.hashed[required]; !ok {
			return nil, fmt.Errorf("load assets: %s is missing", required)
		}
	}
	return s, nil
}

// paths are the hashed URLs pages link to.
func (s *assetServer) paths() views.Assets {
	url := func(name string) string { return s.under + s.hashed[name] }
	return views.Assets{
		CSS:     url("app.css"),
		App:     url("app.js"),
		HTMX:    url("vendor/htmx/htmx.min.js"),
		Favicon: url("favicon.svg"),
	}
}

// ServeHTTP answers GET and HEAD, the only methods routes sends here.
func (s *assetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, s.under)
	s.serve(w, r, name)
}

// file serves the file name, by its plain name, at another route: latchkey's
// script at /latchkey.js, where an app's pages load it.
func (s *assetServer) file(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, name) })
}

// serve answers with the file at name, below /assets/.
func (s *assetServer) serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := s.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f := a.file
	h := w.Header()
	h["Etag"] = f.etag
	h["Cache-Control"] = a.cacheControl
	if f.vary != nil {
		h["Vary"] = f.vary
	}
	if etagMatches(r.Header.Get("If-None-Match"), f.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.encodingFor(r.Header.Get("Accept-Encoding"))
	if body.contentEncoding != nil {
		h["Content-Encoding"] = body.contentEncoding
	}
	h["Content-Type"] = f.contentType
	h["Content-Length"] = body.contentLength
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body.body)
}

// encodingFor picks the smallest encoding acceptEncoding allows.
func (f *assetFile) encodingFor(acceptEncoding string) *encoded {
	if f.vary == nil || acceptEncoding == "" || !accepts(acceptEncoding, "gzip") {
		return &f.identity
	}
	f.gzipOnce.Do(func() {
		if gz := gzipped(f.identity.body); gz != nil {
			f.gzip = newEncoded(gz, "gzip")
		}
	})
	if f.gzip == nil {
		return &f.identity
	}
	return f.gzip
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

// accepts reads whether an Accept-Encoding header lists coding with a
// non-zero quality.
func accepts(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
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
