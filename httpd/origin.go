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

// hostName is one allowed_hosts entry.
type hostName struct {
	name string     // a lower-case DNS name, or ""
	addr netip.Addr // an IP address, or the zero Addr
	port int        // 0 = any port
}

func newHostRule(h config.Hosts) hostRule {
	rule := hostRule{set: h.Set}
	for _, n := range h.Names {
		name, addr, port, ok := splitHost(n, 0)
		if !ok {
			continue // config checked it; a hand-built entry that does not parse matches nothing
		}
		rule.names = append(rule.names, hostName{strings.ToLower(name), addr, port})
	}
	return rule
}

// allows reports whether a request for host (the Host header) passes,
// with tls telling the default port, on a listener at ln. Without a list,
// a listener on a loopback address answers the loopback names with its
// port only, so that a page whose DNS name was rebound to 127.0.0.1 cannot
// reach it; any other listener answers every host. It allocates nothing.
func (h hostRule) allows(host string, tls bool, ln net.Addr) bool {
	defPort := 80
	if tls {
		defPort = 443
	}
	if !h.set {
		ta, ok := ln.(*net.TCPAddr)
		if !ok || !ta.IP.IsLoopback() {
			return true
		}
		name, addr, port, ok := splitHost(host, defPort)
		if !ok || port != ta.Port {
			return false
		}
		return strings.EqualFold(name, "localhost") || addr == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || addr == netip.IPv6Loopback()
	}
	name, addr, port, ok := splitHost(host, defPort)
	if !ok {
		return false
	}
	for _, n := range h.names {
		if (n.port == 0 || n.port == port) && (addr.IsValid() && n.addr == addr || !addr.IsValid() && strings.EqualFold(n.name, name)) {
			return true
		}
	}
	return false
}

// splitHost splits a Host header or allowed_hosts entry into a DNS name
// (without a trailing dot) or an IP address (IPv6 in brackets, not mapped),
// and a port, defPort when it has none.
func splitHost(s string, defPort int) (name string, addr netip.Addr, port int, ok bool) {
	port = defPort
	var p string
	if rest, isV6 := strings.CutPrefix(s, "["); isV6 {
		ip, after, found := strings.Cut(rest, "]")
		if !found {
			return "", netip.Addr{}, 0, false
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", netip.Addr{}, 0, false
		}
		addr = a
		if after != "" {
			if p, found = strings.CutPrefix(after, ":"); !found {
				return "", netip.Addr{}, 0, false
			}
		}
	} else {
		name, p, _ = strings.Cut(s, ":")
		if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
			addr, name = a, ""
		} else {
			name = strings.TrimSuffix(name, ".")
		}
		if name == "" && !addr.IsValid() {
			return "", netip.Addr{}, 0, false
		}
	}
	if p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", netip.Addr{}, 0, false
		}
		port = n
	}
	return name, addr, port, true
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
			def := 80
			if scheme == "https" {
				def = 443
			}
			on, oa, op, ok1 := splitHost(host, def)
			rn, ra, rp, ok2 := splitHost(r.Host, def)
			if ok1 && ok2 && op == rp && oa == ra && strings.EqualFold(on, rn) {
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
