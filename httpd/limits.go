package httpd

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"cookiestore/config"
)

// This file holds the limits per client address: failed logins, and a
// token bucket of new cookies. It also finds the client address behind
// trusted proxies.

// Limits of logins per client address. They are part of the protocol.
const (
	maxLoginFailures   = 10          // failures within loginFailureWindow that block the address
	loginFailureWindow = time.Minute // how long a failure counts
)

// maxClients bounds the addresses a tracker remembers. Past it the least
// recently seen address is forgotten, so that many addresses cannot grow
// memory without bound; one entry is about 200 bytes.
const maxClients = 1 << 16

// clientKey is the address that the limits count by: the IPv4 address, or
// the /64 network of an IPv6 address, since one host commonly holds a
// whole /64.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// clientAddr returns the address of the client that sent r: the peer, or,
// when the peer is one of the trusted proxies, the right-most address of
// X-Forwarded-For that is not itself a trusted proxy. The addresses to the
// left of it were written by the client and are not believed. The zero
// Addr means the peer address is unknown (not TCP).
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || len(trusted) == 0 || !inPrefixes(peer, trusted) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		hops := values[i]
		for hops != "" {
			var hop string
			if j := strings.LastIndexByte(hops, ','); j >= 0 {
				hop, hops = hops[j+1:], hops[:j]
			} else {
				hop, hops = hops, ""
			}
			a := parseAddr(strings.TrimSpace(hop))
			if !a.IsValid() {
				// A hop that a trusted proxy would not write: stop at the
				// last address that a trusted proxy vouched for.
				return client
			}
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseAddr reads "ip", "ip:port" or "[ip]:port".
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clients remembers, per client address, the recent failed logins and the
// new-cookie bucket. It is bounded by maxClients, least recently seen out
// first.
type clients struct {
	rate  float64 // new cookies per second; 0 = no bucket
	burst float64

	mu  sync.Mutex
	max int
	m   map[netip.Addr]*list.Element
	lru list.List // of *addrState, most recent first
}

type addrState struct {
	key    netip.Addr
	tokens float64 // new cookies left in the bucket
	filled int64   // when tokens was last computed, Unix nanoseconds
	fails  [maxLoginFailures]int64
	nfail  int // failures recorded in fails, a ring
}

func newClients(ws *config.WebSocket) *clients {
	cl := &clients{max: maxClients, m: make(map[netip.Addr]*list.Element)}
	rate, burst := ws.MaxNewCookiesPerSecond, ws.NewCookieBurst
	if rate == 0 {
		rate = config.DefaultMaxNewCookiesPerSecond
	}
	if burst == 0 {
		burst = config.DefaultNewCookieBurst
	}
	if rate > 0 && burst > 0 { // negative = unlimited
		cl.rate, cl.burst = float64(rate), float64(burst)
	}
	return cl
}

// get returns the entry of key, creating it, and marks it recently seen.
// The caller holds mu.
func (cl *clients) get(key netip.Addr, now int64) *addrState {
	if e, ok := cl.m[key]; ok {
		cl.lru.MoveToFront(e)
		return e.Value.(*addrState)
	}
	for cl.lru.Len() >= cl.max {
		old := cl.lru.Back()
		cl.lru.Remove(old)
		delete(cl.m, old.Value.(*addrState).key)
	}
	c := &addrState{key: key, tokens: cl.burst, filled: now}
	cl.m[key] = cl.lru.PushFront(c)
	return c
}

// takeCookie takes one new cookie from the bucket of a, and reports
// whether there was one.
func (cl *clients) takeCookie(a netip.Addr, now time.Time) bool {
	if cl.rate == 0 || !a.IsValid() {
		return true
	}
	ns := now.UnixNano()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	c := cl.get(clientKey(a), ns)
	if elapsed := ns - c.filled; elapsed > 0 {
		c.tokens = min(cl.burst, c.tokens+float64(elapsed)/1e9*cl.rate)
		c.filled = ns
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// loginBlocked reports whether a has failed maxLoginFailures logins within
// the last loginFailureWindow.
func (cl *clients) loginBlocked(a netip.Addr, now time.Time) bool {
	if !a.IsValid() {
		return false
	}
	ns := now.UnixNano()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	e, ok := cl.m[clientKey(a)]
	if !ok {
		return false
	}
	c := e.Value.(*addrState)
	if c.nfail < maxLoginFailures {
		return false
	}
	oldest := c.fails[c.nfail%maxLoginFailures] // the ring is full: the next slot is the oldest
	return ns-oldest < int64(loginFailureWindow)
}

// loginFailed records a failed login of a.
func (cl *clients) loginFailed(a netip.Addr, now time.Time) {
	if !a.IsValid() {
		return
	}
	ns := now.UnixNano()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	c := cl.get(clientKey(a), ns)
	c.fails[c.nfail%maxLoginFailures] = ns
	c.nfail++
	if c.nfail >= 2*maxLoginFailures {
		c.nfail -= maxLoginFailures // keeps the ring position, bounds the counter
	}
}

// size returns the number of addresses remembered.
func (cl *clients) size() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.lru.Len()
}
