package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The proxy measures: latchkey in front of an app (UPSTREAM), signed in,
// against a bare httputil.ReverseProxy tuned as a proxy should be (256
// idle connections to the app, a buffer pool), both in front of the same
// bare app, each in a process of its own; the forward-auth check against
// the bare handler; and memory at 1,000 proxied keep-alive connections.

// serveFlag makes the bench binary serve a yardstick instead of
// measuring: "-serve bare ADDR" or "-serve proxy ADDR UPSTREAM".
const serveFlag = "-serve"

// serve runs a yardstick until the process is stopped.
func serve(args []string) error {
	if len(args) < 2 {
		return errors.New("want bare ADDR or proxy ADDR UPSTREAM")
	}
	l, err := net.Listen("tcp", args[1])
	if err != nil {
		return err
	}
	var h http.Handler
	switch {
	case args[0] == "bare":
		page := []byte(barePage)
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
		})
	case args[0] == "proxy" && len(args) == 3:
		if h, err = bareProxy(args[2]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown yardstick %q", args)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}

// bareProxy is httputil.ReverseProxy as a proxy in front of an app should
// be: 256 idle connections to it instead of Go's 2 (without which most
// requests under load open a connection), and a pool of copy buffers.
func bareProxy(upstream string) (http.Handler, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		BufferPool: &copyBuffers{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}},
		// wrk closing its connections at the end of a load cancels the
		// requests in flight: nothing to log.
		ErrorLog: log.New(io.Discard, "", 0),
	}, nil
}

type copyBuffers struct{ pool sync.Pool }

func (b *copyBuffers) Get() []byte  { return b.pool.Get().(*[32 << 10]byte)[:] }
func (b *copyBuffers) Put(p []byte) { b.pool.Put((*[32 << 10]byte)(p)) }

// yardstick is a process of the bench binary serving a yardstick.
type yardstick struct {
	url string
	cmd *exec.Cmd
}

