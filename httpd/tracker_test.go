package httpd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
	"cookiestore/memstore"
	"cookiestore/record"
)

func TestNewCookieThenReuse(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	first := e.dial("")
	id := first.value()
	if !record.ValidID(id, 24) {
		t.Fatalf("issued cookie %q is not a valid 24-character ID", id)
	}
	if c, ok := e.store.Get(dg(id)); !ok || !c.Created.Equal(t0) || c.MaxAge != 24*time.Hour {
		t.Fatalf("store has %+v, %v; want the cookie created at %v for 24h", c, ok, t0)
	}
	h := first.hello
	if !h.New || h.Connections != 1 || !isHexVisitor(h.Visitor) || h.Visitor != visitorOf(id) ||
		h.Created != t0.UTC().Format(time.RFC3339) || h.Auth != nil {
		t.Fatalf("first hello = %+v", h)
	}

	second := e.dial(id)
	if second.cookie != nil {
		t.Fatalf("a returning cookie got Set-Cookie %q", second.resp.Header.Values("Set-Cookie"))
	}
	h2 := second.hello
	if h2.New || h2.Visitor != h.Visitor || h2.Connections != 2 || h2.Created != h.Created {
		t.Fatalf("returning hello = %+v, want same visitor, new false, 2 connections", h2)
	}
	if n := e.store.Len(); n != 1 {
		t.Fatalf("store holds %d cookies, want 1", n)
	}
	if n := e.tracker.Connections(); n != 2 {
		t.Fatalf("Connections() = %d, want 2", n)
	}
}

func TestCookieReplaced(t *testing.T) {
	tests := []struct {
		name   string
		header func(e *env, known string) string // the Cookie header to send
		before func(e *env, known string)
	}{
		{"unknown well-formed ID", func(*env, string) string { return "cbtid=AAAAAAAAAAAAAAAAAAAAAAAA" }, nil},
		{"too short", func(*env, string) string { return "cbtid=abc" }, nil},
		{"bad characters", func(*env, string) string { return "cbtid=abcdefghijklmnopqrstuv=!" }, nil},
		{"known ID with a suffix", func(_ *env, k string) string { return "cbtid=" + k + "x" }, nil},
		{"empty", func(*env, string) string { return "cbtid=" }, nil},
		{"other name only", func(_ *env, k string) string { return "xcbtid=" + k }, nil},
		{"expired", func(_ *env, k string) string { return "cbtid=" + k }, func(e *env, _ string) { e.clock.Add(24 * time.Hour) }},
		{"deleted", func(_ *env, k string) string { return "cbtid=" + k }, func(e *env, k string) {
			if err := e.store.Delete(dg(k), record.ReasonLogout); err != nil {
				e.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
			known := e.dial("").value()
			if tt.before != nil {
				tt.before(e, known)
			}
			h := http.Header{"Cookie": {tt.header(e, known)}}
			c := dialURL(t, e.url, h, nil)
			got := c.value()
			if got == known || !c.hello.New {
				t.Fatalf("cookie %q reused (hello %+v), want a new one", got, c.hello)
			}
			if _, ok := e.store.Get(dg(got)); !ok {
				t.Fatal("the replacement cookie is not in the store")
			}
		})
	}
}

func TestCookieFoundAmongOthers(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	known := e.dial("").value()
	// JSON in another cookie, a forged value first, and the name twice.
	h := http.Header{"Cookie": {`prefs={"a":"b; c","d":[1,2]}; cbtid=AAAAAAAAAAAAAAAAAAAAAAAA; theme="dark"; cbtid=` + known}}
	c := dialURL(t, e.url, h, nil)
	if c.cookie != nil || c.hello.New || c.hello.Visitor != visitorOf(known) {
		t.Fatalf("known cookie not reused: Set-Cookie %q, hello %+v", c.resp.Header.Values("Set-Cookie"), c.hello)
	}
}

func TestTrackerChecksExpiryItself(t *testing.T) {
	clk := testkit.NewClock()
	// The store's clock never moves, so the store itself never hides the
	// cookie: only the tracker's own check can.
	store := memStore(t, testkit.NewClock())
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, store, TrackerOptions{Clock: clk.Now})
	known := e.dial("").value()
	clk.Add(24*time.Hour - time.Second)
	if c := e.dial(known); c.hello.New {
		t.Fatal("cookie replaced a second before it expires")
	}
	clk.Add(time.Second)
	if c := e.dial(known); !c.hello.New || c.value() == known {
		t.Fatal("expired cookie reused")
	}
}

