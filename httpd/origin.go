package httpd

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"cookiestore/config"
)

// This file holds the checks that a request passes before any cookie is
// looked at: its Host (DNS rebinding) and its Origin (cross-site
// WebSocket hijacking, and the rotation's POST).

// hostRule is options.allowed_hosts.
type hostRule struct {
	set   bool       // false = the listener's default
	names []hostName // when set
}

// hostName is one allowed_hosts entry; port "" matches any port.
type hostName struct{ host, port string }

func newHostRule(h config.Hosts) hostRule {
	rule := hostRule{set: h.Set}
	for _, n := range h.Names {
		host, port := splitHost(n, "")
		rule.names = append(rule.names, hostName{host, port})
	}
	return rule
}

// allows reports whether a request for host (the Host header) passes,
// with tls telling the default port, on a listener at ln. Without a list,
// a listener on a loopback address answers the loopback names with its
// port only, so that a page whose DNS name was rebound to 127.0.0.1 cannot
// reach it; any other listener answers every host.
func (h hostRule) allows(host string, tls bool, ln net.Addr) bool {
	defPort := "80"
	if tls {
		defPort = "443"
	}
	name, port := splitHost(host, defPort)
	if h.set {
		for _, n := range h.names {
			if n.host == name && (n.port == "" || n.port == port) {
				return true
			}
		}
		return false
	}
	ta, ok := ln.(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return true
	}
	switch name {
	case "localhost", "127.0.0.1", "[::1]":
		return port == strconv.Itoa(ta.Port)
	}
	return false
}

// splitHost splits a Host header or allowed_hosts entry into a lower-case
// name (an IP address in its canonical form, IPv6 in brackets) and a port,
// defPort when it has none.
func splitHost(s, defPort string) (name, port string) {
	s = strings.ToLower(s)
	port = defPort
	if rest, ok := strings.CutPrefix(s, "["); ok {
		ip, after, _ := strings.Cut(rest, "]")
		if p, ok := strings.CutPrefix(after, ":"); ok && p != "" {
			port = p
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			ip = a.String()
		}
		return "[" + ip + "]", port
	}
	if h, p, ok := strings.Cut(s, ":"); ok {
		s = h
		if p != "" {
			port = p
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), port
	}
	return strings.TrimSuffix(s, "."), port
}

// listenerOf returns the address of the listener that r came in on: the
// one a Server bound, else the connection's local address.
func (t *Tracker) listenerOf(r *http.Request) net.Addr {
	if ln := t.listener.Load(); ln != nil {
		return *ln
	}
	ln, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ln
}

// hostAllowed is the Host check of options.allowed_hosts.
func (t *Tracker) hostAllowed(r *http.Request) bool {
	return t.hosts.allows(r.Host, t.requestScheme(r) == "https", t.listenerOf(r))
}

// misdirected answers a request for a host the server does not serve.
func misdirected(w http.ResponseWriter) {
	http.Error(w, "misdirected request: this server does not answer for that host", http.StatusMisdirectedRequest)
}

// requestScheme is "https" for a request that came over TLS, to this
// server or, as a trusted proxy says in X-Forwarded-Proto, to the proxy in
// front of it; else "http".
func (t *Tracker) requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if len(t.trusted) > 0 {
		if v := r.Header.Values("X-Forwarded-Proto"); len(v) > 0 && inPrefixes(parseAddr(r.RemoteAddr), t.trusted) {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if strings.EqualFold(strings.TrimSpace(last), "https") {
				return "https"
			}
		}
	}
	return "http"
}

// originAllowed is the origin check: no Origin header (not a browser), the
// same origin as the request (scheme, host and port), or a match of an
// allowed_origins pattern. "null" passes only with allow_null_origin.
func (t *Tracker) originAllowed(r *http.Request) bool {
	values := r.Header.Values("Origin")
	switch len(values) {
	case 0:
		return true
	case 1:
	default:
		return false
	}
	origin := strings.ToLower(values[0])
	if origin == "null" {
		return t.nullOrigin
	}
	host := ""
	if u, err := url.Parse(origin); err == nil && u.Host != "" {
		host = u.Host
		scheme := u.Scheme
		switch scheme {
		case "ws":
			scheme = "http"
		case "wss":
			scheme = "https"
		}
		reqScheme := t.requestScheme(r)
		if scheme == reqScheme && u.Path == "" && u.User == nil {
			def := "80"
			if scheme == "https" {
				def = "443"
			}
			on, op := splitHost(host, def)
			rn, rp := splitHost(r.Host, def)
			if on == rn && op == rp {
				return true
			}
		}
	}
	for _, p := range t.origins {
		if globMatch(p, origin) {
			return true
		}
		// A pattern without a scheme names hosts, e.g. "*.example.com".
		if host != "" && !strings.Contains(p, "://") && globMatch(p, host) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern, where "*" matches any run of
// characters, as in Crossbar's allowed_origins. Greedy matching with one
// backtrack point keeps it linear in practice.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// hostGuard applies the Host check to every request of a transport that
// has a tracked WebSocket service: its page, status, metrics and static
// files too, since DNS rebinding reaches them all. A Host passes when one
// of the transport's tracked services allows it; each WebSocket service
// checks its own list again. Without a tracked service, h is returned as
// it is.
func hostGuard(trackers []*Tracker, h http.Handler) http.Handler {
	var tracked []*Tracker
	for _, t := range trackers {
		if t.cookie != nil {
			tracked = append(tracked, t)
		}
	}
	if len(tracked) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, t := range tracked {
			if t.hostAllowed(r) {
				h.ServeHTTP(w, r)
				return
			}
		}
		misdirected(w)
	})
}
