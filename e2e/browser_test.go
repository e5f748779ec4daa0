// Package e2e holds the tests that need the whole system at once: the
// tracking server with its file store, and a real browser.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

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
	// CI installs Chromium (.ci/run does, as root): there, its absence is a
	// failure, never a silent skip.
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found in CI; .ci/run should have installed it (apt-get install -y chromium)")
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
	LastClose   string `json:"lastClose"`
	Visitor     string `json:"visitor"`
	New         string `json:"new"`
	Created     string `json:"created"`
	Connections string `json:"connections"`
	AuthID      string `json:"authid"`
	Provider    string `json:"provider"`
	Error       string `json:"error"`
	TicketForm  bool   `json:"ticketForm"`
	NoLogin     bool   `json:"noLogin"`
}

const readState = `(() => {
	const $ = (id) => document.getElementById(id);
	return {
		state: $("state").textContent,
		lastClose: $("state").dataset.lastClose,
		visitor: $("visitor").textContent,
		new: $("new").dataset.new,
		created: $("created").dateTime,
		connections: $("connections").textContent,
		authid: $("auth").dataset.authid,
		provider: $("auth").dataset.provider,
		error: $("error").textContent,
		ticketForm: !$("ticket-login").hidden,
		noLogin: !$("no-login").hidden,
	};
})()`

// waitFor polls the page until the JavaScript condition holds, then returns
// what it shows.
func waitFor(t *testing.T, ctx context.Context, what, cond string) pageState {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
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

// loggedIn holds once the page shows authid logged in by its cookie.
func loggedIn(authid string) string {
	return helloShown + ` && document.getElementById("auth").dataset.authid === "` + authid + `" && document.getElementById("auth").dataset.provider === "cookie"`
}

// closedWith holds once the page's last connection that opened was closed
// with code; an attempt to reconnect that fails (1006 while the server is
// down) does not hide it, however slowly the test polls.
func closedWith(code int) string {
	return `document.getElementById("state").dataset.lastClose === "` + strconv.Itoa(code) + `"`
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// trackingCookie returns the browser's tracking cookie.
func trackingCookie(t *testing.T, ctx context.Context, url string) *network.Cookie {
	t.Helper()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == "cbtid" {
			return c
		}
	}
	t.Fatalf("browser cookies %+v: no cbtid", cookies.Cookies)
	return nil
}

// failedRequests records every response of the server with a status of
// 400 or more, in any tab that it watches.
type failedRequests struct {
	mu   sync.Mutex
	urls []string
}

func (f *failedRequests) watch(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response != nil && r.Response.Status >= 400 {
			f.mu.Lock()
			f.urls = append(f.urls, fmt.Sprintf("%d %s", r.Response.Status, r.Response.URL))
			f.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *failedRequests) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...)
}

