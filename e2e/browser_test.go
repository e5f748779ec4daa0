// Package e2e holds the tests that need the whole system at once: the
// tracking server with its file store, and a real browser.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/node"
)

// The principal the test logs in as; the config file grants it.
const (
	testAuthID = "alice"
	testTicket = "correct horse battery staple"
)

// findChromium returns the path of a Chromium or Chrome binary, or skips.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium not found; install it with: apt-get install -y chromium")
	return ""
}

// browserNode is a tracking server on a fixed node directory and port, as
// `cookiestore serve --config` runs it, so that it can be stopped and
// started again.
type browserNode struct {
	t      *testing.T
	dir    string
	config string
	url    string
	cancel context.CancelFunc
	done   chan error
}

// newNode writes the built-in config, with a ticket principal, to a fresh
// node directory and picks a free port.
func newNode(t *testing.T) *browserNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := strings.Replace(config.DefaultJSON, `"principals": {}`,
		fmt.Sprintf(`"principals": {%q: {"ticket": %q, "role": "user"}}`, testAuthID, testTicket), 1)
	cfg = strings.Replace(cfg, `"port": 8080`, `"port": `+strconv.Itoa(port), 1)
	if !strings.Contains(cfg, testAuthID) || !strings.Contains(cfg, strconv.Itoa(port)) {
		t.Fatal("the built-in config changed shape; update newNode")
	}
	n := &browserNode{t: t, dir: t.TempDir(), url: fmt.Sprintf("http://127.0.0.1:%d/", port)}
	n.config = filepath.Join(n.dir, "config.json")
	if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// start serves the node until stop.
