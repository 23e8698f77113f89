package handlers

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	proxies := append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, loopback...)
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "direct client", remote: "203.0.113.7:5000", want: "203.0.113.7"},
		{name: "direct client's X-Forwarded-For is ignored", remote: "203.0.113.7:5000", xff: []string{"198.51.100.1"}, trusted: loopback, want: "203.0.113.7"},
		{name: "through a trusted proxy", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1"}, trusted: loopback, want: "198.51.100.1"},
		{name: "what the client wrote before the proxy is not believed", remote: "127.0.0.1:5000", xff: []string{"1.2.3.4, 198.51.100.1"}, trusted: loopback, want: "198.51.100.1"},
		{name: "two trusted proxies", remote: "127.0.0.1:5000", xff: []string{"1.2.3.4, 198.51.100.1, 10.1.2.3"}, trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines", remote: "127.0.0.1:5000", xff: []string{"1.2.3.4", "198.51.100.1"}, trusted: loopback, want: "198.51.100.1"},
		{name: "no proxy trusted", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1"}, want: "127.0.0.1"},
		{name: "trusted proxy without the header", remote: "127.0.0.1:5000", trusted: loopback, want: "127.0.0.1"},
		{name: "garbage in the header", remote: "127.0.0.1:5000", xff: []string{"not-an-address"}, trusted: loopback, want: "127.0.0.1"},
		{name: "garbage before a good hop", remote: "127.0.0.1:5000", xff: []string{"junk, 198.51.100.1"}, trusted: loopback, want: "198.51.100.1"},
		{name: "IPv6 client", remote: "[::1]:5000", xff: []string{"2001:db8::1"}, trusted: loopback, want: "2001:db8::1"},
		{name: "IPv4-mapped peer", remote: "[::ffff:127.0.0.1]:5000", xff: []string{"198.51.100.1"}, trusted: loopback, want: "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/login", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted); got.String() != tt.want {
				t.Errorf("clientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(60, func() time.Time { return now })
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	for i := range 60 {
		if ok, _ := l.take(a); !ok {
			t.Fatalf("attempt %d of 60 refused", i+1)
		}
	}
	ok, wait := l.take(a)
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("61st attempt: allowed %v, wait %v; want refused, about a second", ok, wait)
	}
	if ok, _ := l.take(b); !ok {
		t.Error("another client was refused")
	}
	now = now.Add(time.Second)
	if ok, _ := l.take(a); !ok {
		t.Error("a second later, one more attempt should be allowed")
	}
	// Addresses of one IPv6 /64 share a bucket.
	v6 := netip.MustParseAddr("2001:db8:1:2::1")
	for range 60 {
		l.take(v6)
	}
	if ok, _ := l.take(netip.MustParseAddr("2001:db8:1:2:ffff::9")); ok {
		t.Error("another address of the same /64 got a fresh bucket")
	}
	if ok, _ := l.take(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Error("another /64 was refused")
	}
}

func TestLoginLimiterForgetsClients(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(60, func() time.Time { return now })
	for i := range 3 * limiterClients {
		l.take(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := len(l.buckets); n > limiterClients {
		t.Errorf("the limiter remembers %d clients, want at most %d", n, limiterClients)
	}
}
