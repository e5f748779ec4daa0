package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/node"
	"cookiestore/record"
)

// TestClockJumps moves the injected clock of the server and its file
// store: a cookie is replaced once created+max_age has passed, and a clock
// that jumps backwards never revives a cookie that was logged out, before
// or after a restart.
func TestClockJumps(t *testing.T) {
	const maxAge = time.Hour
	dir := t.TempDir()
	clock := testkit.NewClock()
	start := func() *testServer {
		t.Helper()
		return startServer(t, trackingConfig(int(maxAge/time.Second), "always"), dir,
			serverOptions{opener: &node.Opener{}, clock: clock.Now})
	}
	ts := start()
	url := ts.wsURL()
	dialOnce := func(id string) *wsClient {
		t.Helper()
		c := mustDial(t, url, id)
		c.close()
		return c
	}

	a := dialOnce("").cookie
	l := mustDial(t, url, "")
	if m, err := l.login("alice"); err != nil || m.Type != "welcome" {
		t.Fatalf("login: %+v %v", m, err)
	}
	l.close()
	loggedIn := l.cookie

	// A second before created+max_age the cookies are live; at it, gone.
	clock.Add(maxAge - time.Second)
	if c := dialOnce(a); c.hello.New || c.cookie != "" {
		t.Fatalf("a cookie one second before its expiry: hello %+v, cookie set %v", c.hello, c.cookie != "")
	}
	clock.Add(time.Second)
	if c := dialOnce(a); !c.hello.New || c.cookie == "" || c.cookie == a {
		t.Fatalf("a cookie at created+max_age was reused: hello %+v", c.hello)
	}
	// An expired login stops authenticating with it.
	if c := dialOnce(loggedIn); !c.hello.New || c.cookie == loggedIn || c.hello.Auth != nil {
		t.Fatalf("an expired logged-in cookie: hello %+v, auth %+v", c.hello, c.hello.Auth)
	}

	// Log out a fresh cookie, then turn the clock back to before it was
	// even created.
	b := mustDial(t, url, "")
	if m, err := b.login("bob"); err != nil || m.Type != "welcome" {
		t.Fatalf("login: %+v %v", m, err)
	}
	if m, err := b.logout(); err != nil || m.Type != "goodbye" {
		t.Fatalf("logout: %+v %v", m, err)
	}
	b.close()
	loggedOut := b.cookie
	clock.Add(-3 * maxAge)
	if c := dialOnce(loggedOut); !c.hello.New || c.cookie == loggedOut || c.hello.Auth != nil {
		t.Fatalf("a logged-out cookie came back when the clock went back: hello %+v", c.hello)
	}
	// A cookie issued at the earlier time is live again for the clock.
	early := dialOnce("").cookie

	// The same after a restart, which replays the journal under the
	// jumped clock.
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts = start()
	url = ts.wsURL()
	if c := dialOnce(loggedOut); !c.hello.New || c.cookie == loggedOut || c.hello.Auth != nil {
		t.Fatalf("a logged-out cookie came back after a restart under a clock that went back: hello %+v", c.hello)
	}
	if c := dialOnce(early); c.hello.New {
		t.Fatal("a live cookie was lost across the restart")
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := journalState(t, filepath.Join(dir, "cookies.dat"), clock.Now)[record.DigestOf(loggedOut)]; ok {
		t.Fatal("the journal replays the logged-out cookie as live")
	}
	// And the expiry holds across the restart: created+max_age against
	// the clock, not the time of the last open.
	clock.Add(maxAge)
	if _, ok := journalState(t, filepath.Join(dir, "cookies.dat"), clock.Now)[record.DigestOf(early)]; ok {
		t.Fatal("a cookie past created+max_age is live after reopen")
	}
}