func TestSetCookieAttributes(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*config.Cookie)
		tls    bool
		want   []string
		absent []string
	}{
		{"defaults", nil, false, []string{"Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax"}, []string{"Secure", "Expires", "Domain"}},
		{"tls adds Secure", nil, true, []string{"Secure", "HttpOnly", "SameSite=Lax"}, nil},
		{"http_strict false", func(c *config.Cookie) { c.ScriptReadable = true }, false, []string{"SameSite=Lax"}, []string{"HttpOnly"}},
		{"same_site Strict", func(c *config.Cookie) { c.SameSite = http.SameSiteStrictMode }, false, []string{"SameSite=Strict"}, []string{"SameSite=Lax"}},
		{"same_site None and secure", func(c *config.Cookie) { c.SameSite, c.Secure = http.SameSiteNoneMode, true }, false, []string{"SameSite=None", "Secure"}, nil},
		{"max_age", func(c *config.Cookie) { c.MaxAge = time.Hour }, false, []string{"Max-Age=3600"}, nil},
		{"zero values get the secure defaults", func(c *config.Cookie) { *c = config.Cookie{} }, false, []string{"Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax"}, []string{"Secure", "Expires", "Domain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := memoryCookie()
			if tt.modify != nil {
				tt.modify(cc)
			}
			clk := testkit.NewClock()
			tr, err := NewTracker(&config.WebSocket{Cookie: cc}, memStore(t, clk), TrackerOptions{Clock: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			var srv *httptest.Server
			d := &websocket.Dialer{}
			if tt.tls {
				srv = httptest.NewTLSServer(tr)
				d.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
			} else {
				srv = httptest.NewServer(tr)
			}
			t.Cleanup(func() { _ = tr.Shutdown(shutdownCtx(t)); srv.Close() })
			c := dialURL(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, d)
			set := c.resp.Header.Values("Set-Cookie")
			if len(set) != 1 || !strings.HasPrefix(set[0], "cbtid=") {
				t.Fatalf("Set-Cookie = %q", set)
			}
			attrs := strings.Split(set[0], "; ")[1:]
			for _, w := range tt.want {
				if !contains(attrs, w) {
					t.Errorf("Set-Cookie %q lacks %s", set[0], w)
				}
			}
			for _, a := range tt.absent {
				for _, got := range attrs {
					if strings.HasPrefix(got, a) {
						t.Errorf("Set-Cookie %q has %s", set[0], a)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name    string
		auth    *config.Auth
		login   map[string]any
		welcome *authInfo // nil = want an error
	}{
		{"ok with realm", tickets(), map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"},
			&authInfo{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthProvider: "static"}},
		{"ok default realm", tickets(), map[string]any{"type": "login", "authid": "bob", "ticket": "secret-b"},
			&authInfo{AuthID: "bob", AuthRole: "admin", AuthMethod: "ticket", AuthRealm: "default", AuthProvider: "static"}},
		{"wrong ticket", tickets(), map[string]any{"type": "login", "authid": "alice", "ticket": "secret-b"}, nil},
		{"ticket prefix", tickets(), map[string]any{"type": "login", "authid": "alice", "ticket": "secret"}, nil},
		{"unknown principal", tickets(), map[string]any{"type": "login", "authid": "mallory", "ticket": ""}, nil},
		{"no ticket field", tickets(), map[string]any{"type": "login", "authid": "alice"}, nil},
		{"ticket not a string", tickets(), map[string]any{"type": "login", "authid": "alice", "ticket": 7}, nil},
		{"no auth configured", nil, map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"}, nil},
		{"anonymous only", &config.Auth{Anonymous: &config.Anonymous{Role: "anonymous"}}, map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var hooked []record.Auth
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tt.auth}, nil, TrackerOptions{Hooks: Hooks{
				OnAuth: func(_ *Conn, a record.Auth) { mu.Lock(); hooked = append(hooked, a); mu.Unlock() },
			}})
			c := e.dial("")
			c.send(tt.login)
			var m struct {
				Type   string    `json:"type"`
				Auth   *authInfo `json:"auth"`
				Error  string    `json:"error"`
				Rotate string    `json:"rotate"`
			}
			c.read(&m)
			stored, _ := e.store.Get(dg(c.value()))
			if tt.welcome == nil {
				if m.Type != "error" || m.Error == "" {
					t.Fatalf("got %+v, want an error", m)
				}
				if !stored.Auth.IsZero() {
					t.Fatalf("a failed login stored %+v", stored.Auth)
				}
				if m := c.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
					t.Fatalf("connection unusable after a failed login: %v", m)
				}
				return
			}
			if m.Type != "welcome" || m.Auth == nil || *m.Auth != *tt.welcome || m.Rotate == "" {
				t.Fatalf("got %+v %+v, want welcome %+v with a rotation token", m, m.Auth, tt.welcome)
			}
			// Session fixation: the login is on the connection, never on
			// the cookie the browser came with.
			if _, ok := e.store.Get(dg(c.value())); !ok || !stored.Auth.IsZero() {
				t.Fatalf("after the login the browser's cookie holds %+v (live %v), want it unchanged", stored.Auth, ok)
			}
			var h helloMsg
			c.send(map[string]any{"type": "whoami"})
			c.read(&h)
			if h.Auth == nil || *h.Auth != *tt.welcome {
				t.Fatalf("whoami after the login = %+v, want %+v", h.Auth, tt.welcome)
			}
			next := rotate(t, e.httpURL, c.value(), m.Rotate)
			if _, ok := e.store.Get(dg(c.value())); ok {
				t.Fatal("the old cookie is still in the store after the rotation")
			}
			stored, _ = e.store.Get(dg(next))
			want := record.Auth{AuthID: tt.welcome.AuthID, AuthRole: tt.welcome.AuthRole, AuthMethod: "ticket", AuthRealm: tt.welcome.AuthRealm}
			if stored.Auth.AuthID != want.AuthID || stored.Auth.AuthRole != want.AuthRole ||
				stored.Auth.AuthMethod != want.AuthMethod || stored.Auth.AuthRealm != want.AuthRealm {
				t.Fatalf("the new cookie has %+v, want %+v", stored.Auth, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hooked) != 1 || hooked[0].AuthID != want.AuthID {
				t.Fatalf("OnAuth saw %+v", hooked)
			}
		})
	}
}

// Wrong and unknown logins must look the same to the client.
func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	c := e.dial("")
	a := c.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "nope"})
	b := c.reply(map[string]any{"type": "login", "authid": "nobody", "ticket": "nope"})
	if a["error"] != b["error"] {
		t.Fatalf("wrong ticket says %q, unknown authid says %q", a["error"], b["error"])
	}
}

func TestReconnectAuthenticatedByCookie(t *testing.T) {
	tests := []struct {
		name string
		auth *config.Auth
		want *authInfo
	}{
		{"cookie auth", tickets(), &authInfo{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthProvider: "cookie"}},
		{"without cookie auth", &config.Auth{Ticket: tickets().Ticket}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var onAuth []string
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tt.auth}, nil, TrackerOptions{Hooks: Hooks{
				OnAuth: func(c *Conn, a record.Auth) {
					mu.Lock()
					onAuth = append(onAuth, a.AuthID+"/"+c.Auth().AuthMethod)
					mu.Unlock()
				},
			}})
			first := e.dial("")
			next := e.loginRotate(first, "alice", "secret-a")
			if old := e.dial(first.value()); !old.hello.New || old.hello.Auth != nil {
				t.Fatalf("the cookie before the rotation still works: %+v", old.hello)
			}
			again := e.dial(next)
			if (again.hello.Auth == nil) != (tt.want == nil) || tt.want != nil && *again.hello.Auth != *tt.want {
				t.Fatalf("hello auth = %+v, want %+v", again.hello.Auth, tt.want)
			}
			// The connection that logged in keeps its own login.
			var h helloMsg
			first.send(map[string]any{"type": "whoami"})
			first.read(&h)
			if h.Auth == nil || h.Auth.AuthProvider != "static" || h.Connections != 2 || h.Visitor != again.hello.Visitor {
				t.Fatalf("whoami on the login connection = %+v %+v", h, h.Auth)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{"alice/ticket"}
			if tt.want != nil {
				want = append(want, "alice/ticket")
			}
			if strings.Join(onAuth, ",") != strings.Join(want, ",") {
				t.Fatalf("OnAuth calls %v, want %v", onAuth, want)
			}
		})
	}
}

