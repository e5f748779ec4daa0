package config

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The keys of the trust contract: WebSocket options that fence the
// handshake, and cookie names with a browser-enforced prefix.

func TestTrustOptions(t *testing.T) {
	dir := testNodeDir(t)
	opts := func(o string) string { return wsDoc(`{"type":"websocket","options":` + o + `}`) }
	tests := []struct {
		name string
		json string
		want func(ws *WebSocket) any // what to compare
		is   any
	}{
		{"defaults", opts(`{}`), func(ws *WebSocket) any {
			return []any{ws.AllowNullOrigin, ws.AllowedHosts, ws.MaxNewCookiesPerSecond, ws.NewCookieBurst, ws.TrustedProxies}
		}, []any{false, Hosts{}, 100, 1000, []netip.Prefix(nil)}},
		{"allow_null_origin", opts(`{"allow_null_origin":true}`), func(ws *WebSocket) any { return ws.AllowNullOrigin }, true},
		{"allowed_hosts", opts(`{"allowed_hosts":["Example.COM","example.com:8443","127.0.0.1:8080","[0:0::1]:9000","[::1]","localhost"]}`),
			func(ws *WebSocket) any { return ws.AllowedHosts },
			Hosts{Set: true, Names: []string{"example.com", "example.com:8443", "127.0.0.1:8080", "[::1]:9000", "[::1]", "localhost"}}},
		{"rates", opts(`{"max_new_cookies_per_second":5,"new_cookie_burst":20}`),
			func(ws *WebSocket) any { return [2]int{ws.MaxNewCookiesPerSecond, ws.NewCookieBurst} }, [2]int{5, 20}},
		{"rates unlimited", opts(`{"max_new_cookies_per_second":0,"new_cookie_burst":0}`),
			func(ws *WebSocket) any { return [2]int{ws.MaxNewCookiesPerSecond, ws.NewCookieBurst} }, [2]int{Unlimited, Unlimited}},
		{"trusted_proxies", opts(`{"trusted_proxies":["10.0.0.0/8","192.0.2.7","2001:db8::/32","2001:db8::1"]}`),
			func(ws *WebSocket) any { return ws.TrustedProxies },
			[]netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
				netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2001:db8::1/128"),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json), dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.want(wsService(t, cfg, "/ws")); !reflect.DeepEqual(got, tt.is) {
				t.Errorf("got %#v, want %#v", got, tt.is)
			}
		})
	}
}

