package httpd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
	"cookiestore/memstore"
	"cookiestore/record"
)

// t0 is where every test clock starts.
var t0 = testkit.Start()

// dg is the digest of the cookie ID id, as the store knows it.
func dg(id string) record.Digest { return record.DigestOf(id) }

// memStore returns a memory store on clk, without a janitor, closed when
// the test ends. A test gives the tracker the same clock.
func memStore(t *testing.T, clk *testkit.Clock) *memstore.Store {
	s := memstore.New(memstore.Options{Clock: clk.Now, JanitorInterval: -1})
	t.Cleanup(func() { s.Close() })
	return s
}

// faultStore wraps a memory store and lets a test break it.
type faultStore struct {
	Store
	mu        sync.Mutex
	createErr error // returned by Create, with the digest appended
	rotateErr error
	deleteErr error
	closed    int
	stats     *StoreStats
}

func (f *faultStore) Create(c record.Cookie) error {
	f.mu.Lock()
	err := f.createErr
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("create cookie %s: %w", c.Digest, err)
	}
	return f.Store.Create(c)
}

func (f *faultStore) Rotate(old record.Digest, next record.Cookie) error {
	f.mu.Lock()
	err := f.rotateErr
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("rotate %s: %w", old, err)
	}
	return f.Store.Rotate(old, next)
}

func (f *faultStore) Delete(d record.Digest, why record.DeleteReason) error {
	f.mu.Lock()
	err := f.deleteErr
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete %s: %w", d, err)
	}
	return f.Store.Delete(d, why)
}

func (f *faultStore) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return f.Store.Close()
}

func (f *faultStore) closeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// statsStore is a store that reports journal figures, as the command's
// file store adapter does.
type statsStore struct {
	Store
	stats StoreStats
}

func (s statsStore) StoreStats() StoreStats {
	st := s.stats
	st.Cookies = s.Len()
	return st
}

// memoryCookie is a cookie block with the defaults written out.
func memoryCookie() *config.Cookie {
	return &config.Cookie{Name: "cbtid", Length: 24, MaxAge: 24 * time.Hour, SameSite: http.SameSiteLaxMode}
}

func tickets() *config.Auth {
	return &config.Auth{
		Cookie: true,
		Ticket: &config.Ticket{Principals: map[string]config.Principal{
			"alice": {Ticket: "secret-a", Role: "user", Realm: "realm1"},
			"bob":   {Ticket: "secret-b", Role: "admin"},
		}},
	}
}

type env struct {
	t       *testing.T
	tracker *Tracker
	store   Store
	srv     *httptest.Server
	url     string // ws://.../ws
	httpURL string // http://.../ws, where rotation tokens are posted
	clock   *testkit.Clock
	logs    *testkit.LogBuffer
}

// newEnv serves one tracker on an httptest server at "/ws". A nil store
// gets a fresh memstore on the env's clock.
func newEnv(t *testing.T, svc *config.WebSocket, store Store, opts TrackerOptions) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock()}
	if opts.Clock == nil {
		opts.Clock = e.clock.Now
	}
	if opts.Logger == nil {
		opts.Logger, e.logs = testkit.DebugLogger()
	}
	if store == nil && svc.Cookie != nil {
		ms := memstore.New(memstore.Options{Clock: opts.Clock, JanitorInterval: -1})
		t.Cleanup(func() { ms.Close() })
		store = ms
	}
	tr, err := NewTracker(svc, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	tr.closeGrace = 500 * time.Millisecond
	tr.sweepEvery = 10 * time.Millisecond
	mux := http.NewServeMux()
	mux.Handle("/ws", tr)
	e.tracker, e.store = tr, store
	e.srv = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	e.httpURL = e.srv.URL + "/ws"
	t.Cleanup(func() {
		if err := tr.Shutdown(shutdownCtx(t)); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		e.srv.Close()
	})
	return e
}