// A tab that was open before another tab logged in does not gain the
// login, neither before the rotation nor after it: the connections of the
// old cookie move to the new one without its auth, since one of them may
// be an attacker's on a planted cookie. A page reconnects them.
func TestOtherTabsGainNoAuthFromALogin(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	a := e.dial("")
	b := e.dial(a.value())
	if b.hello.Auth != nil {
		t.Fatalf("hello auth before login = %+v", b.hello.Auth)
	}
	whoami := func(what string) helloMsg {
		var h helloMsg
		b.send(map[string]any{"type": "whoami"})
		b.read(&h)
		if h.Auth != nil {
			t.Fatalf("%s: the other tab gained %+v", what, h.Auth)
		}
		return h
	}
	token := a.login("bob", "secret-b")
	whoami("after the login")
	next := rotate(t, e.httpURL, a.value(), token)
	if h := whoami("after the rotation"); h.Connections != 2 || h.Visitor != b.hello.Visitor {
		t.Fatalf("after the rotation the other tab says %+v, want its old visitor on 2 connections", h)
	}
	if c := e.dial(next); c.hello.Auth == nil || c.hello.Auth.AuthID != "bob" || c.hello.Auth.AuthProvider != "cookie" || c.hello.Connections != 3 {
		t.Fatalf("a tab on the new cookie: %+v auth %+v", c.hello, c.hello.Auth)
	}
	// The moved tab is on the new cookie: a logout kicks it.
	if m := a.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout: %v", m)
	}
	if code, _ := b.closed(); code != CloseLoggedOut {
		t.Fatalf("the moved tab closed with %d, want %d", code, CloseLoggedOut)
	}
}

