package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// endingTrials is how many sessions the cross-instance measure ends.
const endingTrials = 20

// endingReach measures how long a logout on one instance takes to reach
// another on the same Redis: two instances share one session secret, as
// the instances of one site do; each trial signs in on A, views A's
// dashboard (so that A remembers the session), logs out on B and asks A
// for the dashboard again and again until A sends the browser to log in.
// It returns the trials' times, shortest first.
func endingReach(ctx context.Context, bin, dir, store string) ([]time.Duration, error) {
	secret := "SESSION_SECRET=" + rand.Text() + rand.Text()
	var instances [2]*app
	for i := range instances {
		a, err := startAppWith(bin, filepath.Join(dir, fmt.Sprintf("instance-%d", i)), store, "", secret)
		if err != nil {
			return nil, err
		}
		defer a.stop()
		if err := a.waitReady(ctx); err != nil {
			return nil, err
		}
		instances[i] = a
	}
	a, b := instances[0], instances[1]
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	status := func(req *http.Request, cookie string) (int, error) {
		req.Header.Set("Cookie", cookie)
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	dashboard := func(cookie string) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, a.url+"/dashboard", nil)
		return status(req, cookie)
	}
	var times []time.Duration
	for range endingTrials {
		s, err := loginOnce(ctx, a.url, "alan")
		if err != nil {
			return nil, err
		}
		if code, err := dashboard(s.cookie); err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("instance A's dashboard: %d, %v", code, err)
		}
		req, _ := http.NewRequest(http.MethodPost, b.url+"/logout", strings.NewReader(url.Values{"csrf": {s.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code, err := status(req, s.cookie); err != nil || code != http.StatusSeeOther {
			return nil, fmt.Errorf("log out on instance B: %d, %v", code, err)
		}
		ended := time.Now()
		for {
			code, err := dashboard(s.cookie)
			if err != nil {
				return nil, err
			}
			if code == http.StatusSeeOther {
				break
			}
			if code != http.StatusOK || time.Since(ended) > 10*time.Second {
				return nil, fmt.Errorf("instance A still answers %d for a session ended on B %v ago", code, time.Since(ended))
			}
		}
		times = append(times, time.Since(ended))
	}
	slices.Sort(times)
	return times, nil
}