// shutdownCtx bounds a shutdown in a cleanup, where t.Context() is
// already cancelled.
func shutdownCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client is one test WebSocket connection.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	resp   *http.Response
	cookie *http.Cookie // the Set-Cookie of the handshake, if any
	hello  helloMsg
	raw    []string // every text message received
}

// dial connects with the given cookie value ("" for none) and reads the
// hello.
func (e *env) dial(cookie string) *client {
	e.t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "cbtid="+cookie)
	}
	return dialURL(e.t, e.url, h, nil)
}

func dialURL(t *testing.T, url string, h http.Header, d *websocket.Dialer) *client {
	t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	c := &client{t: t, ws: ws, resp: resp}
	t.Cleanup(func() { ws.Close() })
	for _, hc := range resp.Cookies() {
		c.cookie = hc // the tracker sets one cookie at most
	}
	c.read(&c.hello)
	if c.hello.Type != "hello" {
		t.Fatalf("first message is %q, want a hello", c.hello.Type)
	}
	return c
}

// read decodes the next text message into v.
func (c *client) read(v any) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		c.t.Fatalf("message type %d, want text", typ)
	}
	c.raw = append(c.raw, string(data))
	if err := json.Unmarshal(data, v); err != nil {
		c.t.Fatalf("decode %s: %v", data, err)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply sends v and returns the answer as a generic map.
func (c *client) reply(v any) map[string]any {
	c.t.Helper()
	c.send(v)
	var m map[string]any
	c.read(&m)
	return m
}

// closed waits for the server's close frame and returns its code and text.
func (c *client) closed() (int, string) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		typ, data, err := c.ws.ReadMessage()
		if err == nil {
			if typ == websocket.TextMessage {
				c.raw = append(c.raw, string(data))
			}
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("want a close frame, got %v", err)
	}
}

// value returns the cookie's value, failing when none was issued.
func (c *client) value() string {
	c.t.Helper()
	if c.cookie == nil {
		c.t.Fatalf("no cookie issued; Set-Cookie = %q", c.resp.Header.Values("Set-Cookie"))
	}
	return c.cookie.Value
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks fails the test if goroutines started during it are still running
// shortly after its cleanups. Register it first, so that it runs last.
func noLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines after the test, %d before:\n%s", n, base, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func isHexVisitor(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// login logs c in and returns the welcome's rotation token, "" when it has
// none.
func (c *client) login(authid, ticket string) string {
	c.t.Helper()
	m := c.reply(map[string]any{"type": "login", "authid": authid, "ticket": ticket})
	if m["type"] != "welcome" {
		c.t.Fatalf("login %s: %v", authid, m)
	}
	token, _ := m["rotate"].(string)
	return token
}

// postRotate posts a rotation token to url as a browser would: JSON, with
// the cookie (a full "name=value" pair, or "" for none) and a same-origin
// Origin header. edit, if not nil, changes the request before it is sent.
func postRotate(t *testing.T, url, cookie, body string, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://"+req.URL.Host)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// rotate trades token for a new cookie, presenting cookie value id, and
// returns the new value; it fails unless the answer is 204 with a cookie.
func rotate(t *testing.T, url, id, token string) string {
	t.Helper()
	resp, body := postRotate(t, url, "cbtid="+id, `{"rotate":"`+token+`"}`, nil)
	cs := resp.Cookies()
	if resp.StatusCode != http.StatusNoContent || len(cs) != 1 || cs[0].Value == "" {
		t.Fatalf("rotation: %s %q, cookies %v; want 204 with a new cookie", resp.Status, body, cs)
	}
	return cs[0].Value
}

// loginRotate logs c in and rotates its cookie, as the built-in page does,
// and returns the new cookie value.
func (e *env) loginRotate(c *client, authid, ticket string) string {
	e.t.Helper()
	token := c.login(authid, ticket)
	if token == "" {
		e.t.Fatal("the welcome has no rotation token")
	}
	return rotate(e.t, e.httpURL, c.value(), token)
}
