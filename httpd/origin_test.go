package httpd

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"cookiestore/config"
)

// hostStatus sends GET url with the given Host header and returns the
// status.
func hostStatus(t *testing.T, url, host string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A tracker on a loopback listener answers the loopback names with its
// port only, so that a page whose name was rebound to 127.0.0.1 cannot
// open a WebSocket to it; allowed_hosts replaces that list.
func TestAllowedHosts(t *testing.T) {
	tests := []struct {
		name  string
		hosts config.Hosts
		host  string // PORT is the listener's port
		ok    bool
	}{
		{"default, the address", config.Hosts{}, "127.0.0.1:PORT", true},
		{"default, localhost", config.Hosts{}, "LocalHost:PORT", true},
		{"default, ipv6 loopback", config.Hosts{}, "[0:0::1]:PORT", true},
		{"default, rebound name", config.Hosts{}, "evil.example:PORT", false},
		{"default, other port", config.Hosts{}, "localhost:1", false},
		{"default, no port is port 80", config.Hosts{}, "localhost", false},
		{"listed, any port", config.Hosts{Set: true, Names: []string{"app.example"}}, "app.example:PORT", true},
		{"listed with its port", config.Hosts{Set: true, Names: []string{"app.example:PORT"}}, "APP.example:PORT", true},
		{"listed with another port", config.Hosts{Set: true, Names: []string{"app.example:1"}}, "app.example:PORT", false},
		{"listed, loopback not", config.Hosts{Set: true, Names: []string{"app.example"}}, "127.0.0.1:PORT", false},
		{"listed, a suffix", config.Hosts{Set: true, Names: []string{"app.example"}}, "evil-app.example:PORT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
			port := e.srv.URL[strings.LastIndexByte(e.srv.URL, ':')+1:]
			for i, n := range tt.hosts.Names {
				tt.hosts.Names[i] = strings.ReplaceAll(n, "PORT", port)
			}
			e.tracker.hosts = newHostRule(tt.hosts)
			host := strings.ReplaceAll(tt.host, "PORT", port)
			ws, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Host": {host}})
			if tt.ok {
				if err != nil {
					t.Fatalf("Host %s refused: %v %v", host, err, resp)
				}
				ws.Close()
				return
			}
			if err == nil {
				ws.Close()
				t.Fatalf("Host %s accepted", host)
			}
			if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest || e.store.Len() != 0 {
				t.Fatalf("Host %s: %v, want 421 and no cookie", host, resp)
			}
			if s := hostStatus(t, e.httpURL, host); s != http.StatusMisdirectedRequest {
				t.Fatalf("GET of the service with Host %s: %d, want 421", host, s)
			}
		})
	}
}

// A listener on another address answers every host unless allowed_hosts
// says otherwise.
func TestHostRuleListeners(t *testing.T) {
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 80}
	public := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8080}
	loop := &net.TCPAddr{IP: net.IPv6loopback, Port: 443}
	var none hostRule
	for _, tt := range []struct {
		ln   net.Addr
		host string
		tls  bool
		ok   bool
	}{
		{any4, "anything.example", false, true},
		{public, "anything.example:8080", false, true},
		{loop, "localhost", true, true}, // 443 by default under TLS
		{loop, "localhost", false, false},
		{loop, "[::1]:443", false, true},
		{nil, "anything.example", false, true},
	} {
		if got := none.allows(tt.host, tt.tls, tt.ln); got != tt.ok {
			t.Errorf("listener %v, Host %q, tls %v: %v, want %v", tt.ln, tt.host, tt.tls, got, tt.ok)
		}
	}
}

// The Host check covers every request of a transport that tracks
// cookies: the page, status, metrics and static files too.
func TestHostCheckCoversTheTransport(t *testing.T) {
	node := t.TempDir()
	if err := os.Mkdir(filepath.Join(node, "web"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(node, "web", "a.txt"), []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseTestConfig(t, `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
		"/": {"type":"page"},
		"ws": {"type":"websocket","cookie":{"store":{"type":"memory"}}},
		"files": {"type":"static","directory":"web"},
		"status": {"type":"status"},
		"metrics": {"type":"metrics"}}}]}`, node)
	ts := startServer(t, cfg, Options{})
	good := strings.TrimPrefix(ts.base, "http://")
	port := good[strings.LastIndexByte(good, ':')+1:]
	for _, path := range []string{"/", "/app.js", "/files/a.txt", "/status", "/metrics", "/ws", "/nope"} {
		if s := hostStatus(t, ts.base+path, "rebound.example:"+port); s != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with a rebound Host: %d, want 421", path, s)
		}
		if s := hostStatus(t, ts.base+path, "localhost:"+port); s == http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host localhost: 421", path)
		}
	}
}

// Origins compare scheme, host and port, also behind a TLS proxy that a
// trusted_proxies entry vouches for.
func TestOriginSchemeAndPort(t *testing.T) {
	tr, err := NewTracker(&config.WebSocket{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}}, nil, TrackerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		origin, host, remote, proto string
		tls, ok                     bool
	}{
		{"http://example.com", "example.com", "192.0.2.1:1", "", false, true},
		{"http://example.com:80", "example.com", "192.0.2.1:1", "", false, true},
		{"http://example.com", "example.com:80", "192.0.2.1:1", "", false, true},
		{"https://example.com", "example.com", "192.0.2.1:1", "", false, false},
		{"https://example.com", "example.com", "192.0.2.1:1", "", true, true},
		{"https://example.com:443", "example.com", "192.0.2.1:1", "", true, true},
		{"http://example.com", "example.com", "192.0.2.1:1", "", true, false},
		{"https://example.com:8443", "example.com", "192.0.2.1:1", "", true, false},
		{"https://example.com", "example.com", "10.0.0.1:1", "https", false, true},
		{"http://example.com", "example.com", "10.0.0.1:1", "https", false, false},
		{"https://example.com", "example.com", "192.0.2.1:1", "https", false, false}, // not a trusted proxy
		{"https://[::1]:8443", "[0::1]:8443", "192.0.2.1:1", "", true, true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host, r.RemoteAddr = tt.host, tt.remote
		r.Header.Set("Origin", tt.origin)
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := tr.originAllowed(r); got != tt.ok {
			t.Errorf("Origin %s, Host %s, from %s, tls %v, proto %q: %v, want %v", tt.origin, tt.host, tt.remote, tt.tls, tt.proto, got, tt.ok)
		}
	}
}
