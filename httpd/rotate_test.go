package httpd

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/record"
)

// Session fixation, as an attacker plays it: they get a valid cookie,
// keep a connection open on it, and plant it in the victim's browser. The
// victim logs in on it and the page rotates. The attacker's cookie logs
// nobody in, and their open connection gains nothing.
func TestSessionFixation(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	attacker := e.dial("")
	planted := attacker.value()

	victim := e.dial(planted) // the browser presents the planted cookie
	if victim.hello.New {
		t.Fatal("the planted cookie was not reused; the test does not set the trap")
	}
	token := victim.login("alice", "secret-a")
	if ck, _ := e.store.Get(dg(planted)); !ck.Auth.IsZero() {
		t.Fatalf("the login wrote %+v onto the planted cookie", ck.Auth)
	}
	if a := e.dial(planted); a.hello.Auth != nil {
		t.Fatalf("before the rotation the planted cookie logs in as %+v", a.hello.Auth)
	}
	next := rotate(t, e.httpURL, planted, token)
	if next == planted {
		t.Fatal("the rotation kept the planted value")
	}
	var h helloMsg
	attacker.send(map[string]any{"type": "whoami"})
	attacker.read(&h)
	if h.Auth != nil {
		t.Fatalf("the attacker's open connection gained %+v", h.Auth)
	}
	if a := e.dial(planted); !a.hello.New || a.hello.Auth != nil {
		t.Fatalf("after the rotation the planted cookie gives %+v", a.hello)
	}
	if v := e.dial(next); v.hello.Auth == nil || v.hello.Auth.AuthID != "alice" {
		t.Fatalf("the victim's new cookie gives %+v", v.hello.Auth)
	}
	// The attacker's connection moved with the browser's tabs, but its
	// logout ends only itself: the victim stays logged in.
	if m := attacker.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("the moved connection's logout answered %v", m)
	}
	if code, _ := attacker.closed(); code != websocket.CloseNormalClosure {
		t.Fatalf("the moved connection closed with %d", code)
	}
	if v := e.dial(next); v.hello.New || v.hello.Auth == nil || v.hello.Auth.AuthID != "alice" {
		t.Fatalf("a moved connection's logout logged the victim out: %+v", v.hello)
	}
	// The tab that logged in logs the browser out as before.
	if m := victim.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("the victim's logout answered %v", m)
	}
	if v := e.dial(next); !v.hello.New {
		t.Fatal("the victim's logout left the cookie")
	}
}

// Every way a rotation can be refused changes nothing: the old cookie
// stays, no cookie is set, and a good token stays good unless it was used
// or expired.
func TestRotationRefusals(t *testing.T) {
	body := func(token string) string { return `{"rotate":"` + token + `"}` }
	tests := []struct {
		name   string
		post   func(e *env, c *client, token string) (*http.Response, string)
		status int
		spent  bool // the token can no longer be used
	}{
		{"unknown token", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), body("x"+token[1:]), nil)
		}, http.StatusForbidden, false},
		{"another cookie", func(e *env, c *client, token string) (*http.Response, string) {
			other := e.dial("")
			return postRotate(t, e.httpURL, "cbtid="+other.value(), body(token), nil)
		}, http.StatusForbidden, false},
		{"no cookie", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "", body(token), nil)
		}, http.StatusForbidden, false},
		{"used token", func(e *env, c *client, token string) (*http.Response, string) {
			next := rotate(t, e.httpURL, c.value(), token)
			c.cookie.Value = next // the browser holds the new cookie now
			return postRotate(t, e.httpURL, "cbtid="+next, body(token), nil)
		}, http.StatusForbidden, true},
		{"expired token", func(e *env, c *client, token string) (*http.Response, string) {
			e.clock.Add(rotateTTL)
			return postRotate(t, e.httpURL, "cbtid="+c.value(), body(token), nil)
		}, http.StatusForbidden, true},
		{"foreign origin", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), body(token), func(r *http.Request) {
				r.Header.Set("Origin", "https://evil.example")
			})
		}, http.StatusForbidden, false},
		{"not JSON", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), body(token), func(r *http.Request) {
				r.Header.Set("Content-Type", "text/plain")
			})
		}, http.StatusUnsupportedMediaType, false},
		{"malformed JSON", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":`, nil)
		}, http.StatusBadRequest, false},
		{"no token", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":""}`, nil)
		}, http.StatusBadRequest, false},
		{"body too large", func(e *env, c *client, token string) (*http.Response, string) {
			return postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":"`+token+`","x":"`+strings.Repeat("a", rotateBody)+`"}`, nil)
		}, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
			c := e.dial("")
			token := c.login("alice", "secret-a")
			before := c.value()
			resp, text := tt.post(e, c, token)
			if resp.StatusCode != tt.status || len(resp.Cookies()) != 0 {
				t.Fatalf("%s %q, cookies %v; want %d and no cookie", resp.Status, text, resp.Cookies(), tt.status)
			}
			if strings.Contains(text, token) {
				t.Fatal("the answer echoes the token")
			}
			if tt.spent {
				if resp, _ := postRotate(t, e.httpURL, "cbtid="+c.value(), body(token), nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("a spent token still rotates: %s", resp.Status)
				}
				return
			}
			if ck, ok := e.store.Get(dg(before)); !ok || !ck.Auth.IsZero() {
				t.Fatalf("a refused rotation changed the cookie: %+v, %v", ck, ok)
			}
			rotate(t, e.httpURL, before, token) // still good
		})
	}
}

