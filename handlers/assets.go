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
	"sync/atomic"

	"github.com/andybalholm/brotli"

	"latchkey/views"
)

// assetServer serves the embedded static files. Each file is reachable
// under its own name (revalidated with its ETag) and under a name with its
// content hash in it (cached as immutable). Files are gzipped once, at
// start, and compressed with brotli once, in the background, when a
// browser first asks for them.
type assetServer struct {
	files  map[string]*asset // by URL path below /assets/
	hashed map[string]string // plain name → hashed name
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
	gzip        *encoded // nil when compression does not pay
	etag        []string
	contentType []string
	vary        []string // nil when there is only one encoding

	brotliOnce sync.Once
	brotli     atomic.Pointer[encoded] // nil until compressed, or when it does not pay
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
		f := &assetFile{
			identity:    *newEncoded(body, ""),
			etag:        []string{`"` + hash + `"`},
			contentType: []string{ctype},
		}
		if compressible(ctype) {
			if gz := gzipped(body); gz != nil {
				f.gzip = newEncoded(gz, "gzip")
			}
		}
		if f.gzip != nil {
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
	name, _ := strings.CutPrefix(r.URL.Path, "/assets/")
	a, ok := s.files[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
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
	if f.gzip == nil || acceptEncoding == "" {
		return &f.identity
	}
	if accepts(acceptEncoding, "br") {
		if br := f.brotliEncoded(); br != nil {
			return br
		}
	}
	if accepts(acceptEncoding, "gzip") {
		return f.gzip
	}
	return &f.identity
}

// brotliEncoded returns the brotli encoding once it is ready. The first
// call starts compressing in the background, which takes tens of
// milliseconds at the best ratio: requests meanwhile get gzip.
func (f *assetFile) brotliEncoded() *encoded {
	if br := f.brotli.Load(); br != nil {
		return br
	}
	f.brotliOnce.Do(func() {
		go func() {
			if br := brotlied(f.identity.body); br != nil && len(br) < len(f.gzip.body) {
				f.brotli.Store(newEncoded(br, "br"))
			}
		}()
	})
	return nil
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

// brotlied returns body compressed with brotli at its best ratio. The
// window is sized for files of up to 64 KB: a larger one only costs memory.
func brotlied(body []byte) []byte {
	var buf bytes.Buffer
	bw := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 16})
	_, _ = bw.Write(body) // writes to a bytes.Buffer do not fail
	_ = bw.Close()
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
