package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/e2e/internal/childproc"
)

const aliceTicket = "alice's ticket"

// natsConfig is a serve config: a tracked WebSocket service at /ws with
// cookie and ticket auth, /status and /metrics, on a nats store. Every
// client of these tests comes from one address, so the limit on new
// cookies per address is off.
func natsConfig(urls []string, replicas int) string {
	return fmt.Sprintf(`{"transports":[{"type":"web","endpoint":{"type":"tcp","interface":"127.0.0.1","port":8080},"paths":{
	"ws": {"type":"websocket",
	       "options":{"max_new_cookies_per_second":0},
	       "cookie":{"name":"cbtid","length":24,"max_age":3600,
	                 "store":{"type":"nats","url":%q,"replicas":%d}},
	       "auth":{"cookie":{},"ticket":{"type":"static","principals":{"alice":{"ticket":%q,"role":"user"}}}}},
	"status": {"type":"status"},
	"metrics": {"type":"metrics"}
}}]}`, strings.Join(urls, ","), replicas, aliceTicket)
}

// node is a `cookiestore serve` process and its node directory; start
// runs it again in the same directory.
type node struct {
	*childproc.Proc
	t    *testing.T
	dir  string
	conf string
	base string // http://127.0.0.1:PORT
}

// startNode writes cfg into a fresh node directory and serves it.
func startNode(t *testing.T, cfg string) *node {
	t.Helper()
	build(t)
	n := &node{t: t, dir: t.TempDir()}
	n.conf = filepath.Join(n.dir, "config.json")
	if err := os.WriteFile(n.conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	return n
}

// start runs serve in the node's directory and waits until it listens.
func (n *node) start() {
	n.t.Helper()
	n.Proc = childproc.Serve(n.t, tools.cs, n.conf, n.dir)
	n.base = "http://" + n.Addr
}

func (n *node) ws() string { return "ws" + strings.TrimPrefix(n.base, "http") + "/ws" }

// status is the part of /status these tests read.
type status struct {
	Ready    bool `json:"ready"`
	Services []struct {
		Store *struct {
			Type    string `json:"type"`
			Cookies int    `json:"cookies"`
			Ready   bool   `json:"ready"`
			Stream  *struct {
				Name       string `json:"name"`
				Seq        uint64 `json:"seq"`
				LastSeq    uint64 `json:"last_seq"`
				Lag        uint64 `json:"lag"`
				Connection string `json:"connection"`
				Server     string `json:"server"`
			} `json:"stream"`
		} `json:"store"`
	} `json:"services"`
}

func (n *node) get(path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (n *node) status() status {
	n.t.Helper()
	code, body, err := n.get("/status")
	if err != nil || code != 200 {
		n.t.Fatalf("GET /status: %d %v", code, err)
	}
	var st status
	if err := json.Unmarshal(body, &st); err != nil {
		n.t.Fatal(err)
	}
	return st
}

// waitReady waits until /status says the node has caught up.
func (n *node) waitReady() {
	n.t.Helper()
	eventually(n.t, 60*time.Second, "node ready", func() bool { return n.status().Ready })
}

// wsClient is one WebSocket connection of a test browser.
type wsClient struct {
	ws     *websocket.Conn
	cookie string // the cookie it presented, or was given
	isNew  bool
	hello  hello
}

type hello struct {
	Type string `json:"type"`
	New  bool   `json:"new"`
	Auth *struct {
		AuthID       string `json:"authid"`
		AuthProvider string `json:"authprovider"`
	} `json:"auth"`
}

// dial connects to url with cookie ("" = none) and reads the hello. On a
// refused handshake it returns the HTTP status. It never fails the test,
// so that it can run on many goroutines.
func dial(url, cookie string) (*wsClient, int, error) {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "cbtid="+cookie)
	}
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode, err
		}
		return nil, 0, err
	}
	c := &wsClient{ws: ws, cookie: cookie}
	for _, hc := range resp.Cookies() {
		if hc.Name == "cbtid" {
			c.cookie, c.isNew = hc.Value, true
		}
	}
	if err := c.read(&c.hello); err != nil || c.hello.Type != "hello" {
		ws.Close()
		return nil, 0, fmt.Errorf("hello: %+v, %v", c.hello, err)
	}
	return c, 101, nil
}

func mustDial(t *testing.T, url, cookie string) *wsClient {
	t.Helper()
	c, code, err := dial(url, cookie)
	if err != nil {
		t.Fatalf("dial %s: HTTP %d, %v", url, code, err)
	}
	t.Cleanup(func() { c.ws.Close() })
	return c
}