// Only the connection that logged in is authenticated until the rotation;
// a second login on the connection replaces its token.
func TestRotationTokenPerConnection(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	c := e.dial("")
	first := c.login("alice", "secret-a")
	second := c.login("bob", "secret-b")
	if first == second {
		t.Fatal("two logins got one token")
	}
	if resp, _ := postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":"`+first+`"}`, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the replaced token: %s, want 403", resp.Status)
	}
	next := rotate(t, e.httpURL, c.value(), second)
	if ck, _ := e.store.Get(dg(next)); ck.Auth.AuthID != "bob" {
		t.Fatalf("the new cookie carries %+v, want bob", ck.Auth)
	}
	// The connection that logged in now holds the new cookie: its hello
	// names it.
	var h helloMsg
	c.send(map[string]any{"type": "whoami"})
	c.read(&h)
	if h.Visitor != visitorOf(next) || h.Auth == nil || h.Auth.AuthID != "bob" {
		t.Fatalf("whoami after the rotation = %+v auth %+v", h, h.Auth)
	}
	// A closed connection's token is void.
	d := e.dial(next)
	token := d.login("alice", "secret-a")
	d.ws.Close()
	waitFor(t, "the connection to close", func() bool { return e.tracker.rot.len() == 0 })
	if resp, _ := postRotate(t, e.httpURL, "cbtid="+next, `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the token of a closed connection: %s, want 403", resp.Status)
	}
}

// Without tracking there is no cookie to rotate: the welcome has no token
// and the service takes no POST.
func TestUntrackedLoginHasNoRotation(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Auth: tickets()}, nil, TrackerOptions{})
	c := e.dial("")
	m := c.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "secret-a"})
	if _, has := m["rotate"]; m["type"] != "welcome" || has {
		t.Fatalf("untracked welcome = %v, want no rotate field", m)
	}
	if resp, _ := postRotate(t, e.httpURL, "", `{"rotate":"x"}`, nil); resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusForbidden {
		t.Fatalf("POST on an untracked service: %s", resp.Status)
	}
}

// A rotation of a cookie that was logged out meanwhile changes nothing.
func TestRotationAfterLogout(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	c := e.dial("")
	token := c.login("alice", "secret-a")
	if err := e.tracker.Logout(dg(c.value())); err != nil {
		t.Fatal(err)
	}
	if resp, _ := postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("rotation of a logged-out cookie: %s %v", resp.Status, resp.Cookies())
	}
	if e.store.Len() != 0 {
		t.Fatalf("%d cookies in the store, want 0", e.store.Len())
	}
}

// Cookie auth holds a stored login against the config in force: a
// principal that is gone logs nobody in, and a changed role or realm is
// the config's.
func TestCookieAuthRecheckedAgainstConfig(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, nil, TrackerOptions{})
	alice := e.loginRotate(e.dial(""), "alice", "secret-a")
	bob := e.loginRotate(e.dial(""), "bob", "secret-b")

	// The same store under a new config, as after an edit and a restart.
	changed := &config.Auth{Cookie: true, Anonymous: &config.Anonymous{Role: "guest"}, Ticket: &config.Ticket{Principals: map[string]config.Principal{
		"bob": {Ticket: "secret-b", Role: "reader", Realm: "realm2"},
	}}}
	e2 := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: changed}, e.store, TrackerOptions{Clock: e.clock.Now})
	a := e2.dial(alice)
	if a.hello.New || a.hello.Auth == nil || a.hello.Auth.AuthMethod != "anonymous" {
		t.Fatalf("a removed principal's cookie: %+v auth %+v, want the anonymous role", a.hello, a.hello.Auth)
	}
	want := authInfo{AuthID: "bob", AuthRole: "reader", AuthMethod: "ticket", AuthRealm: "realm2", AuthProvider: "cookie"}
	b := e2.dial(bob)
	if b.hello.Auth == nil || *b.hello.Auth != want {
		t.Fatalf("bob's cookie: %+v, want %+v", b.hello.Auth, want)
	}
	// whoami checks again, too.
	var h helloMsg
	b.send(map[string]any{"type": "whoami"})
	b.read(&h)
	if h.Auth == nil || *h.Auth != want {
		t.Fatalf("whoami: %+v, want %+v", h.Auth, want)
	}
	// Without the ticket method, no ticket login stands.
	e3 := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: &config.Auth{Cookie: true, Anonymous: &config.Anonymous{}}}, e.store, TrackerOptions{Clock: e.clock.Now})
	if c := e3.dial(bob); c.hello.Auth == nil || c.hello.Auth.AuthMethod != "anonymous" {
		t.Fatalf("without ticket auth bob's cookie gives %+v", c.hello.Auth)
	}
	// An auth that a program stored through the Go API, of a method that
	// the config does not know, stands as stored.
	id, _ := record.NewID(nil, 24)
	custom := record.Auth{AuthID: "svc", AuthRole: "robot", AuthMethod: "mtls", AuthRealm: "r"}
	if err := e.store.Create(record.Cookie{Digest: dg(id), Created: e.clock.Now(), MaxAge: time.Hour, Auth: custom}); err != nil {
		t.Fatal(err)
	}
	if c := e2.dial(id); c.hello.Auth == nil || c.hello.Auth.AuthMethod != "mtls" || c.hello.Auth.AuthRole != "robot" {
		t.Fatalf("a program's stored auth: %+v", c.hello.Auth)
	}
}