func TestAnonymousAuthUsesVisitorNotCookie(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: &config.Auth{Anonymous: &config.Anonymous{Role: "guest"}}}, nil, TrackerOptions{})
	c := e.dial("")
	want := authInfo{AuthID: c.hello.Visitor, AuthRole: "guest", AuthMethod: "anonymous", AuthRealm: "default", AuthProvider: "static"}
	if c.hello.Auth == nil || *c.hello.Auth != want {
		t.Fatalf("hello auth = %+v, want %+v", c.hello.Auth, want)
	}
	if strings.Contains(c.raw[0], c.value()) {
		t.Fatal("hello contains the cookie value")
	}
	if st, _ := e.store.Get(dg(c.value())); !st.Auth.IsZero() {
		t.Fatalf("anonymous auth was stored on the cookie: %+v", st.Auth)
	}
}

func TestAnonymousUntracked(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Auth: &config.Auth{Anonymous: &config.Anonymous{}}}, nil, TrackerOptions{})
	a, b := e.dial(""), e.dial("")
	for _, c := range []*client{a, b} {
		if au := c.hello.Auth; au == nil || len(au.AuthID) != 16 || au.AuthRole != "anonymous" || au.AuthMethod != "anonymous" {
			t.Fatalf("hello auth = %+v", au)
		}
	}
	if a.hello.Auth.AuthID == b.hello.Auth.AuthID {
		t.Fatal("two untracked connections share an anonymous authid")
	}
}

func TestTrackingOff(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Auth: &config.Auth{Ticket: tickets().Ticket}}, nil, TrackerOptions{})
	c := e.dial("")
	if len(c.resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("Set-Cookie without a cookie block: %q", c.resp.Header.Values("Set-Cookie"))
	}
	if h := c.hello; h.Visitor != "" || h.New || h.Connections != 1 || h.Created != "" || h.Auth != nil {
		t.Fatalf("hello = %+v", h)
	}
	if m := c.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"}); m["type"] != "welcome" {
		t.Fatalf("login without tracking: %v", m)
	}
	var h helloMsg
	c.send(map[string]any{"type": "whoami"})
	c.read(&h)
	if h.Auth == nil || h.Auth.AuthID != "alice" {
		t.Fatalf("whoami after login = %+v", h.Auth)
	}
	if m := c.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout: %v", m)
	}
	if code, reason := c.closed(); code != websocket.CloseNormalClosure || reason != "logout" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestLogoutKicksOtherConnections(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	a := e.dial("")
	id := a.value()
	a.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"})
	b, c := e.dial(id), e.dial(id)
	other := e.dial("") // another browser

	if m := a.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout answered %v", m)
	}
	if code, reason := a.closed(); code != websocket.CloseNormalClosure || reason != "logout" {
		t.Fatalf("logging-out connection closed with %d %q", code, reason)
	}
	for _, k := range []*client{b, c} {
		if code, reason := k.closed(); code != CloseLoggedOut || reason != "logged out" {
			t.Fatalf("other connection closed with %d %q, want %d", code, reason, CloseLoggedOut)
		}
	}
	if _, ok := e.store.Get(dg(id)); ok {
		t.Fatal("cookie still in the store after logout")
	}
	waitFor(t, "the kicked connections to leave", func() bool { return e.tracker.Connections() == 1 })
	if m := other.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
		t.Fatalf("the other browser's connection was affected: %v", m)
	}
	// The logged-out cookie is not accepted again.
	if again := e.dial(id); !again.hello.New || again.value() == id || again.hello.Auth != nil {
		t.Fatalf("logged-out cookie came back: %+v", again.hello)
	}
}

func TestLogoutThatCannotBeStored(t *testing.T) {
	clk := testkit.NewClock()
	fs := &faultStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, fs, TrackerOptions{Clock: clk.Now})
	a := e.dial("")
	b := e.dial(a.value())
	fs.deleteErr = syscall.EIO
	if m := a.reply(map[string]any{"type": "logout"}); m["type"] != "error" {
		t.Fatalf("logout that failed answered %v", m)
	}
	// Nothing was closed: the cookie is still valid.
	for _, c := range []*client{a, b} {
		if m := c.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" || m["connections"] != 2.0 {
			t.Fatalf("after a failed logout: %v", m)
		}
	}
	if strings.Contains(e.logs.String(), a.value()) {
		t.Fatal("the store's error leaked the cookie into the log")
	}
}

