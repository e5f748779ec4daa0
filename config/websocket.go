package config

import (
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cookiestore/record"
)

// This file walks a WebSocket service, a "websocket" path service or
// transport, and what it holds: its options and its cookie block. The
// cookie's store is walked in store.go, the auth block in auth.go. As in
// walk.go, each block is a table of its keys.

// Limits of the values, in the units of the JSON keys.
const (
	maxMaxAgeSeconds           = 315360000 // ten years of 365 days
	maxMaxMessageSize          = 64 << 20  // Crossbar's own upper bound for max_message_size
	maxMaxConnectionsPerCookie = 1_000_000
	maxNewCookieRate           = 1_000_000 // per second and client address
	maxNewCookieBurst          = 1_000_000
)

// cookieNamePattern is Crossbar's rule for cookie names.
var cookieNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]+$`)

// The cookie name prefixes that browsers enforce (a cookiestore extension of
// Crossbar's name rule). Both need the Secure attribute.
const (
	hostPrefix   = "__Host-"   // also Path=/ and no Domain, which the tracker always sends
	securePrefix = "__Secure-" // Secure only
)

// crossbarWebSocketOptions are Crossbar's (autobahn's) WebSocket options
// that cookiestore accepts and does not act on.
func crossbarWebSocketOptions() []string {
	return []string{
		"external_port", "enable_hybi10", "enable_rfc6455", "enable_hixie76",
		"open_handshake_timeout", "close_handshake_timeout", "enable_webstatus", "validate_utf8",
		"mask_server_frames", "require_masked_client_frames", "apply_mask", "max_frame_size",
		"auto_fragment_size", "fail_by_drop", "echo_close_codereason", "tcp_nodelay",
		"auto_ping_interval", "auto_ping_timeout", "auto_ping_size", "enable_flash_policy",
		"flash_policy", "compression", "require_websocket_subprotocol", "show_server_version",
	}
}

// websocket returns the block of a WebSocket service whose object is n,
// with the service and its store as destinations. A transport adds its
// endpoint to the block.
func (p *parser) websocket(n *node, tlsOn bool, dst **WebSocket, store **Store) block {
	ws := &WebSocket{
		MaxMessageSize:          DefaultMaxMessageSize,
		MaxConnectionsPerCookie: DefaultMaxConnectionsPerCookie,
		MaxNewCookiesPerSecond:  DefaultMaxNewCookiesPerSecond,
		NewCookieBurst:          DefaultNewCookieBurst,
	}
	*dst = ws
	hasCookie := n.get("cookie") != nil
	return block{keys: keys{
		"type":        known,
		"options":     func(p *parser, path string, v *node) { p.object(path, v, options(ws)) },
		"cookie":      func(p *parser, path string, v *node) { ws.Cookie, *store = p.cookie(path, v, tlsOn) },
		"auth":        func(p *parser, path string, v *node) { ws.Auth = p.auth(path, v, hasCookie) },
		"id":          ignored,
		"url":         ignored,
		"serializers": ignored,
		"debug":       ignored,
	}}
}

// options is the block of a WebSocket service's "options".
func options(ws *WebSocket) block {
	k := keys{
		"allowed_origins":            list(originPattern(&ws.AllowedOrigins)),
		"allow_null_origin":          flag(&ws.AllowNullOrigin),
		"allowed_hosts":              hostList(&ws.AllowedHosts),
		"max_message_size":           integer(&ws.MaxMessageSize, 1, maxMaxMessageSize),
		"max_connections_per_cookie": integer(&ws.MaxConnectionsPerCookie, 1, maxMaxConnectionsPerCookie),
		"max_new_cookies_per_second": limit(&ws.MaxNewCookiesPerSecond, maxNewCookieRate),
		"new_cookie_burst":           limit(&ws.NewCookieBurst, maxNewCookieBurst),
		"trusted_proxies":            list(proxy(&ws.TrustedProxies)),
	}
	for _, o := range crossbarWebSocketOptions() {
		k[o] = ignored
	}
	return block{keys: k}
}

// originPattern appends an allowed_origins pattern.
func originPattern(dst *[]string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.nonEmpty(path, v)
		if !ok {
			return
		}
		if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			p.errorf(path, "must be an origin pattern without spaces or control characters, got %q", s)
			return
		}
		*dst = append(*dst, s)
	}
}

// hostList reads allowed_hosts: a list of at least one host[:port].
func hostList(dst *Hosts) rule {
	return func(p *parser, path string, v *node) {
		if !p.isArray(path, v) {
			return
		}
		if len(v.elems) == 0 {
			p.errorf(path, "must name at least one host; leave allowed_hosts out for the default")
			return
		}
		h := Hosts{Set: true, Names: []string{}}
		for i, e := range v.elems {
			if name, ok := p.host(index(path, i), e); ok {
				h.Names = append(h.Names, name)
			}
		}
		*dst = h
	}
}

// host reads one host[:port] of allowed_hosts and returns it in lower
// case, an IPv6 address in brackets and in its canonical form.
func (p *parser) host(path string, v *node) (string, bool) {
	s, ok := p.nonEmpty(path, v)
	if !ok {
		return "", false
	}
	s = strings.ToLower(s)
	bad := func() (string, bool) {
		p.errorf(path, `must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got %q`, s)
		return "", false
	}
	var host, port string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		ip, after, found := strings.Cut(rest, "]")
		addr, err := netip.ParseAddr(ip)
		if !found || err != nil || !addr.Is6() || addr.Zone() != "" {
			return bad()
		}
		host = "[" + addr.String() + "]"
		if after != "" {
			if port, ok = strings.CutPrefix(after, ":"); !ok {
				return bad()
			}
		}
	} else {
		if strings.Count(s, ":") > 1 {
			p.errorf(path, `an IPv6 address must be in brackets, e.g. "[::1]" or "[::1]:8080", got %q`, s)
			return "", false
		}
		host, port, _ = strings.Cut(s, ":")
		if addr, err := netip.ParseAddr(host); err == nil {
			host = addr.String()
		} else if len(host) > 253 || !hostPattern.MatchString(host) {
			return bad()
		}
		if strings.Contains(s, ":") && port == "" {
			return bad()
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return bad()
		}
		host += ":" + port
	}
	return host, true
}

// proxy appends a trusted_proxies entry: a CIDR network, or one address.
func proxy(dst *[]netip.Prefix) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.nonEmpty(path, v)
		if !ok {
			return
		}
		if strings.Contains(s, "/") {
			pre, err := netip.ParsePrefix(s)
			if err != nil {
				p.errorf(path, `must be an IP address or a CIDR network such as "10.0.0.0/8", got %q`, s)
				return
			}
			// 10.0.0.1/8 trusts a whole /8 where one address was likely
			// meant: make the writer say which.
			if m := pre.Masked(); m != pre {
				p.errorf(path, "%q has address bits set past its prefix length: write %q for the network or %q for one address",
					s, m.String(), netip.PrefixFrom(pre.Addr(), pre.Addr().BitLen()).String())
				return
			}
			*dst = append(*dst, pre)
			return
		}
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			p.errorf(path, `must be an IP address or a CIDR network such as "10.0.0.0/8", got %q`, s)
			return
		}
		*dst = append(*dst, netip.PrefixFrom(addr, addr.BitLen()))
	}
}

// cookie walks a "cookie" block and returns it with its store.
func (p *parser) cookie(path string, n *node, tlsOn bool) (*Cookie, *Store) {
	c := &Cookie{Name: DefaultCookieName, Length: DefaultCookieLength, MaxAge: DefaultMaxAge, SameSite: http.SameSiteLaxMode}
	var st *Store
	if !p.object(path, n, block{
		keys: keys{
			"name":        cookieName(&c.Name),
			"length":      integer(&c.Length, record.MinIDLength, record.MaxIDLength),
			"max_age":     duration(&c.MaxAge, time.Second, 1, maxMaxAgeSeconds),
			"secure":      flag(&c.Secure),
			"http_strict": inverse(&c.ScriptReadable),
			"same_site":   sameSite(&c.SameSite),
			"store":       func(p *parser, path string, v *node) { st = p.store(path, v) },
		},
		required: []string{"store"},
	}) {
		return nil, nil
	}
	// The rules that depend on Secure, known only once every key is read.
	secure := c.Secure || tlsOn
	namePath := join(path, "name")
	switch prefix := namePrefix(c.Name); {
	case prefix != "" && !secure:
		p.errorf(namePath, `a %q cookie needs "secure": true or TLS on the endpoint: browsers reject it without Secure`, prefix)
	case prefix == "" && tlsOn:
		p.recommend(namePath, `the endpoint has TLS: the name "%s%s" would keep other hosts of the site from setting or shadowing this cookie`, hostPrefix, c.Name)
	}
	if c.SameSite == http.SameSiteNoneMode && !secure {
		p.errorf(join(path, "same_site"), `"None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`)
	}
	p.claimCookieName(path, c.Name)
	return c, st
}

// namePrefix returns the browser-enforced prefix of a cookie name, or "".
func namePrefix(name string) string {
	for _, pre := range []string{hostPrefix, securePrefix} {
		if strings.HasPrefix(name, pre) {
			return pre
		}
	}
	return ""
}

// cookieName takes a name that Crossbar's rule accepts, optionally after a
// prefix.
func cookieName(dst *string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.str(path, v)
		if !ok {
			return
		}
		prefix := namePrefix(s)
		if !cookieNamePattern.MatchString(s[len(prefix):]) {
			if prefix == "" {
				p.errorf(path, "must match %s, got %q", cookieNamePattern, s)
			} else {
				p.errorf(path, "must match %s after the prefix %q, got %q", cookieNamePattern, prefix, s)
			}
			return
		}
		*dst = s
	}
}

// sameSite takes "Strict", "Lax" or "None".
func sameSite(dst *http.SameSite) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.oneOf(path, v, "Strict", "Lax", "None")
		if !ok {
			return
		}
		*dst = map[string]http.SameSite{
			"Strict": http.SameSiteStrictMode,
			"Lax":    http.SameSiteLaxMode,
			"None":   http.SameSiteNoneMode,
		}[s]
	}
}