// TestBrowser drives the built-in page in headless Chromium, in two tabs of
// one browser: a first visit, a wrong and a right login, the rotation of the
// cookie that the login asks for and the other tab following it, a restart
// of the server, a logout that clears the other tab, and the reconnects.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	n := newNode(t)
	n.start()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
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
	var failed failedRequests
	tab1, cancelTab1 := chromedp.NewContext(alloc)
	defer cancelTab1()
	failed.watch(t, tab1)

	// A first visit: a new visitor, with a cookie that scripts cannot read,
	// and the login form, since the service has a ticket principal.
	do(t, tab1, "open the page", chromedp.Navigate(n.url))
	first := waitFor(t, tab1, "first visit", helloShown)
	if first.New != "true" || first.Visitor == "" || first.Visitor == "–" || first.Created == "" || first.Connections != "1" {
		t.Fatalf("first visit shows %+v: want a new visitor with a creation time and 1 connection", first)
	}
	if !first.TicketForm || first.NoLogin {
		t.Errorf("first visit shows %+v: want the ticket form, which the service offers", first)
	}
	jsCookies, err := chromedp.Run(tab1, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jsCookies, "cbtid") {
		t.Errorf("document.cookie = %q: the tracking cookie must be HttpOnly", jsCookies)
	}
	tracking := trackingCookie(t, tab1, n.url)
	if !tracking.HTTPOnly || tracking.SameSite != network.CookieSameSiteLax {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Lax", tracking)
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

	// A second tab of the browser, open before the login.
	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	failed.watch(t, tab2)
	do(t, tab2, "open a second tab", chromedp.Navigate(n.url))
	if second := waitFor(t, tab2, "second tab", helloShown); second.Visitor != first.Visitor {
		t.Errorf("second tab shows visitor %s, want %s", second.Visitor, first.Visitor)
	}
	waitFor(t, tab1, "two connections", `document.getElementById("connections").textContent === "2"`)

	// A wrong ticket is refused; the right one logs in, and the page
	// rotates the cookie by itself.
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
	var rotated *network.Cookie
	deadline := time.Now().Add(10 * time.Second)
	for rotated = trackingCookie(t, tab1, n.url); rotated.Value == tracking.Value && time.Now().Before(deadline); rotated = trackingCookie(t, tab1, n.url) {
		time.Sleep(50 * time.Millisecond)
	}
	if rotated.Value == tracking.Value {
		t.Fatal("the login did not rotate the cookie")
	}
	if !rotated.HTTPOnly || rotated.SameSite != network.CookieSameSiteLax || rotated.Path != "/" {
		t.Errorf("rotated cookie %+v: want HttpOnly, SameSite=Lax, Path=/", rotated)
	}
	// The tab that logged in names the new cookie; the old one is refused.
	newVisitor := waitFor(t, tab1, "the new visitor", `document.getElementById("visitor").textContent !== "`+first.Visitor+`"`).Visitor
	old, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.url, "http")+"ws", http.Header{"Cookie": {"cbtid=" + tracking.Value}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Cookies()) != 1 || resp.Cookies()[0].Value == tracking.Value {
		t.Errorf("the cookie from before the login was not replaced: Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	old.Close()

	// The other tab follows: it reconnects, and the new cookie logs it in.
	follower := waitFor(t, tab2, "the other tab following the rotation", loggedIn(testAuthID))
	if follower.Visitor != newVisitor {
		t.Errorf("the other tab shows visitor %s, want the new %s", follower.Visitor, newVisitor)
	}

	// A reload: logged in again by the cookie.
	do(t, tab1, "reload after login", chromedp.Reload())
	if viaCookie := waitFor(t, tab1, "login via cookie", loggedIn(testAuthID)); viaCookie.Visitor != newVisitor {
		t.Errorf("after reload the page shows %+v: want visitor %s", viaCookie, newVisitor)
	}

	// A restart of the server: both tabs see it go away (1001) and
	// reconnect by themselves; the cookie and its login survive.
	n.stop()
	waitFor(t, tab1, "the server going away", closedWith(1001))
	waitFor(t, tab2, "the server going away", closedWith(1001))
	n.start()
	for _, tab := range []context.Context{tab1, tab2} {
		back := waitFor(t, tab, "reconnect after restart", loggedIn(testAuthID))
		if back.New != "false" || back.Visitor != newVisitor {
			t.Errorf("after a restart the page shows %+v: want visitor %s, returning, %s via cookie", back, newVisitor, testAuthID)
		}
	}

	// A logout in one tab clears the other (4001), and both come back as a
	// new visitor, logged in as nobody.
	do(t, tab2, "logout", chromedp.Click(chromedp.ID("logout")))
	waitFor(t, tab1, "the other tab closed", closedWith(4001))
	waitFor(t, tab2, "the logged-out tab closed", closedWith(1000))
	for _, tab := range []context.Context{tab1, tab2} {
		fresh := waitFor(t, tab, "a new visitor after the logout", helloShown+` && document.getElementById("visitor").textContent !== "`+newVisitor+`"`)
		if fresh.AuthID != "" || fresh.Visitor == first.Visitor {
			t.Errorf("after the logout a tab shows %+v: want a new visitor, nobody logged in", fresh)
		}
	}

	// The logout is durable: a reload is not logged in.
	do(t, tab1, "reload after logout", chromedp.Reload())
	if after := waitFor(t, tab1, "after logout", helloShown); after.AuthID != "" || after.Visitor == newVisitor {
		t.Errorf("after logout the page shows %+v: want a new visitor, nobody logged in", after)
	}
	if f := failed.list(); len(f) > 0 {
		t.Errorf("the page met failed requests: %q", f)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the browser test ran out of its time")
	}
}

// TestBrowserNoLoginOffered: with no principal, the page offers no login
// form but says how to enable one.
func TestBrowserNoLoginOffered(t *testing.T) {
	chromium := findChromium(t)
	n := newNode(t)
	cfg := strings.Replace(config.DefaultJSON, `"port": 8080`, `"port": `+n.url[strings.LastIndexByte(n.url[:len(n.url)-1], ':')+1:len(n.url)-1], 1)
	if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	do(t, tab, "open the page", chromedp.Navigate(n.url))
	if st := waitFor(t, tab, "first visit", helloShown); st.TicketForm || !st.NoLogin {
		t.Errorf("with no principal the page shows %+v: want no form, and how to enable a login", st)
	}
}