func TestProgrammaticLogout(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	a := e.dial("")
	b := e.dial(a.value())
	if err := e.tracker.Logout(dg(a.value())); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if code, _ := c.closed(); code != CloseLoggedOut {
			t.Fatalf("close code %d, want %d", code, CloseLoggedOut)
		}
	}
	err := e.tracker.Logout(dg(a.value()))
	if !errors.Is(err, memstore.ErrNotFound) {
		t.Fatalf("second logout: %v, want ErrNotFound", err)
	}
	if strings.Contains(err.Error(), a.value()) {
		t.Fatalf("error names the cookie: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	login := func(c *client, who, ticket string) {
		if m := c.reply(map[string]any{"type": "login", "authid": who, "ticket": ticket}); m["type"] != "welcome" {
			t.Fatalf("login %s: %v", who, m)
		}
	}
	laptop := e.dial("")
	laptopID := e.loginRotate(laptop, "alice", "secret-a")
	laptopTab := e.dial(laptopID) // opened after the login: cookie auth
	phone := e.dial("")
	phoneTab := e.dial(phone.value()) // opened before the login on its sibling: moved by the rotation
	phoneID := e.loginRotate(phone, "alice", "secret-a")
	tablet := e.dial("") // logged in, not rotated yet
	token := tablet.login("alice", "secret-a")
	bob := e.dial("")
	login(bob, "bob", "secret-b")

	n, err := e.tracker.Revoke("alice")
	if err != nil || n != 2 {
		t.Fatalf("Revoke = %d, %v; want 2 cookies", n, err)
	}
	for _, c := range []*client{laptop, laptopTab, phone, phoneTab, tablet} {
		if code, reason := c.closed(); code != CloseRevoked || reason != "revoked" {
			t.Fatalf("close %d %q, want %d revoked", code, reason, CloseRevoked)
		}
	}
	// The pending rotation of the revoked login is void.
	if resp, _ := postRotate(t, e.httpURL, "cbtid="+tablet.value(), `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("rotation after the revoke: %s, want 403", resp.Status)
	}
	for _, id := range []string{laptopID, phoneID} {
		if _, ok := e.store.Get(dg(id)); ok {
			t.Fatal("a revoked cookie is still in the store")
		}
	}
	if m := bob.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
		t.Fatalf("bob was affected: %v", m)
	}
	if n, err := e.tracker.Revoke("alice"); n != 0 || err != nil {
		t.Fatalf("second Revoke = %d, %v", n, err)
	}
	if _, err := e.tracker.Revoke(""); err == nil {
		t.Fatal("Revoke(\"\") succeeded")
	}
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  []string // Origin header values; the request's Host is 127.0.0.1:port
		ok      bool
		null    bool // allow_null_origin
	}{
		{"no origin (not a browser)", nil, nil, true, false},
		{"same origin", nil, []string{"http://HOST"}, true, false},
		{"same origin, upper case", nil, []string{"HTTP://HOST"}, true, false},
		{"cross origin", nil, []string{"https://evil.example"}, false, false},
		{"same host other port", nil, []string{"http://127.0.0.1:1"}, false, false},
		{"null origin", nil, []string{"null"}, false, false},
		{"two origins", nil, []string{"http://HOST", "http://HOST"}, false, false},
		{"allowed exactly", []string{"https://app.example.com"}, []string{"https://app.example.com"}, true, false},
		{"allowed by wildcard", []string{"https://*.example.com"}, []string{"https://a.b.example.com"}, true, false},
		{"wildcard needs the suffix", []string{"https://*.example.com"}, []string{"https://example.com.evil.net"}, false, false},
		{"wildcard scheme", []string{"https://*.example.com"}, []string{"http://a.example.com"}, false, false},
		{"host pattern", []string{"*.example.com"}, []string{"http://a.example.com:8080"}, false, false},
		{"host pattern with port", []string{"*.example.com:*"}, []string{"http://a.example.com:8080"}, true, false},
		{"star", []string{"*"}, []string{"https://anything.example"}, true, false},
		{"pattern case", []string{"https://APP.example.com"}, []string{"https://app.EXAMPLE.com"}, true, false},
		{"same origin still allowed", []string{"https://x.example"}, []string{"http://HOST"}, true, false},
		{"https origin on plain http", nil, []string{"https://HOST"}, false, false},
		{"wss origin on plain http", nil, []string{"wss://HOST"}, false, false},
		{"same origin with a path", nil, []string{"http://HOST/x"}, false, false},
		{"null with star", []string{"*"}, []string{"null"}, false, false},
		{"null allowed", nil, []string{"null"}, true, true},
		{"null allowed, other origins not", nil, []string{"https://evil.example"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), AllowedOrigins: tt.allowed, AllowNullOrigin: tt.null}, nil, TrackerOptions{})
			h := http.Header{}
			host := strings.TrimPrefix(e.srv.URL, "http://")
			for _, o := range tt.origin {
				h.Add("Origin", strings.ReplaceAll(o, "HOST", host))
			}
			ws, resp, err := websocket.DefaultDialer.Dial(e.url, h)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				ws.Close()
				return
			}
			if err == nil {
				ws.Close()
				t.Fatal("cross-origin handshake accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, want 403", resp)
			}
			if len(resp.Header.Values("Set-Cookie")) != 0 || e.store.Len() != 0 {
				t.Fatal("a refused handshake issued a cookie")
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"*", "", true}, {"a", "a", true}, {"a", "b", false}, {"a*", "abc", true},
		{"*c", "abc", true}, {"a*c", "ac", true}, {"a*c", "abcbc", true}, {"a*c", "abcb", false},
		{"*a*b*", "xxaxxbxx", true}, {"**", "x", true}, {"a*b*c", "abacbc", true}, {"abc", "ab", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestOversizeMessageCloses1009(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{}) // default limit 64 KiB
	c := e.dial("")
	big := bytes.Repeat([]byte("x"), 8<<20)
	werr := make(chan error, 1)
	go func() { werr <- c.ws.WriteMessage(websocket.TextMessage, big) }()
	if code, _ := c.closed(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	<-werr // it may fail once the server stops reading; it must not hang
	// A message at the limit is fine, and the server goes on serving.
	d := e.dial(c.value())
	at := `{"type":"whoami","pad":"` + strings.Repeat("y", 64<<10-40) + `"}`
	if len(at) > 64<<10 {
		t.Fatalf("test message is %d bytes", len(at))
	}
	if err := d.ws.WriteMessage(websocket.TextMessage, []byte(at)); err != nil {
		t.Fatal(err)
	}
	var h helloMsg
	d.read(&h)
	if h.Type != "hello" {
		t.Fatalf("got %+v", h)
	}
}

func TestGarbageGetsErrorReplies(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	c := e.dial("")
	frames := []struct {
		name string
		typ  int
		data string
	}{
		{"not json", websocket.TextMessage, "hello there"},
		{"truncated json", websocket.TextMessage, `{"type":"who`},
		{"array", websocket.TextMessage, `[1,2,3]`},
		{"null", websocket.TextMessage, `null`},
		{"no type", websocket.TextMessage, `{}`},
		{"type not a string", websocket.TextMessage, `{"type":5}`},
		{"unknown type", websocket.TextMessage, `{"type":"subscribe"}`},
		{"huge unknown type", websocket.TextMessage, `{"type":"` + strings.Repeat("z", 5000) + `"}`},
		{"binary", websocket.BinaryMessage, "\x00\x01\x02"},
		{"invalid utf-8", websocket.TextMessage, "{\"type\":\"\xff\"}"},
		{"empty", websocket.TextMessage, ""},
	}
	for _, f := range frames {
		if err := c.ws.WriteMessage(f.typ, []byte(f.data)); err != nil {
			t.Fatalf("%s: write: %v", f.name, err)
		}
		var m errorMsg
		c.read(&m)
		if m.Type != "error" || m.Error == "" || len(m.Error) > 200 {
			t.Fatalf("%s: reply %+v, want a short error", f.name, m)
		}
	}
	if m := c.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
		t.Fatalf("connection unusable after garbage: %v", m)
	}
}