// startYardstick runs "bench -serve args…" on a free port and waits until
// it answers.
func startYardstick(ctx context.Context, args ...string) (*yardstick, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(self, append([]string{serveFlag, args[0], addr}, args[1:]...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s yardstick: %w", args[0], err)
	}
	y := &yardstick{url: "http://" + addr, cmd: cmd}
	deadline := time.Now().Add(readyTimeout)
	for {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return y, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			y.stop()
			return nil, fmt.Errorf("the %s yardstick did not start", args[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (y *yardstick) stop() {
	_ = y.cmd.Process.Signal(syscall.SIGTERM)
	_ = y.cmd.Wait()
}

// proxyResult is one proxied route under load, against its yardstick.
type proxyResult struct {
	name   string
	target float64 // minimum ratio to the yardstick; 0 for the yardstick
	load   load    // of the median round
	ratio  float64 // the median of the rounds' ratios to the yardstick
	p99    float64 // the median of the rounds' p99 ÷ the yardstick's p99
}

// proxyRounds is how many times each proxied route is loaded.
const proxyRounds = 3

// medianRatio is the median of the ratios of each round of loads to the
// same round of yardstick.
func medianRatio(loads, yardstick []load) float64 {
	ratios := make([]float64, len(loads))
	for i := range loads {
		ratios[i] = loads[i].perSecond / yardstick[i].perSecond
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

// medianP99 is the median of the ratios of each round's p99 to the same
// round's yardstick's p99.
func medianP99(loads, yardstick []load) float64 {
	ratios := make([]float64, len(loads))
	for i := range loads {
		ratios[i] = float64(loads[i].p99) / float64(yardstick[i].p99)
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

// medianLoad is the load of the median round: by its ratio to the
// yardstick when there is one, else by its rate.
func medianLoad(loads, yardstick []load) load {
	idx := make([]int, len(loads))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		if yardstick == nil {
			return loads[i].perSecond
		}
		return loads[i].perSecond / yardstick[i].perSecond
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	return loads[idx[len(idx)/2]]
}

// proxyPrefix is where latchkey's own routes are in front of an app.
const proxyPrefix = "/.latchkey"

// measureProxy runs the proxy measures, and the memory measure of
// latchkey's own protected route: dashboard, served by process pid, with
// the session cookie.
func (b *bench) measureProxy(ctx context.Context, bin string, pid int, dashboard, cookie string) error {
	upstream, err := startYardstick(ctx, "bare")
	if err != nil {
		return err
	}
	defer upstream.stop()
	tuned, err := startYardstick(ctx, "proxy", upstream.url)
	if err != nil {
		return err
	}
	defer tuned.stop()
	plain, err := startAppWith(bin, filepath.Join(b.dir, "proxy"), "embedded", proxyPrefix,
		"UPSTREAM="+upstream.url, "IDENTITY_HEADERS=assertion=none")
	if err != nil {
		return err
	}
	defer plain.stop()
	full, err := startAppWith(bin, filepath.Join(b.dir, "proxy-token"), "embedded", proxyPrefix,
		"UPSTREAM="+upstream.url, "PASS_ACCESS_TOKEN=true")
	if err != nil {
		return err
	}
	defer full.stop()
	for _, a := range []*app{plain, full} {
		if err := a.waitReady(ctx); err != nil {
			return err
		}
	}
	b.step("logging in through latchkey in front of an app")
	plainSession, err := loginAt(ctx, plain.url, proxyPrefix)
	if err != nil {
		return err
	}
	fullSession, err := loginAt(ctx, full.url, proxyPrefix)
	if err != nil {
		return err
	}

	// The same request everywhere: a browser's page load, with its
	// session cookie (which the bare proxy passes on as it is).
	page := func(cookie string) []string {
		return []string{"Cookie: " + cookie, "Accept: text/html", "Sec-Fetch-Mode: navigate"}
	}
	// Rounds of the three, one after the other, so that each ratio is of
	// loads a moment apart on a machine whose pace changes; the median
	// round is reported.
	targets := []struct {
		name, url, cookie string
	}{
		{"bare tuned ReverseProxy", tuned.url, plainSession.cookie},
		{"latchkey's proxy, signed in", plain.url, plainSession.cookie},
		{"latchkey's proxy, token and assertion", full.url, fullSession.cookie},
	}
	rounds := make([][]load, len(targets))
	for round := range proxyRounds {
		for i, tt := range targets {
			b.step("round %d of %d", round+1, proxyRounds)
			l, err := b.measure1(ctx, tt.name, tt.url+"/app/page?tab=2", page(tt.cookie)...)
			if err != nil {
				return err
			}
			rounds[i] = append(rounds[i], l)
		}
	}
	b.proxy = []proxyResult{
		{name: "bare tuned ReverseProxy", load: medianLoad(rounds[0], nil)},
		{name: "latchkey's proxy, signed in", target: 0.90, load: medianLoad(rounds[1], rounds[0]), ratio: medianRatio(rounds[1], rounds[0]), p99: medianP99(rounds[1], rounds[0])},
		{name: "… with access token and assertion", target: 0.80, load: medianLoad(rounds[2], rounds[0]), ratio: medianRatio(rounds[2], rounds[0]), p99: medianP99(rounds[2], rounds[0])},
	}

	check := []string{"Cookie: " + plainSession.cookie, "X-Forwarded-Method: GET", "X-Forwarded-Uri: /app/page?tab=2", "X-Forwarded-Host: 127.0.0.1", "Accept: text/html", "Sec-Fetch-Mode: navigate"}
	if err := b.drive(ctx, "GET /.latchkey/check (forward auth)", 0.60, b.set.conns, plain.url+proxyPrefix+"/check", 200, check...); err != nil {
		return err
	}

	// Memory: each process's peak after wrk held 1,000 connections to it,
	// as Go's default garbage collector settings let it grow.
	b.step("VmHWM with 1,000 keep-alive connections: a bare handler, /dashboard, the bare proxy, latchkey's proxy")
	memoryBare, err := startYardstick(ctx, "bare")
	if err != nil {
		return err
	}
	defer memoryBare.stop()
	for _, m := range []struct {
		pid    int
		url    string
		cookie string
		into   *int64
	}{
		{memoryBare.cmd.Process.Pid, memoryBare.url + "/app/page", plainSession.cookie, &b.hwmBare},
		{pid, dashboard, cookie, &b.hwmDashboard},
		{tuned.cmd.Process.Pid, tuned.url + "/app/page", plainSession.cookie, &b.hwmBareProxy},
		{plain.cmd.Process.Pid, plain.url + "/app/page", plainSession.cookie, &b.hwmProxy},
	} {
		if _, err := b.wrk.run(ctx, m.url, manyConns, b.set.duration, page(m.cookie)...); err != nil {
			return err
		}
		if *m.into, err = memoryOf(m.pid, "VmHWM"); err != nil {
			return err
		}
	}
	return nil
}

// measure1 checks that url answers 200 with headers, warms it up and loads
// it for the set duration.
func (b *bench) measure1(ctx context.Context, name, url string, headers ...string) (load, error) {
	if err := check(ctx, url, 200, headers...); err != nil {
		return load{}, fmt.Errorf("%s: %w", name, err)
	}
	b.step("%s: wrk -t%d -c%d -d%v", name, b.set.threads, b.set.conns, b.set.duration)
	if _, err := b.wrk.run(ctx, url, b.set.conns, time.Second, headers...); err != nil {
		return load{}, err
	}
	l, err := b.wrk.run(ctx, url, b.set.conns, b.set.duration, headers...)
	if err != nil {
		return load{}, err
	}
	if l.errors > 0 {
		return load{}, fmt.Errorf("%s: %d of %d requests failed", name, l.errors, l.requests)
	}
	return l, nil
}

// loginAt logs in as Ada to latchkey at base, its routes under prefix.
func loginAt(ctx context.Context, base, prefix string) (*signedIn, error) {
	br, err := newBrowser(base, nil)
	if err != nil {
		return nil, err
	}
	br.prefix = prefix
	s, err := br.login(ctx, "ada")
	if err != nil {
		return nil, fmt.Errorf("log in to %s: %w", base, err)
	}
	return s, nil
}

// reportProxy prints the proxy table: each route as a ratio to the bare
// tuned proxy measured in the same run, its rate and its p99.
func (b *bench) reportProxy(bare load) {
	if len(b.proxy) == 0 {
		return
	}
	const row = "%-40s %8s %8s %8s %9s %7s %-6s %6s %5s %s\n"
	fmt.Fprintf(b.out, "\n"+row, "proxied route (bare app)", "req/s", "p50", "p99", "× proxy", "target", "", "p99 ×", "≤", "")
	for _, r := range b.proxy {
		rate, p50, p99 := fmt.Sprintf("%.0f", r.load.perSecond), ms(r.load.p50).String(), ms(r.load.p99).String()
		if r.target == 0 {
			fmt.Fprintf(b.out, row, r.name, rate, p50, p99, "1.00", "", "", "1.00", "", fmt.Sprintf("(%.2f× the bare handler)", r.load.perSecond/bare.perSecond))
			continue
		}
		fmt.Fprintf(b.out, row, r.name, rate, p50, p99, fmt.Sprintf("%.2f", r.ratio), fmt.Sprintf("≥ %.2f", r.target), verdict(r.ratio >= r.target),
			fmt.Sprintf("%.2f", r.p99), "2", verdict(r.p99 <= 2))
	}
}
