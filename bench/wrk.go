package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkScript sets the headers given after "--" on every request and prints
// wrk's results as one line of key=value pairs (latencies in µs).
const wrkScript = `
init = function(args)
  for _, h in ipairs(args) do
    local name, value = h:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("result requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`

// load is one wrk run's outcome.
type load struct {
	requests  int64
	perSecond float64
	p50, p99  time.Duration
	errors    int64
}

// wrk drives a load generator: Debian's wrk with the script above.
type wrk struct {
	bin     string
	script  string
	threads int
}

// newWrk finds wrk and writes its script into dir.
func newWrk(dir string, threads int) (*wrk, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("wrk is not installed (Debian: apt-get install wrk): %w", err)
	}
	script := filepath.Join(dir, "latchkey.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return nil, fmt.Errorf("write wrk script: %w", err)
	}
	return &wrk{bin: bin, script: script, threads: threads}, nil
}

// run loads url with conns keep-alive connections for d, sending headers
// ("Name: value") with every request.
func (w *wrk) run(ctx context.Context, url string, conns int, d time.Duration, headers ...string) (load, error) {
	args := []string{
		"-t" + strconv.Itoa(min(w.threads, conns)), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s", "--timeout", "5s",
		"-s", w.script, url, "--",
	}
	cmd := exec.CommandContext(ctx, w.bin, append(args, headers...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return load{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		fields, ok := strings.CutPrefix(sc.Text(), "result ")
		if !ok {
			continue
		}
		v := map[string]int64{}
		for f := range strings.FieldsSeq(fields) {
			name, value, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return load{}, fmt.Errorf("wrk %s: bad result %q", url, f)
			}
			v[name] = n
		}
		seconds := float64(v["duration_us"]) / 1e6
		return load{
			requests:  v["requests"],
			perSecond: float64(v["requests"]) / seconds,
			p50:       time.Duration(v["p50_us"]) * time.Microsecond,
			p99:       time.Duration(v["p99_us"]) * time.Microsecond,
			errors:    v["errors"],
		}, nil
	}
	return load{}, fmt.Errorf("wrk %s printed no result:\n%s", url, out.String())
}