func (n *browserNode) start() {
	n.t.Helper()
	cfg, err := config.Load(n.config, n.dir)
	if err != nil {
		n.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(n.t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := httpd.New(cfg, httpd.Options{Logger: log, OpenStore: (&node.Opener{Logger: log}).Open})
	if err != nil {
		n.t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		_ = srv.Close()
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- srv.Serve(ctx) }()
	n.t.Cleanup(n.stop)
}

// stop shuts the server down gracefully, as SIGTERM does; it waits for the
// store to be closed.
func (n *browserNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		n.t.Error("the server did not stop in 15 s")
	}
}

// pageState is what the page shows, read from its elements.
type pageState struct {
	State       string `json:"state"`
	Visitor     string `json:"visitor"`
	New         string `json:"new"`
	Created     string `json:"created"`
	Connections string `json:"connections"`
	AuthID      string `json:"authid"`
	Provider    string `json:"provider"`
	Error       string `json:"error"`
}

const readState = `(() => {
	const $ = (id) => document.getElementById(id);
	return {
		state: $("state").textContent,
		visitor: $("visitor").textContent,
		new: $("new").dataset.new,
		created: $("created").dateTime,
		connections: $("connections").textContent,
		authid: $("auth").dataset.authid,
		provider: $("auth").dataset.provider,
		error: $("error").textContent,
	};
})()`

// waitFor polls the page until the JavaScript condition holds, then returns
// what it shows.
func waitFor(t *testing.T, ctx context.Context, what, cond string) pageState {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	st, serr := chromedp.Run(ctx, chromedp.Evaluate[pageState](readState))
	if err != nil {
		t.Fatalf("%s: %v; the page shows %+v (%v)", what, err, st, serr)
	}
	if serr != nil {
		t.Fatalf("%s: read the page: %v", what, serr)
	}
	return st
}

// helloShown holds once the page is connected and has shown a hello.
const helloShown = `document.getElementById("state").dataset.state === "connected" && document.getElementById("new").dataset.new !== ""`

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	n := newNode(t)
	n.start()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	tab1, cancelTab1 := chromedp.NewContext(alloc)
	defer cancelTab1()

	// A first visit: a new visitor, with a cookie that scripts cannot read.
	do(t, tab1, "open the page", chromedp.Navigate(n.url))
	first := waitFor(t, tab1, "first visit", helloShown)
	if first.New != "true" || first.Visitor == "" || first.Visitor == "–" || first.Created == "" || first.Connections != "1" {
		t.Fatalf("first visit shows %+v: want a new visitor with a creation time and 1 connection", first)
	}
	jsCookies, err := chromedp.Run(tab1, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jsCookies, "cbtid") {
		t.Errorf("document.cookie = %q: the tracking cookie must be HttpOnly", jsCookies)
	}
	cookies, err := chromedp.Call(tab1, network.GetCookies, network.GetCookiesParams{URLs: []string{n.url}})
	if err != nil {
		t.Fatal(err)
	}
	var tracking *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "cbtid" {
			tracking = c
		}
	}
	if tracking == nil || !tracking.HTTPOnly || tracking.SameSite != network.CookieSameSiteLax {
		t.Fatalf("browser cookies %+v: want cbtid, HttpOnly, SameSite=Lax", cookies.Cookies)
	}
	if strings.Contains(first.Visitor, tracking.Value) {
		t.Errorf("the page shows the cookie value as the visitor")
	}

	// A reload: the same visitor, returning.
	do(t, tab1, "reload", chromedp.Reload())
	again := waitFor(t, tab1, "reload", helloShown)
	if again.New != "false" || again.Visitor != first.Visitor || again.Created != first.Created {
		t.Errorf("after reload the page shows %+v: want visitor %s, created %s, new false", again, first.Visitor, first.Created)
	}

	// A wrong ticket is refused; the right one logs in.
	do(t, tab1, "wrong login",
		chromedp.SendKeys(chromedp.ID("authid"), testAuthID),
		chromedp.SendKeys(chromedp.ID("ticket"), "wrong"),
		chromedp.Click(chromedp.ID("login")))
	refused := waitFor(t, tab1, "wrong login", `document.getElementById("error").textContent !== ""`)
	if refused.AuthID != "" || !strings.Contains(refused.Error, "login failed") {
		t.Errorf("after a wrong ticket the page shows %+v", refused)
	}
	if _, err := chromedp.Run(tab1, chromedp.Evaluate[bool](`document.getElementById("ticket").value = ""; true`)); err != nil {
		t.Fatal(err)
	}
	do(t, tab1, "login",
		chromedp.SendKeys(chromedp.ID("ticket"), testTicket),
		chromedp.Click(chromedp.ID("login")))
	waitFor(t, tab1, "login", `document.getElementById("auth").dataset.authid === "alice"`)

	// A reload: logged in again by the cookie.
	do(t, tab1, "reload after login", chromedp.Reload())
	viaCookie := waitFor(t, tab1, "login via cookie", helloShown+` && document.getElementById("auth").dataset.provider !== ""`)
	if viaCookie.AuthID != testAuthID || viaCookie.Provider != "cookie" {
		t.Errorf("after reload the page shows %+v: want %s via cookie", viaCookie, testAuthID)
	}

	// A restart of the server: the cookie and its login survive.
	n.stop()
	waitFor(t, tab1, "the server going away", `document.getElementById("state").dataset.state === "closed"`)
	n.start()
	do(t, tab1, "reload after restart", chromedp.Reload())
	restarted := waitFor(t, tab1, "after restart", helloShown+` && document.getElementById("auth").dataset.provider !== ""`)
	if restarted.New != "false" || restarted.Visitor != first.Visitor || restarted.AuthID != testAuthID || restarted.Provider != "cookie" {
		t.Errorf("after a restart the page shows %+v: want visitor %s, returning, %s via cookie", restarted, first.Visitor, testAuthID)
	}

	// Two tabs of one browser share the cookie; logging out in one closes
	// the other.
	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	do(t, tab2, "open a second tab", chromedp.Navigate(n.url))
	second := waitFor(t, tab2, "second tab", helloShown)
	if second.Visitor != first.Visitor {
		t.Errorf("second tab shows visitor %s, want %s", second.Visitor, first.Visitor)
	}
	waitFor(t, tab1, "two connections", `document.getElementById("connections").textContent === "2"`)
	do(t, tab2, "logout", chromedp.Click(chromedp.ID("logout")))
	kicked := waitFor(t, tab1, "the other tab closed", `document.getElementById("state").dataset.state === "closed"`)
	if !strings.HasPrefix(kicked.State, "closed: 4001") {
		t.Errorf("the other tab shows %q, want the close code 4001 of a logout", kicked.State)
	}
	own := waitFor(t, tab2, "the logged-out tab closed", `document.getElementById("state").dataset.state === "closed"`)
	if !strings.HasPrefix(own.State, "closed: 1000") || own.AuthID != "" {
		t.Errorf("the tab that logged out shows %+v, want closed: 1000 and nobody", own)
	}

	// The logout is durable: a new visit is a new visitor, with no login.
	do(t, tab1, "reload after logout", chromedp.Reload())
	after := waitFor(t, tab1, "after logout", helloShown)
	if after.New != "true" || after.Visitor == first.Visitor || after.AuthID != "" {
		t.Errorf("after logout the page shows %+v: want a new visitor, nobody logged in", after)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the browser test ran out of its 60 s")
	}
}