func TestTrustOptionErrors(t *testing.T) {
	dir := testNodeDir(t)
	const opt = "transports[0].paths.ws.options"
	opts := func(o string) string { return wsDoc(`{"type":"websocket","options":` + o + `}`) }
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"allow_null_origin not bool", opts(`{"allow_null_origin":"yes"}`), []string{opt + ".allow_null_origin: must be a boolean, got string"}},
		{"allowed_hosts not a list", opts(`{"allowed_hosts":"localhost"}`), []string{opt + ".allowed_hosts: must be an array, got string"}},
		{"allowed_hosts empty", opts(`{"allowed_hosts":[]}`), []string{opt + ".allowed_hosts: must name at least one host; leave allowed_hosts out for the default"}},
		{"allowed_hosts bad entries", opts(`{"allowed_hosts":["a b","::1","[::1","example.com:","example.com:0","example.com:99999","http://example.com","[fe80::1%eth0]",""]}`), []string{
			opt + `.allowed_hosts[0]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "a b"`,
			opt + `.allowed_hosts[1]: an IPv6 address must be in brackets, e.g. "[::1]" or "[::1]:8080", got "::1"`,
			opt + `.allowed_hosts[2]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "[::1"`,
			opt + `.allowed_hosts[3]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "example.com:"`,
			opt + `.allowed_hosts[4]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "example.com:0"`,
			opt + `.allowed_hosts[5]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "example.com:99999"`,
			opt + `.allowed_hosts[6]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "http://example.com"`,
			opt + `.allowed_hosts[7]: must be a host or host:port, e.g. "example.com", "127.0.0.1:8080" or "[::1]:8080", got "[fe80::1%eth0]"`,
			opt + `.allowed_hosts[8]: must not be empty`,
		}},
		{"max_new_cookies_per_second negative", opts(`{"max_new_cookies_per_second":-1}`), []string{opt + ".max_new_cookies_per_second: must be between 0 and 1000000, got -1"}},
		{"new_cookie_burst fraction", opts(`{"new_cookie_burst":1.5}`), []string{opt + ".new_cookie_burst: must be an integer, got 1.5"}},
		{"trusted_proxies bad entries", opts(`{"trusted_proxies":["10.0.0.1/8","proxy.example.com","10.0.0.0/33","fe80::1%eth0",7]}`), []string{
			opt + `.trusted_proxies[0]: "10.0.0.1/8" has address bits set past its prefix length: write "10.0.0.0/8" for the network or "10.0.0.1/32" for one address`,
			opt + `.trusted_proxies[1]: must be an IP address or a CIDR network such as "10.0.0.0/8", got "proxy.example.com"`,
			opt + `.trusted_proxies[2]: must be an IP address or a CIDR network such as "10.0.0.0/8", got "10.0.0.0/33"`,
			opt + `.trusted_proxies[3]: must be an IP address or a CIDR network such as "10.0.0.0/8", got "fe80::1%eth0"`,
			opt + `.trusted_proxies[4]: must be a string, got number`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json), dir)
			if got := errorLines(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestCookieNamePrefixes covers the __Host- and __Secure- names, which
// browsers accept only with Secure, and the recommendation of __Host- on a
// TLS endpoint.
func TestCookieNamePrefixes(t *testing.T) {
	dir := testNodeDir(t)
	const mem = `"store":{"type":"memory"}`
	tlsDoc := func(cookie string) string {
		return `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"cert.pem"}},"cookie":` + cookie + `}]}`
	}
	const (
		name    = "transports[0].paths.ws.cookie.name"
		tlsName = "transports[0].cookie.name"
		advice  = tlsName + `: the endpoint has TLS: the name "__Host-cbtid" would keep other hosts of the site from setting or shadowing this cookie`
	)
	tests := []struct {
		name    string
		json    string
		errs    []string
		advice  []string
		cookies string // the name parsed, when valid
	}{
		{"__Host- under TLS", tlsDoc(`{"name":"__Host-cbtid",` + mem + `}`), nil, nil, "__Host-cbtid"},
		{"__Secure- with secure", cookieDoc(`{"name":"__Secure-sid","secure":true,` + mem + `}`), nil, nil, "__Secure-sid"},
		{"__Host- with secure behind a proxy", cookieDoc(`{"secure":true,"name":"__Host-sid",` + mem + `}`), nil, nil, "__Host-sid"},
		{"plain name under TLS is recommended __Host-", tlsDoc(`{` + mem + `}`), nil, []string{advice}, "cbtid"},
		{"plain name without TLS", cookieDoc(`{"name":"sid",` + mem + `}`), nil, nil, "sid"},
		{"__Host- without Secure", cookieDoc(`{"name":"__Host-sid",` + mem + `}`),
			[]string{name + `: a "__Host-" cookie needs "secure": true or TLS on the endpoint: browsers reject it without Secure`}, nil, ""},
		{"__Secure- with secure false", cookieDoc(`{"name":"__Secure-sid","secure":false,` + mem + `}`),
			[]string{name + `: a "__Secure-" cookie needs "secure": true or TLS on the endpoint: browsers reject it without Secure`}, nil, ""},
		{"bad name after the prefix", tlsDoc(`{"name":"__Host-Sid",` + mem + `}`),
			[]string{tlsName + `: must match ^[a-z][a-z0-9_]+$ after the prefix "__Host-", got "__Host-Sid"`}, nil, ""},
		{"prefix alone", tlsDoc(`{"name":"__Secure-",` + mem + `}`),
			[]string{tlsName + `: must match ^[a-z][a-z0-9_]+$ after the prefix "__Secure-", got "__Secure-"`}, nil, ""},
		{"other case is not a prefix", cookieDoc(`{"name":"__host-sid",` + mem + `}`),
			[]string{name + `: must match ^[a-z][a-z0-9_]+$, got "__host-sid"`}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json), dir)
			if tt.errs != nil {
				if got := errorLines(t, err); !slices.Equal(got, tt.errs) {
					t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(tt.errs, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.Transports[0].WebSocket
			if c == nil {
				c = wsService(t, cfg, "/ws")
			}
			if c.Cookie.Name != tt.cookies {
				t.Errorf("name = %q, want %q", c.Cookie.Name, tt.cookies)
			}
			if !slices.Equal(cfg.Recommendations, tt.advice) {
				t.Errorf("recommendations = %q, want %q", cfg.Recommendations, tt.advice)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("warnings = %q", cfg.Warnings)
			}
		})
	}
}

// TestCookieZeroValueIsSafe pins the opt-out: HttpOnly is on unless the
// config says "http_strict": false, so a Cookie built by hand is safe too.
func TestCookieZeroValueIsSafe(t *testing.T) {
	dir := testNodeDir(t)
	for doc, readable := range map[string]bool{
		`{"store":{"type":"memory"}}`:                     false,
		`{"http_strict":true,"store":{"type":"memory"}}`:  false,
		`{"http_strict":false,"store":{"type":"memory"}}`: true,
	} {
		cfg, err := Parse([]byte(cookieDoc(doc)), dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := wsService(t, cfg, "/ws").Cookie.ScriptReadable; got != readable {
			t.Errorf("%s: ScriptReadable = %v, want %v", doc, got, readable)
		}
	}
	var zero Cookie
	if zero.ScriptReadable || zero.SameSite != 0 {
		t.Error("the zero Cookie must mean HttpOnly and the default SameSite (Lax)")
	}
}