func (c *wsClient) read(v any) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// ask sends msg and returns the answer's type.
func (c *wsClient) ask(t *testing.T, msg map[string]string) map[string]any {
	t.Helper()
	if err := c.ws.WriteJSON(msg); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := c.read(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// login logs c in as alice on node n and completes the rotation that the
// welcome asks for, as the built-in page does: the login's cookie is the
// new one the POST sets, and c's old cookie is gone. It returns the new
// cookie, which c now counts as its own.
func (c *wsClient) login(t *testing.T, n *node) string {
	t.Helper()
	m := c.ask(t, map[string]string{"type": "login", "authid": "alice", "ticket": aliceTicket})
	token, _ := m["rotate"].(string)
	if m["type"] != "welcome" || token == "" {
		t.Fatalf("login on %s: %v", n.base, m)
	}
	req, err := http.NewRequest(http.MethodPost, n.base+"/ws", strings.NewReader(`{"rotate":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", n.base)
	req.Header.Set("Cookie", "cbtid="+c.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, hc := range resp.Cookies() {
		if hc.Name == "cbtid" && resp.StatusCode == http.StatusNoContent {
			c.cookie = hc.Value
			return hc.Value
		}
	}
	t.Fatalf("rotation on %s: HTTP %d, Set-Cookie %q", n.base, resp.StatusCode, resp.Header.Values("Set-Cookie"))
	return ""
}

// closed waits for the close frame and returns its code.
func (c *wsClient) closed(t *testing.T) int {
	t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("want a close frame, got %v", err)
	}
}

// Two serve processes on one stream of an embedded three-node cluster: a
// cookie issued on one is known on the other at once, a login on one is
// cookie auth on the other, a logout on one closes the tab on the other,
// and a restarted node recognises every cookie.
func TestServeTwoNodes(t *testing.T) {
	_, urls := embeddedCluster(t, 3)
	cfg := natsConfig(urls, 3)
	a := startNode(t, cfg)
	b := startNode(t, cfg)
	a.waitReady()
	b.waitReady()

	first := mustDial(t, a.ws(), "")
	if !first.isNew {
		t.Fatal("no cookie issued on A")
	}
	onB := mustDial(t, b.ws(), first.cookie)
	if onB.isNew || onB.hello.New {
		t.Fatal("B does not know the cookie that A issued a moment ago")
	}

	// Login and rotation on A; B authenticates the new cookie at once, and
	// knows the old one no more.
	old := first.cookie
	first.login(t, a)
	authed := mustDial(t, b.ws(), first.cookie)
	if authed.hello.Auth == nil || authed.hello.Auth.AuthID != "alice" || authed.hello.Auth.AuthProvider != "cookie" {
		t.Fatalf("hello on B after the login on A: %+v", authed.hello.Auth)
	}
	if c := mustDial(t, b.ws(), old); !c.isNew || c.hello.Auth != nil {
		t.Fatalf("B still accepts the cookie that the login on A rotated away: %+v", c.hello)
	}

	// Logout on A closes B's tabs of that cookie with 4001.
	if m := first.ask(t, map[string]string{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout on A: %v", m)
	}
	for _, c := range []*wsClient{onB, authed} {
		if code := c.closed(t); code != 4001 {
			t.Fatalf("B's tab closed with %d, want 4001", code)
		}
	}
	if again := mustDial(t, b.ws(), first.cookie); !again.isNew {
		t.Fatal("B still accepts a cookie logged out on A")
	}

	// cookiestore revoke through B's control socket writes the tombstones
	// to the stream, and A closes its tabs of alice's cookie with 4002.
	second := mustDial(t, a.ws(), "")
	second.login(t, a)
	tab := mustDial(t, a.ws(), second.cookie)
	eventually(t, 10*time.Second, "B's index has alice's cookie", func() bool {
		c, _, err := dial(b.ws(), second.cookie)
		if err != nil {
			return false
		}
		defer c.ws.Close()
		return c.hello.Auth != nil && c.hello.Auth.AuthID == "alice"
	})
	out, err := exec.Command(tools.cs, "revoke", "--config", b.conf, "alice").CombinedOutput()
	if err != nil {
		t.Fatalf("cookiestore revoke: %v\n%s", err, out)
	}
	if code := tab.closed(t); code != 4002 {
		t.Fatalf("A's tab of a revoked cookie closed with %d, want 4002 (revoke said %s)", code, out)
	}

	// /status and /metrics show the stream.
	st := b.status().Services[0].Store
	if st == nil || st.Type != "nats" || st.Stream == nil || st.Stream.Name != "COOKIES" || st.Stream.Seq == 0 || st.Stream.Connection != "CONNECTED" {
		t.Fatalf("B's store status: %+v", st)
	}
	if _, body, err := b.get("/metrics"); err != nil || !strings.Contains(string(body), "\ncookiestore_stream_lag ") ||
		!strings.Contains(string(body), "\ncookiestore_stream_publish_seconds_count ") {
		t.Fatalf("B's metrics lack the stream figures (%v)", err)
	}

	// Cookies issued on A survive a crash and a clean restart of B.
	var issued []string
	for range 20 {
		c := mustDial(t, a.ws(), "")
		issued = append(issued, c.cookie)
		c.ws.Close()
	}
	b.Kill()
	b.start()
	b.waitReady()
	for _, id := range issued {
		if c := mustDial(t, b.ws(), id); c.isNew {
			t.Fatal("B forgot a cookie after a crash")
		}
	}
	b.Stop(t)

	// With B stopped, revoke opens B's store itself, catches up with the
	// stream and writes the tombstones there; A closes its tab.
	third := mustDial(t, a.ws(), "")
	third.login(t, a)
	out, err = exec.Command(tools.cs, "revoke", "--config", b.conf, "alice").CombinedOutput()
	if err != nil {
		t.Fatalf("cookiestore revoke with B stopped: %v\n%s", err, out)
	}
	if code := third.closed(t); code != 4002 {
		t.Fatalf("A's tab closed with %d after a revoke through B's stopped config, want 4002 (%s)", code, out)
	}

	b.start()
	b.waitReady()
	if !strings.Contains(b.Stderr(), "snapshot loaded") {
		t.Errorf("B did not load its snapshot after a clean stop:\n%s", b.Stderr())
	}
	for _, id := range issued {
		if c := mustDial(t, b.ws(), id); c.isNew {
			t.Fatal("B forgot a cookie after a clean restart")
		}
	}
}