func TestConnectionCapPerCookie(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), MaxConnectionsPerCookie: 3}, nil, TrackerOptions{})
	first := e.dial("")
	id := first.value()
	e.dial(id)
	e.dial(id)
	_, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Cookie": {"cbtid=" + id}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth connection: %v %v, want 429", err, resp)
	}
	// Another browser is not affected, and a slot frees up on close.
	e.dial("")
	first.ws.Close()
	waitFor(t, "the closed connection to leave", func() bool { return e.tracker.reg.count(dg(id)) == 2 })
	if c := e.dial(id); c.hello.Connections != 3 {
		t.Fatalf("hello after a slot freed: %+v", c.hello)
	}
}

func TestCreateFailureRefusesWith503(t *testing.T) {
	clk := testkit.NewClock()
	fs := &faultStore{Store: memStore(t, clk), createErr: syscall.ENOSPC}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, fs, TrackerOptions{Clock: clk.Now})
	_, resp, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake with a full disk: %v %v, want 503", err, resp)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("Set-Cookie %q although the cookie was not stored", v)
	}
	if fs.Len() != 0 {
		t.Fatal("the store holds a cookie")
	}
	if !strings.Contains(e.logs.String(), "no space left on device") {
		t.Fatalf("the log does not say why: %s", e.logs.String())
	}
	// The store never saw an ID, so its error cannot carry one.
	if strings.Contains(e.logs.String(), "cbtid") {
		t.Fatalf("the log names the cookie: %s", e.logs.String())
	}
	// Once the disk has room again, handshakes work.
	fs.mu.Lock()
	fs.createErr = nil
	fs.mu.Unlock()
	e.dial("").value()
}

func TestRotationThatCannotBeStored(t *testing.T) {
	clk := testkit.NewClock()
	fs := &faultStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, fs, TrackerOptions{Clock: clk.Now})
	c := e.dial("")
	token := c.login("alice", "secret-a")
	fs.mu.Lock()
	fs.rotateErr = syscall.ENOSPC
	fs.mu.Unlock()
	resp, _ := postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":"`+token+`"}`, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Cookies()) != 0 {
		t.Fatalf("rotation that was not stored: %s, cookies %v; want 503 and none", resp.Status, resp.Cookies())
	}
	if _, ok := e.store.Get(dg(c.value())); !ok || e.store.Len() != 1 {
		t.Fatal("a failed rotation changed the store")
	}
	// The token stays good for a retry once the store works again.
	fs.mu.Lock()
	fs.rotateErr = nil
	fs.mu.Unlock()
	next := rotate(t, e.httpURL, c.value(), token)
	if ck, ok := e.store.Get(dg(next)); !ok || ck.Auth.AuthID != "alice" {
		t.Fatalf("after the retry the new cookie is %+v, %v", ck, ok)
	}
}

