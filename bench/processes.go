package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds the wait for a started process to answer.
const readyTimeout = 15 * time.Second

// build compiles the app as a release would, into dir, and returns the
// binary's path.
func build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "latchkey")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build latchkey: %w\n%s", err, out)
	}
	return bin, nil
}

// app is a running latchkey process with the built-in provider.
type app struct {
	url     string
	prefix  string // where its own routes are: "" or "/.latchkey"
	logPath string
	data    string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startApp starts the binary on a free port of 127.0.0.1 with its session
// store in store ("embedded" or a redis:// URL) and its files in dir. It
// returns once the process has started, not once it is ready.
func startApp(bin, dir, store string) (*app, error) {
	return startAppWith(bin, dir, store, "")
}

// startAppWith is startApp with latchkey's routes under prefix ("" for
// the root) and env added to its environment.
func startAppWith(bin, dir, store, prefix string, env ...string) (*app, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startAppAt(bin, dir, store, prefix, port, env...)
}

// startAppAt is startAppWith on port of 127.0.0.1, for a caller that must
// know the app's URL before it starts.
func startAppAt(bin, dir, store, prefix string, port int, env ...string) (*app, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	a := &app{
		prefix:  prefix,
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		logPath: filepath.Join(dir, "latchkey.log"),
		data:    filepath.Join(dir, "data"),
		exited:  make(chan struct{}),
	}
	logFile, err := os.Create(a.logPath)
	if err != nil {
		return nil, fmt.Errorf("create app log: %w", err)
	}
	defer logFile.Close()
	a.cmd = exec.Command(bin, "--env-file=")
	// A clean environment: nothing of the caller's (an OIDC_ISSUER, say)
	// may change what is measured.
	a.cmd.Env = []string{
		"PORT=" + strconv.Itoa(port),
		"HOST=127.0.0.1",
		"BASE_URL=" + a.url,
		"SESSION_STORE=" + store,
		"DATA_DIR=" + a.data,
		"SESSION_SECRET=" + rand.Text() + rand.Text(),
		"LOG_LEVEL=info",
	}
	a.cmd.Env = append(a.cmd.Env, env...)
	a.cmd.Stdout, a.cmd.Stderr = logFile, logFile
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start latchkey: %w", err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	return a, nil
}

// waitReady polls /readyz until it answers 200.
func (a *app) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.url+a.prefix+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-a.exited:
			return fmt.Errorf("latchkey exited before it was ready; its log:\n%s", a.log())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("latchkey was not ready within %v; its log:\n%s", readyTimeout, a.log())
		}
	}
}

// stop ends the process as a service manager would, and waits for it.
func (a *app) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

func (a *app) log() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

// cpuTime is the CPU time a process has used so far, in user and kernel
// mode (utime + stime of /proc/PID/stat, in the kernel's clock ticks of
// 10 ms: USER_HZ is 100 on Linux).
func cpuTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted from the last ')'. After it come state (field 3), ...,
	// utime (14) and stime (15).
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, errors.New("process stat has no CPU times")
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read process CPU time: %w", err)
		}
		ticks += n
	}
	const tick = 10 * time.Millisecond
	return time.Duration(ticks) * tick, nil
}

// memoryOf reads one of the memory figures of a process's /proc status,
// such as VmHWM (the most it was ever resident).
func memoryOf(pid int, field string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read %s: %w", field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in process status", field)
}

// requestsTo counts the requests to path in the app's request log.
func (a *app) requestsTo(path string) int {
	return strings.Count(a.log(), " path="+path+" ")
}

// writeTransactions is the id of the embedded store's last write
// transaction. bbolt keeps it in two meta pages at the start of the file,
// written alternately, so the larger valid one is the latest.
func (a *app) writeTransactions() (uint64, error) {
	f, err := os.Open(filepath.Join(a.data, "sessions.db"))
	if err != nil {
		return 0, fmt.Errorf("open session store file: %w", err)
	}
	defer f.Close()
	// A meta page: 16 bytes of page header, then magic, version, page size
	// (uint32 each), ..., and the transaction id at byte 64.
	const magic, pageSizeAt, txidAt = 0xED0CDAED, 24, 64
	page := make([]byte, 80)
	var txid uint64
	var offset int64
	for range 2 {
		if _, err := f.ReadAt(page, offset); err != nil {
			return 0, fmt.Errorf("read session store meta page: %w", err)
		}
		if binary.LittleEndian.Uint32(page[16:]) != magic {
			return 0, errors.New("session store file has no bbolt meta page")
		}
		txid = max(txid, binary.LittleEndian.Uint64(page[txidAt:]))
		offset = int64(binary.LittleEndian.Uint32(page[pageSizeAt:]))
	}
	return txid, nil
}

// redisServer is a throw-away redis-server that keeps nothing on disk.
type redisServer struct {
	url    string
	client *redis.Client
	cmd    *exec.Cmd
}

// startRedis starts redis-server on a free port, or returns nil when it
// is not installed.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := &redisServer{
		url:    "redis://" + addr + "/0",
		client: redis.NewClient(&redis.Options{Addr: addr}),
		cmd:    cmd,
	}
	deadline := time.Now().Add(readyTimeout)
	for r.client.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server did not answer within %v", readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, nil
}

// writes counts the changes made to Redis's data: its count of changes
// since the last save, and this server never saves.
func (r *redisServer) writes(ctx context.Context) (int64, error) {
	info, err := r.client.Info(ctx, "persistence").Result()
	if err != nil {
		return 0, fmt.Errorf("read redis persistence info: %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "rdb_changes_since_last_save:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read redis changes: %w", err)
			}
			return n, nil
		}
	}
	return 0, errors.New("redis reports no rdb_changes_since_last_save")
}

func (r *redisServer) stop() {
	_ = r.client.Close()
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// barePage is what the bare handler answers: a small fixed HTML page.
const barePage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bare</title></head>
<body><p>Hello from a bare net/http handler.</p></body></html>
`

// startBare serves barePage from this process on a free port, the
// yardstick every route is measured against.
func startBare() (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for the bare handler: %w", err)
	}
	page := []byte(barePage)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
