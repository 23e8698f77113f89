package handlers

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address of the client a request comes from: the peer
// of the connection, or, when that peer is one of the trusted proxies, the
// last address in X-Forwarded-For that is not a trusted proxy. A client
// can write anything into X-Forwarded-For; only what trusted proxies
// appended to it is believed.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, hop = list[:j], list[j+1:]
			} else {
				list, hop = "", list
			}
			next, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				// Whatever came before a malformed entry was not written by
				// a trusted proxy: the last good hop is the client.
				return addr
			}
			addr = next.Unmap()
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