// sameBytes yields the same bytes for the first two IDs, then counts up.
type sameBytes struct {
	n int
}

func (r *sameBytes) Read(p []byte) (int, error) {
	r.n++
	for i := range p {
		p[i] = byte(r.n / 3 * 7)
	}
	return len(p), nil
}

func TestCreateRetriesOnCollision(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{Rand: &sameBytes{}})
	a := e.dial("").value()
	b := e.dial("").value() // the first draw collides with a
	if a == b {
		t.Fatal("a colliding ID was issued twice")
	}
	if e.store.Len() != 2 {
		t.Fatalf("store holds %d cookies, want 2", e.store.Len())
	}
}

func TestNonWebSocketRequest(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	resp, err := http.Get(e.srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(resp.Header.Values("Set-Cookie")) != 0 || e.store.Len() != 0 {
		t.Fatalf("plain GET: %d, Set-Cookie %q, %d cookies", resp.StatusCode, resp.Header.Values("Set-Cookie"), e.store.Len())
	}
}

func TestHooksAndContext(t *testing.T) {
	type seen struct {
		event   string
		visitor string
		isNew   bool
		authid  string
		cookie  string
		inCtx   bool
		ctxDone bool
	}
	events := make(chan seen, 10)
	note := func(event string, c *Conn, a record.Auth) {
		got, ok := FromContext(c.Context())
		events <- seen{event, c.Visitor(), c.IsNew(), a.AuthID, c.Cookie().Digest.String(), ok && got == c, c.Context().Err() != nil}
	}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{Hooks: Hooks{
		OnConnect: func(c *Conn) { note("connect", c, c.Auth()) },
		OnAuth:    func(c *Conn, a record.Auth) { note("auth", c, a) },
		OnClose:   func(c *Conn) { note("close", c, c.Auth()) },
	}})
	c := e.dial("")
	c.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"})
	c.ws.Close()
	want := []seen{
		{"connect", c.hello.Visitor, true, "", dg(c.value()).String(), true, false},
		{"auth", c.hello.Visitor, true, "alice", dg(c.value()).String(), true, false},
		{"close", c.hello.Visitor, true, "alice", dg(c.value()).String(), true, true},
	}
	for _, w := range want {
		select {
		case got := <-events:
			if got != w {
				t.Fatalf("hook saw %+v, want %+v", got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s hook", w.event)
		}
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Fatal("FromContext found a connection in an unrelated context")
	}
}

func TestKeepaliveDropsSilentClients(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	e.tracker.pingPeriod, e.tracker.pongWait = 20*time.Millisecond, 150*time.Millisecond
	// A client that reads answers pings (gorilla does it inside
	// ReadMessage); one that never reads does not.
	live := e.dial("")
	silent := e.dial("")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_ = live.ws.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := live.ws.ReadMessage(); err != nil {
				select {
				case <-stop:
				default:
					t.Errorf("reading client lost its connection: %v", err)
				}
				return
			}
		}
	}()
	waitFor(t, "the silent client to be dropped", func() bool { return e.tracker.Connections() == 1 })
	time.Sleep(300 * time.Millisecond) // two pong waits
	if n := e.tracker.reg.count(dg(live.value())); n != 1 {
		t.Fatalf("the reading client has %d connections, want 1", n)
	}
	close(stop)
	live.ws.Close()
	<-done
	silent.ws.Close()
}

func TestSlowReaderIsDisconnected(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	c := e.dial("")
	// Ask for many hellos without reading one: the queue fills and the
	// server gives up on the client instead of buffering forever.
	for range 10 * sendQueue {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"whoami"}`)); err != nil {
			break
		}
	}
	waitFor(t, "the slow client to be dropped", func() bool { return e.tracker.Connections() == 0 })
}

// spyStore records the digests looked up, and can run something in the
// middle of the first lookup.
type spyStore struct {
	Store
	mu     sync.Mutex
	gets   []record.Digest
	during func(d record.Digest) // run once, inside the first Get
}

func (s *spyStore) Get(d record.Digest) (record.Cookie, bool) {
	c, ok := s.Store.Get(d)
	s.mu.Lock()
	s.gets = append(s.gets, d)
	f := s.during
	s.during = nil
	s.mu.Unlock()
	if f != nil {
		f(d)
	}
	return c, ok
}

func TestMalformedIDsNeverReachTheStore(t *testing.T) {
	clk := testkit.NewClock()
	spy := &spyStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, spy, TrackerOptions{Clock: clk.Now})
	bad := []string{"short", strings.Repeat("a", 25), "abcdefghijklmnopqrstuv;x", `"abcdefghijklmnopqrstuvw`, "abcdefghijklmnopqrstuvé"}
	var header []string
	for _, b := range bad {
		header = append(header, "cbtid="+b)
	}
	// Many well-formed candidates: only the first few are looked up.
	wellFormed := map[record.Digest]bool{}
	for i := range 50 {
		v := fmt.Sprintf("%024d", i)
		header = append(header, "cbtid="+v)
		wellFormed[dg(v)] = true
	}
	dialURL(t, e.url, http.Header{"Cookie": {strings.Join(header, "; ")}}, nil)
	spy.mu.Lock()
	defer spy.mu.Unlock()
	lookups := 0
	for _, d := range spy.gets {
		if !wellFormed[d] {
			t.Errorf("the store was asked for %s, which is not the digest of a well-formed candidate", d)
			continue
		}
		lookups++
	}
	if lookups != maxCandidates {
		t.Errorf("%d candidates looked up, want %d", lookups, maxCandidates)
	}
}

