package httpd

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
)

// After 10 failed logins from one address within a minute, logins from it
// are refused unchecked, even with the right ticket, until the minute has
// passed. Another address is not affected.
func TestFailedLoginsLimitedPerAddress(t *testing.T) {
	logger, logs := testkit.DebugLogger()
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets(), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		nil, TrackerOptions{Logger: logger})
	from := func(addr string) *client {
		return dialURL(t, e.url, http.Header{"X-Forwarded-For": {addr}}, nil)
	}
	c := from("192.0.2.7")
	for i := range maxLoginFailures {
		m := c.reply(map[string]any{"type": "login", "authid": "alice", "ticket": fmt.Sprintf("guess %d", i)})
		if m["error"] == errTooManyLogins {
			t.Fatalf("limited after %d failures", i)
		}
		e.clock.Add(time.Second)
	}
	// A new connection from the same address is limited too.
	c2 := from("192.0.2.7")
	for _, cl := range []*client{c, c2} {
		if m := cl.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"}); m["type"] != "error" || m["error"] != errTooManyLogins {
			t.Fatalf("login after %d failures: %v, want %q", maxLoginFailures, m, errTooManyLogins)
		}
	}
	if token := from("192.0.2.8").login("alice", "secret-a"); token == "" {
		t.Fatal("another address was limited")
	}
	// The oldest failure leaves the window a minute after it was made.
	e.clock.Add(loginFailureWindow - time.Duration(maxLoginFailures)*time.Second)
	c.login("alice", "secret-a")

	// The log names the visitor and a digest of the authid typed, never
	// the text itself.
	typed := "hunter2-typed-into-authid"
	c.reply(map[string]any{"type": "login", "authid": typed, "ticket": "x"})
	waitFor(t, "the failed login in the log", func() bool { return strings.Contains(logs.String(), authidDigest(typed)) })
	if strings.Contains(logs.String(), typed) || strings.Contains(logs.String(), "guess 1") {
		t.Fatalf("the log holds what a client typed:\n%s", logs.String())
	}
}

// New cookies come from a token bucket per client address; past it, 429
// and no cookie. A returning cookie needs none.
func TestNewCookiesLimitedPerAddress(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), MaxNewCookiesPerSecond: 1, NewCookieBurst: 3}, nil, TrackerOptions{})
	var first string
	for i := range 3 {
		c := e.dial("")
		if i == 0 {
			first = c.value()
		}
	}
	refused := func(h http.Header) {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial(e.url, h)
		if err == nil {
			ws.Close()
			t.Fatal("a new cookie past the burst was issued")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("past the burst: %v, want 429 and no cookie", resp)
		}
	}
	refused(nil)
	if e.store.Len() != 3 {
		t.Fatalf("%d cookies in the store, want 3", e.store.Len())
	}
	if c := e.dial(first); c.hello.New {
		t.Fatal("a returning cookie was refused or replaced")
	}
	// Without trusted proxies, X-Forwarded-For is not believed.
	refused(http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	e.clock.Add(time.Second) // one more token
	e.dial("")
	refused(nil)
}

// Behind a trusted proxy each client address has its own bucket; a proxy
// that is not trusted cannot name one.
func TestTrustedProxies(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), MaxNewCookiesPerSecond: 1, NewCookieBurst: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil, TrackerOptions{})
	dial := func(xff ...string) int {
		ws, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"X-Forwarded-For": xff})
		if err == nil {
			ws.Close()
			return http.StatusSwitchingProtocols
		}
		return resp.StatusCode
	}
	if s := dial("198.51.100.1"); s != 101 {
		t.Fatalf("first client: %d", s)
	}
	if s := dial("198.51.100.2"); s != 101 {
		t.Fatalf("second client: %d, want its own bucket", s)
	}
	if s := dial("198.51.100.1"); s != 429 {
		t.Fatalf("first client again: %d, want 429", s)
	}
	// A client that writes its own X-Forwarded-For does not escape: the
	// right-most address that is not a trusted proxy counts.
	if s := dial("203.0.113.9, 198.51.100.1"); s != 429 {
		t.Fatalf("a forged hop: %d, want 429", s)
	}
	if s := dial("198.51.100.1", "127.0.0.2"); s != 429 {
		t.Fatalf("through a second trusted proxy: %d, want 429", s)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"}, // not a trusted peer
		{"10.1.2.3:5000", nil, "10.1.2.3"},
		{"10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:5000", []string{"203.0.113.5, 198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"10.1.2.3:5000", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"10.1.2.3:5000", []string{"10.2.2.2, 10.9.9.9"}, "10.2.2.2"}, // all trusted: the farthest
		{"10.1.2.3:5000", []string{"garbage, 10.9.9.9"}, "10.9.9.9"},  // stop at the last vouched hop
		{"10.1.2.3:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"[::1]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		r.Header["X-Forwarded-For"] = tt.xff
		if got := clientAddr(r, trusted); got.String() != tt.want {
			t.Errorf("%s %q: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
	if k := clientKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k != netip.MustParseAddr("2001:db8:1:2::") {
		t.Errorf("IPv6 key %s, want its /64", k)
	}
}

// The table of client addresses is bounded: many addresses evict the
// least recently seen.
func TestClientTableBounded(t *testing.T) {
	cl := newClients(&config.WebSocket{})
	cl.max = 100
	now := time.Unix(0, 0)
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		cl.takeCookie(a, now)
		cl.loginFailed(a, now)
	}
	if n := cl.size(); n != 100 {
		t.Fatalf("%d addresses remembered, want the bound 100", n)
	}
}

// hello says which login methods the service offers.
func TestHelloMethods(t *testing.T) {
	tests := []struct {
		name string
		auth *config.Auth
		want string
	}{
		{"ticket principals", tickets(), "ticket"},
		{"no principals", &config.Auth{Cookie: true, Ticket: &config.Ticket{Principals: map[string]config.Principal{}}}, ""},
		{"anonymous only", &config.Auth{Anonymous: &config.Anonymous{}}, ""},
		{"no auth", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tt.auth}, nil, TrackerOptions{})
			c := e.dial("")
			if !strings.Contains(c.raw[0], `"methods":[`) {
				t.Fatalf("hello %s has no methods array", c.raw[0])
			}
			if got := strings.Join(c.hello.Methods, ","); got != tt.want {
				t.Fatalf("methods %q, want %q", got, tt.want)
			}
		})
	}
}
