// Package formtest makes request bodies for tests of latchkey's form
// routes, shared by the handler tests and the whole-program tests.
package formtest

import (
	"io"
	"sync/atomic"
)

// Boundary separates the parts of an Upload.
const Boundary = "latchkey-test-boundary"

// ContentType is the Content-Type header of an Upload.
const ContentType = "multipart/form-data; boundary=" + Boundary

// Upload is a multipart/form-data body with a csrf field and one file part,
// made as it is read, so that a test can send hundreds of megabytes
// without holding them, and tell how much of it was read.
type Upload struct {
	head, tail []byte
	left       int64 // file bytes still to make
	size       int64
	produced   atomic.Int64 // bytes handed out so far
}

// NewUpload returns an Upload whose file part holds fileSize bytes.
func NewUpload(csrf string, fileSize int64) *Upload {
	head := "--" + Boundary + "\r\n" +
		"Content-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf + "\r\n" +
		"--" + Boundary + "\r\n" +
		"Content-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + Boundary + "--\r\n"
	return &Upload{
		head: []byte(head),
		tail: []byte(tail),
		left: fileSize,
		size: int64(len(head)) + fileSize + int64(len(tail)),
	}
}

// Size is the body's whole length, its Content-Length.
func (u *Upload) Size() int64 { return u.size }

// Produced is how many bytes have been read so far.
func (u *Upload) Produced() int64 { return u.produced.Load() }

func (u *Upload) Read(p []byte) (int, error) {
	n := 0
	switch {
	case len(u.head) > 0:
		n = copy(p, u.head)
		u.head = u.head[n:]
	case u.left > 0:
		n = int(min(int64(len(p)), u.left))
		for i := range p[:n] {
			p[i] = 'x'
		}
		u.left -= int64(n)
	case len(u.tail) > 0:
		n = copy(p, u.tail)
		u.tail = u.tail[n:]
	default:
		return 0, io.EOF
	}
	u.produced.Add(int64(n))
	return n, nil
}
