// Package redistest starts throw-away Redis servers for tests: Debian's
// redis-server on a free port of 127.0.0.1, with nothing written to disk.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// startAttempts bounds how often Start tries a new port after losing
	// the one it picked to another process.
	startAttempts = 5
	// readyTimeout bounds the wait for a started server to answer PING.
	readyTimeout = 15 * time.Second
	pollInterval = 10 * time.Millisecond
)

// Server is a running redis-server that the test owns.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a redis-server on a free port and stops it when the test
// ends. It skips the test when no redis-server is installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := findRedisServer()
	if bin == "" {
		tb.Skip("redis-server not found: install Debian's redis-server to run the Redis tests")
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(s.Stop)
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: pick a port: %v", err)
		}
		portTaken, err := s.launch(port)
		if err == nil {
			return s
		}
		if !portTaken || attempt == startAttempts {
			tb.Fatalf("redistest: %v", err)
		}
	}
}

// URL is the server's address as SESSION_STORE takes it, database 0.
func (s *Server) URL() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port)
}

// Addr is the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop kills the server, as an outage would, and waits until it is gone.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server if it runs and starts a new, empty one on the
// same port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	var err error
	for range startAttempts {
		if _, err = s.launch(s.port); err == nil {
			return
		}
	}
	s.tb.Fatalf("redistest: restart: %v", err)
}

// launch starts redis-server on port and waits until it answers PING. It
// reports portTaken when the server quit because the port was in use.
func (s *Server) launch(port int) (portTaken bool, err error) {
	output := &lockedBuffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	giveUp := time.After(readyTimeout)
	for !answersPing(addr) {
		select {
		case <-exited:
			out := output.String()
			return strings.Contains(out, "Address already in use"),
				fmt.Errorf("redis-server on port %d quit before answering:\n%s", port, out)
		case <-giveUp:
			_ = cmd.Process.Kill()
			<-exited
			return false, fmt.Errorf("redis-server on port %d did not answer PING within %v:\n%s", port, readyTimeout, output.String())
		case <-tick.C:
		}
	}
	s.mu.Lock()
	s.cmd, s.exited, s.port = cmd, exited, port
	s.mu.Unlock()
	return false, nil
}

// answersPing reports whether a Redis server at addr answers PING.
func answersPing(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return false
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findRedisServer returns the path of redis-server, or "".
func findRedisServer() string {
	if path, err := exec.LookPath("redis-server"); err == nil {
		return path
	}
	const debian = "/usr/bin/redis-server"
	if info, err := os.Stat(debian); err == nil && !info.IsDir() {
		return debian
	}
	return ""
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
