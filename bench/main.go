// Command bench is latchkey's load benchmark. It builds the release
// binary, starts it with the built-in provider next to a bare net/http
// handler (and Redis, when redis-server is installed), logs in to get a
// real session, drives each route with wrk and prints one table: every
// number beside its target, the route rates as ratios to the bare handler
// measured in the same run.
//
//	go tool -modfile=tools.mod task bench     (or: go run ./bench)
//
// It exits non-zero only when it cannot run (wrk missing, the build
// failing, ...), never because a target is missed.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) == 5 && os.Args[1] == serveFlag && os.Args[2] == "idp" {
		// The provider of the login CPU measure, in a process of its own.
		if err := serveIdP(os.Args[3], os.Args[4]); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s idp: %v\n", serveFlag, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		// A yardstick of the proxy measures, in a process of its own.
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", serveFlag, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: cannot run: %v\n", err)
		os.Exit(1)
	}
}

// settings are the bench's flags.
type settings struct {
	duration time.Duration
	conns    int
	threads  int
	workers  int
	keep     bool
}

// run measures everything, then prints the table to stdout. Progress goes
// to stdout too, one line per step, so a slow run shows where it is.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	var set settings
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&set.duration, "d", 5*time.Second, "how long each load runs")
	fs.IntVar(&set.conns, "c", 32, "wrk connections")
	fs.IntVar(&set.threads, "t", 2, "wrk threads")
	fs.IntVar(&set.workers, "login-workers", 32, "browsers logging in at once for the login rate (as many as wrk's connections)")
	fs.BoolVar(&set.keep, "keep", false, "keep the temporary directory (binary, logs, data) for a look afterwards")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "latchkey-bench-")
	if err != nil {
		return fmt.Errorf("make temporary directory: %w", err)
	}
	if set.keep {
		fmt.Fprintln(stdout, "files in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	load, err := newWrk(dir, set.threads)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b := &bench{set: set, dir: dir, root: root, wrk: load, out: stdout}
	if err := b.measure(ctx); err != nil {
		return err
	}
	b.report()
	return nil
}

// bench holds the run's settings and what it has measured so far.
type bench struct {
	set  settings
	dir  string
	root string
	wrk  *wrk
	out  io.Writer

	binarySize   int64
	startToReady time.Duration
	lookup       time.Duration // bolt Load in a store of 1,000,000 sessions
	routes       []routeResult
	redisMissing bool
	writesBolt   uint64
	writesRedis  int64
	logins       int64
	loginTime    time.Duration
	providerHits int // discovery and JWKS requests during the login run
	// Logins through a provider in another process, and the app's CPU
	// time over them (see idp.go).
	externalLogins int64
	externalCPU    time.Duration
	weight         pageWeight
	// The proxy measures (see proxy.go).
	proxy []proxyResult
	// VmHWM after 1,000 keep-alive connections: a bare handler,
	// latchkey's /dashboard, the bare proxy, latchkey's proxy.
	hwmBare, hwmDashboard, hwmBareProxy, hwmProxy int64
	// reach is how long logouts on one Redis instance took to be refused
	// on another, shortest first.
	reach []time.Duration
}

// The routes whose results other measures refer to.
const (
	dashboardEmbedded = "GET /dashboard, embedded store"
	dashboardRedis    = "GET /dashboard, Redis store"
)

// routeResult is one route under load.
type routeResult struct {
	name   string
	target float64 // minimum ratio to the bare handler; 0 for the bare one
	conns  int     // wrk's connections; the route is compared with the bare handler's load at as many
	load   load
}

func (b *bench) step(format string, a ...any) {
	fmt.Fprintf(b.out, "· "+format+"\n", a...)
}

// measure runs every measurement, in an order where none disturbs the next.
func (b *bench) measure(ctx context.Context) error {
	b.step("building the binary (CGO_ENABLED=0 -trimpath -ldflags \"-s -w\")")
	bin, err := build(ctx, b.root, b.dir)
	if err != nil {
		return err
	}
	info, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("stat binary: %w", err)
	}
	b.binarySize = info.Size()

	b.step("start to ready, 5 starts")
	if b.startToReady, err = startToReady(ctx, bin, filepath.Join(b.dir, "starts")); err != nil {
		return err
	}

	b.step("embedded store lookups in a store of 1,000,000 sessions (go test -bench)")
	if b.lookup, err = lookupMillion(ctx, b.root); err != nil {
		return err
	}

	bare, stopBare, err := startBare()
	if err != nil {
		return err
	}
	defer stopBare()
	embedded, err := startApp(bin, filepath.Join(b.dir, "embedded"), "embedded")
	if err != nil {
		return err
	}
	defer embedded.stop()
	if err := embedded.waitReady(ctx); err != nil {
		return err
	}
	var onRedis *app
	redis, err := startRedis(ctx, b.dir)
	switch {
	case err != nil:
		return err
	case redis == nil:
		b.redisMissing = true
		b.step("redis-server is not installed (Debian: apt-get install redis-server): skipping the Redis store")
	default:
		defer redis.stop()
		if onRedis, err = startApp(bin, filepath.Join(b.dir, "redis"), redis.url); err != nil {
			return err
		}
		defer onRedis.stop()
		if err := onRedis.waitReady(ctx); err != nil {
			return err
		}
	}

	b.step("logging in through the built-in provider")
	session, err := loginOnce(ctx, embedded.url, "ada")
	if err != nil {
		return err
	}
	// The sessions of the store writes measure are Grace's, used by nothing
	// until then: the login run's many sessions of Ada cannot end them (a
	// user keeps 32 at most), and their one due write is not made earlier.
	loggedIn := time.Now()
	browsing, err := loginOnce(ctx, embedded.url, "grace")
	if err != nil {
		return err
	}
	var redisSession, redisBrowsing *signedIn
	if onRedis != nil {
		if redisSession, err = loginOnce(ctx, onRedis.url, "ada"); err != nil {
			return err
		}
		if redisBrowsing, err = loginOnce(ctx, onRedis.url, "grace"); err != nil {
			return err
		}
	}
	if b.weight, err = weigh(ctx, embedded.url, "/"); err != nil {
		return err
	}
	asset, etag, err := assetETag(ctx, embedded.url, "/")
	if err != nil {
		return err
	}

	d, c := b.set.duration, b.set.conns
	if err := b.drive(ctx, "bare net/http handler", 0, c, bare, 200); err != nil {
		return err
	}
	if err := b.drive(ctx, dashboardEmbedded, 0.70, c, embedded.url+"/dashboard", 200, "Cookie: "+session.cookie); err != nil {
		return err
	}
	if onRedis != nil {
		if err := b.drive(ctx, dashboardRedis, 0.35, c, onRedis.url+"/dashboard", 200, "Cookie: "+redisSession.cookie); err != nil {
			return err
		}
	}
	if err := b.drive(ctx, "GET /, anonymous", 0.70, c, embedded.url+"/", 200); err != nil {
		return err
	}
	if err := b.drive(ctx, "GET asset, If-None-Match (304)", 0.80, c, asset, 304, "If-None-Match: "+etag); err != nil {
		return err
	}
	if onRedis != nil {
		if err := b.drive(ctx, "bare net/http handler", 0, manyConns, bare, 200); err != nil {
			return err
		}
		if err := b.drive(ctx, dashboardRedis, 0.25, manyConns, onRedis.url+"/dashboard", 200, "Cookie: "+redisSession.cookie); err != nil {
			return err
		}
	}

	if err := b.measureProxy(ctx, bin, embedded.cmd.Process.Pid, embedded.url+"/dashboard", session.cookie); err != nil {
		return err
	}

	b.step("logins for %v with %d browsers at once", d, b.set.workers)
	hits := func() int {
		return embedded.requestsTo("/dev-idp/.well-known/openid-configuration") + embedded.requestsTo("/dev-idp/keys")
	}
	hitsBefore := hits()
	if b.logins, b.loginTime, err = loginRate(ctx, embedded.url, b.set.workers, d); err != nil {
		return fmt.Errorf("login run: %w", err)
	}
	b.providerHits = hits() - hitsBefore

	b.step("app CPU of logins through a provider in another process, for %v with %d browsers at once", d, b.set.workers)
	external, err := startExternalLogin(ctx, bin, b.dir)
	if err != nil {
		return err
	}
	b.externalLogins, b.externalCPU, err = loginCPU(ctx, external, b.set.workers, d)
	external.stop()
	if err != nil {
		return fmt.Errorf("login run with a provider in another process: %w", err)
	}

	// A session records its use at most once a minute: browse with sessions
	// last seen over a minute ago, so that exactly one write is due.
	if wait := time.Until(loggedIn.Add(touchDue)); wait > 0 {
		b.step("waiting %v until the sessions were last seen over a minute ago", wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.step("store writes while one user browses /dashboard with %d connections for %v", b.set.conns, d)
	before, err := embedded.writeTransactions()
	if err != nil {
		return err
	}
	if err := b.browse(ctx, embedded.url, browsing); err != nil {
		return err
	}
	after, err := embedded.writeTransactions()
	if err != nil {
		return err
	}
	b.writesBolt = after - before
	if onRedis != nil {
		before, err := redis.writes(ctx)
		if err != nil {
			return err
		}
		if err := b.browse(ctx, onRedis.url, redisBrowsing); err != nil {
			return err
		}
		after, err := redis.writes(ctx)
		if err != nil {
			return err
		}
		b.writesRedis = after - before
		b.step("logouts on one of two Redis instances, refused on the other: %d sessions", endingTrials)
		if b.reach, err = endingReach(ctx, bin, filepath.Join(b.dir, "instances"), redis.url); err != nil {
			return fmt.Errorf("logouts across instances: %w", err)
		}
	}
	return nil
}

// browse loads /dashboard as s for the set duration, then checks that the
// session still opens it: writes counted for a session that had ended
// would be those of redirects to the login.
func (b *bench) browse(ctx context.Context, base string, s *signedIn) error {
	url := base + "/dashboard"
	if _, err := b.wrk.run(ctx, url, b.set.conns, b.set.duration, "Cookie: "+s.cookie); err != nil {
		return err
	}
	if err := check(ctx, url, 200, "Cookie: "+s.cookie); err != nil {
		return fmt.Errorf("after browsing: %w", err)
	}
	return nil
}

// manyConns is the load of the memory measures and of the Redis store's
// /dashboard at many connections: 1,000 keep-alive connections.
const manyConns = 1000

// touchDue is how long after its last use a session's next request
// records the use again (a minute), with a margin.
const touchDue = 61 * time.Second

// drive warms route up for a second, then loads it with conns
// connections for the set duration. It first checks that route answers
// want with those headers, so a session that does not work is not
// measured as a fast redirect.
func (b *bench) drive(ctx context.Context, name string, target float64, conns int, url string, want int, headers ...string) error {
	if err := check(ctx, url, want, headers...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.step("%s: wrk -t%d -c%d -d%v", name, b.set.threads, conns, b.set.duration)
	if _, err := b.wrk.run(ctx, url, conns, time.Second, headers...); err != nil {
		return err
	}
	l, err := b.wrk.run(ctx, url, conns, b.set.duration, headers...)
	if err != nil {
		return err
	}
	if l.errors > 0 {
		return fmt.Errorf("%s: %d of %d requests failed", name, l.errors, l.requests)
	}
	b.routes = append(b.routes, routeResult{name: name, target: target, conns: conns, load: l})
	return nil
}

// loginOnce logs in as user and returns the session.
func loginOnce(ctx context.Context, base, user string) (*signedIn, error) {
	br, err := newBrowser(base, nil)
	if err != nil {
		return nil, err
	}
	s, err := br.login(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("log in to %s: %w", base, err)
	}
	return s, nil
}

// startToReady starts the binary five times, each with a new embedded
// store, and returns the median time from starting the process to /readyz
// answering 200.
func startToReady(ctx context.Context, bin, dir string) (time.Duration, error) {
	var times []time.Duration
	for i := range 5 {
		start := time.Now()
		a, err := startApp(bin, filepath.Join(dir, strconv.Itoa(i)), "embedded")
		if err != nil {
			return 0, err
		}
		err = a.waitReady(ctx)
		times = append(times, time.Since(start))
		a.stop()
		if err != nil {
			return 0, err
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// lookupMillion runs the embedded store's lookup benchmark in a store of
// 1,000,000 sessions and returns the time of one lookup.
func lookupMillion(ctx context.Context, root string) (time.Duration, error) {
	const name = "BenchmarkLoadMillion"
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^"+name+"$", "-benchtime", "2s", "./auth/boltstore")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go test -bench %s: %w\n%s", name, err, out)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		// Names end in -GOMAXPROCS when that is more than 1.
		if len(f) < 4 || f[3] != "ns/op" || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return 0, fmt.Errorf("read %q: %w", line, err)
		}
		return time.Duration(ns * float64(time.Nanosecond)), nil
	}
	return 0, fmt.Errorf("%s printed no time:\n%s", name, out)
}

// moduleRoot is the directory of latchkey's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the bench inside latchkey's module (go run ./bench)")
	}
	return filepath.Dir(gomod), nil
}

// report prints the table: the routes first, as ratios to the bare
// handler, then every other measure beside its target. Notes below it say
// how the less obvious measures were taken.
func (b *bench) report() {
	fmt.Fprintf(b.out, "\nlatchkey load benchmark: wrk -t%d -c%d -d%v; %d CPUs (%s), %s\n\n",
		b.set.threads, b.set.conns, b.set.duration, runtime.NumCPU(), cpuModel(), runtime.Version())
	// Each route beside the bare handler under the same load: its rate
	// as a ratio, and its p99 as a multiple of the bare p99 (the target
	// is for the usual load of c connections).
	const routeRow = "%-36s %5s %8s %8s %8s %6s %6s %-6s %6s %5s %s\n"
	fmt.Fprintf(b.out, routeRow, "route", "conns", "req/s", "p50", "p99", "× bare", "target", "", "p99 ×", "≤", "")
	routes := slices.Clone(b.routes)
	slices.SortStableFunc(routes, func(x, y routeResult) int { return cmp.Compare(x.conns, y.conns) })
	bare := map[int]load{}
	for _, r := range routes {
		if r.target == 0 {
			bare[r.conns] = r.load
		}
	}
	for _, r := range routes {
		rate, p50, p99 := fmt.Sprintf("%.0f", r.load.perSecond), ms(r.load.p50).String(), ms(r.load.p99).String()
		conns := strconv.Itoa(r.conns)
		if r.target == 0 {
			fmt.Fprintf(b.out, routeRow, r.name, conns, rate, p50, p99, "1.00", "", "", "1.00", "", "")
			continue
		}
		base := bare[r.conns]
		ratio := r.load.perSecond / base.perSecond
		p99Ratio := float64(r.load.p99) / float64(base.p99)
		p99Target, p99Verdict := "", ""
		if r.conns == b.set.conns {
			p99Target, p99Verdict = "2", verdict(p99Ratio <= 2)
		}
		fmt.Fprintf(b.out, routeRow, r.name, conns, rate, p50, p99, fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≥ %.2f", r.target),
			verdict(ratio >= r.target), fmt.Sprintf("%.2f", p99Ratio), p99Target, p99Verdict)
	}
	if b.redisMissing {
		fmt.Fprintf(b.out, "%-36s %s\n", dashboardRedis, "skipped: redis-server is not installed")
	}
	b.reportProxy(bare[b.set.conns])

	fmt.Fprintln(b.out)
	w := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "measure\tresult\ttarget\t")
	row := func(name, result, target string, met bool) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, result, target, verdict(met))
	}
	rate := float64(b.logins) / b.loginTime.Seconds()
	row(fmt.Sprintf("complete logins/s (%d browsers)", b.set.workers), fmt.Sprintf("%.0f/s", rate), "≥ 800/s", rate >= 800)
	row("discovery+JWKS requests per login", fmt.Sprintf("%d in %d logins", b.providerHits, b.logins), "0 after the first", b.providerHits == 0)
	if b.externalLogins > 0 {
		perLogin := b.externalCPU / time.Duration(b.externalLogins)
		row("app CPU per login, provider in another process", fmt.Sprintf("%.2f ms (%v over %d logins)", float64(perLogin)/1e6, b.externalCPU, b.externalLogins),
			"≤ 0.8 ms", perLogin <= 800*time.Microsecond)
	}
	row("store writes while browsing (embedded)", strconv.FormatUint(b.writesBolt, 10), "≤ 1 per session per min", b.writesBolt <= 1)
	if !b.redisMissing {
		row("store writes while browsing (Redis)", strconv.FormatInt(b.writesRedis, 10), "≤ 1 per session per min", b.writesRedis <= 1)
		if n := len(b.reach); n > 0 {
			slowest := b.reach[n-1]
			row("logout on Redis instance B refused on A", fmt.Sprintf("median %v, slowest %v of %d", us(b.reach[n/2]), us(slowest), n), "≤ 50 ms", slowest <= 50*time.Millisecond)
		}
	}
	hwm := float64(b.hwmDashboard) / float64(b.hwmBare)
	row("VmHWM, /dashboard at 1,000 conns", fmt.Sprintf("%s: %.2f× a bare handler's %s", mb(b.hwmDashboard), hwm, mb(b.hwmBare)), "≤ 1.5×", hwm <= 1.5)
	hwm = float64(b.hwmProxy) / float64(b.hwmBare)
	row("VmHWM, proxied page at 1,000 conns", fmt.Sprintf("%s: %.2f× a bare handler's (the bare proxy: %s)", mb(b.hwmProxy), hwm, mb(b.hwmBareProxy)), "≤ 1.5×", hwm <= 1.5)
	row("embedded lookup, 1,000,000 sessions", fmt.Sprintf("%.1f µs", float64(b.lookup)/1e3), "≤ 10 µs", b.lookup <= 10*time.Microsecond)
	row(fmt.Sprintf("first visit to / (%d responses)", b.weight.files), kb(b.weight.first), "≤ 24 KB", b.weight.first <= 24<<10)
	row("repeat visit to /", kb(b.weight.repeat), "the HTML only", b.weight.repeat == b.weight.html)
	row("binary size", mb(b.binarySize), "≤ 25 MB", b.binarySize <= 25<<20)
	row("start to /readyz 200 (median of 5)", ms(b.startToReady).String(), "≤ 150 ms", b.startToReady <= 150*time.Millisecond)
	w.Flush()
	fmt.Fprintf(b.out, `
Routes: each beside the bare handler loaded with as many connections in the same run; "p99 ×" is the route's p99 over
  the bare p99 (target at %d connections). The app runs with Go's default GC settings (no GOGC, no GOMEMLIMIT).
Logins: each browser runs /login, authorize, sign-in page, POST, callback (token and userinfo), dashboard, then ends
  the session with POST /logout (not followed to the provider), for %v; discovery and JWKS requests are counted in the
  app's request log during that run.
App CPU per login: another app (embedded store) signs in through the repository's auth/oidctest provider, served by
  the bench binary in a process of its own (RS256 ID tokens, PKCE, userinfo; it approves at once, so there is no
  sign-in page): %d browsers log in and out as above for %v; the app's utime+stime (/proc/PID/stat) over the run ÷ the
  logins, so each login's logout is counted too.
Store writes: one session last seen over a minute ago (so one write is due), /dashboard with %d connections for %v;
  bbolt write transactions, Redis changes (rdb_changes_since_last_save).
Logout across instances: two more instances on the same Redis, sharing a session secret; 20 times, a session signed in
  and viewed on A is logged out on B, then A's /dashboard is asked for without pause until A sends it to log in; the
  time from B's answer to A's first refusal.
Embedded lookup: BenchmarkLoadMillion in auth/boltstore, Load of random keys in a store of 1,000,000 sessions.
Page weights: status lines, headers and bodies as sent with Accept-Encoding: gzip. 1 KB = 1024 B, 1 MB = 1024 KB.
Proxy: a browser's signed-in page load through latchkey (UPSTREAM, its own process, embedded store) and through a bare
  httputil.ReverseProxy with 256 idle connections and a buffer pool (its own process), both in front of the same bare app
  (its own process), in %d rounds of the three one after the other; each ratio (of rates, and of p99s to the bare
  proxy's) is the median of the rounds' ratios, each rate that of the median round. "Signed in" sends the identity
  headers without the assertion; "with access token and assertion" adds both. The check is /.latchkey/check as Caddy
  asks it.
VmHWM: each process's peak resident memory after wrk held 1,000 connections to it for %v: a bare handler (its own
  process), latchkey's /dashboard (the embedded store's app), the bare proxy and latchkey's proxy (signed in).
`, b.set.conns, b.set.duration, b.set.workers, b.set.duration, b.set.conns, b.set.duration, proxyRounds, b.set.duration)
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

// ms rounds d for the table: 10 µs below 10 ms, 100 µs above.
func ms(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// us rounds d to 10 µs for the table.
func us(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func kb(n int64) string { return fmt.Sprintf("%.1f KB", float64(n)/1024) }
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// cpuModel is the first CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(info)) {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}