// A value planted many times in one Cookie header counts once toward the
// cap on candidates, so that copies of it cannot push out the browser's own
// cookie.
func TestPlantedDuplicatesCountOnce(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, nil, TrackerOptions{})
	own := e.dial("").value()
	planted := e.dial("").value() // valid, but another browser's
	if err := e.tracker.Logout(dg(planted)); err != nil {
		t.Fatal(err)
	}
	header := strings.Repeat("cbtid="+planted+"; ", 3*maxCandidates) + "cbtid=" + own
	c := dialURL(t, e.url, http.Header{"Cookie": {header}}, nil)
	if c.hello.New || c.hello.Visitor != visitorOf(own) {
		t.Fatalf("the browser's own cookie was pushed out by %d copies of a planted one: %+v", 3*maxCandidates, c.hello)
	}
}

// A logout that runs between a handshake's lookup of its cookie and its
// registration must not leave that connection on the deleted cookie.
func TestHandshakeRacingLogout(t *testing.T) {
	clk := testkit.NewClock()
	spy := &spyStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, spy, TrackerOptions{Clock: clk.Now})
	id := e.dial("").value()
	spy.mu.Lock()
	spy.during = func(got record.Digest) {
		if got != dg(id) {
			t.Errorf("lookup of an unexpected cookie")
			return
		}
		if err := e.tracker.Logout(got); err != nil {
			t.Errorf("logout: %v", err)
		}
	}
	spy.mu.Unlock()
	c := e.dial(id)
	if !c.hello.New || c.value() == id {
		t.Fatalf("the connection kept a cookie that was logged out during its handshake: %+v", c.hello)
	}
}

// Random Cookie headers (huge values, many cookies, odd bytes, the name
// repeated, issued IDs mixed with forged ones) never crash the handshake
// and never reuse an ID that the store did not issue.
func TestRandomCookieHeaders(t *testing.T) {
	clk := testkit.NewClock()
	store := memStore(t, clk)
	tr, err := NewTracker(&config.WebSocket{Cookie: memoryCookie()}, store, TrackerOptions{Logger: slog.New(slog.DiscardHandler), Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	issued := map[record.Digest]bool{}
	var known []string
	for range 10 {
		id, _ := record.NewID(nil, 24)
		if err := store.Create(record.Cookie{Digest: dg(id), Created: clk.Now(), MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		issued[dg(id)] = true
		known = append(known, id)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randomBytes := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	part := func() string {
		switch rng.IntN(9) {
		case 0:
			return "cbtid=" + known[rng.IntN(len(known))]
		case 1:
			return "cbtid=" + randomBytes(24)
		case 2:
			return "cbtid=" + strings.Repeat("A", rng.IntN(8<<10)) // the server caps a header at 64 KiB
		case 3:
			id, _ := record.NewID(nil, 24) // well-formed, never issued
			return "cbtid=" + id
		case 4:
			return `cbtid="` + known[rng.IntN(len(known))][:23] + `"`
		case 5:
			return randomBytes(rng.IntN(64))
		case 6:
			return `json={"cbtid":"` + known[rng.IntN(len(known))] + `"}`
		case 7:
			return "CBTID=" + known[rng.IntN(len(known))]
		default:
			return "x" + randomBytes(3) + "=" + randomBytes(rng.IntN(32))
		}
	}
	for i := range 10_000 {
		var parts []string
		for range rng.IntN(20) {
			parts = append(parts, part())
		}
		r := httptest.NewRequest("GET", "/ws", nil)
		seps := []string{"; ", ";", " ; ", ";;"}
		r.Header["Cookie"] = []string{strings.Join(parts, seps[rng.IntN(len(seps))])}
		if rng.IntN(4) == 0 {
			r.Header["Cookie"] = append(r.Header["Cookie"], part())
		}
		adm, no := tr.resolve(r, netip.Addr{}, nil)
		if no != nil {
			t.Fatalf("header %d refused with %d", i, no.status)
		}
		if adm.issued == "" && !issued[adm.cookie.Digest] {
			t.Fatalf("header %d: reused cookie %s, which the store never issued", i, adm.cookie.Digest)
		}
		if adm.issued != "" {
			if adm.cookie.Digest != dg(adm.issued) {
				t.Fatalf("header %d: issued %q, but admitted cookie %s", i, adm.issued, adm.cookie.Digest)
			}
			issued[adm.cookie.Digest] = true // issued now, by the tracker
		}
	}

}
