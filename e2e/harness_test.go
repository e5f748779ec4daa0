package e2e

// The harness of the hardening tests: a real httpd.Server on a loopback
// port whose stores come from a node.Opener (as `cookiestore serve` opens
// them), an injected clock, a file layer that fails on request, and
// WebSocket clients that never call t.Fatal, so that they can run on many
// goroutines.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/node"
)

// Principals of the test configs.
const (
	aliceTicket = "alice's ticket"
	bobTicket   = "bob's ticket"
)

// trackingConfig is a web transport with a tracked WebSocket service at
// /ws (cookie and ticket auth), /status and /metrics. The store is a file
// store with the given sync mode, in cookies.dat of the node directory, or
// a memory store when sync is "". The tests make thousands of new cookies
// from one address, so the limit of new cookies per address is off.
func trackingConfig(maxAge int, sync string) string {
	store := `{"type":"memory"}`
	if sync != "" {
		store = fmt.Sprintf(`{"type":"file","filename":"cookies.dat","sync":%q}`, sync)
	}
	return fmt.Sprintf(`{"transports":[{"type":"web","endpoint":{"type":"tcp","interface":"127.0.0.1","port":8080},"paths":{
	"ws": {"type":"websocket",
	       "options":{"max_new_cookies_per_second":0,"new_cookie_burst":0},
	       "cookie":{"name":"cbtid","length":24,"max_age":%d,"store":%s},
	       "auth":{"cookie":{},"ticket":{"type":"static","principals":{
	           "alice":{"ticket":%q,"role":"user"},
	           "bob":{"ticket":%q,"role":"admin"}}}}},
	"status": {"type":"status"},
	"metrics": {"type":"metrics"}
}}]}`, maxAge, store, aliceTicket, bobTicket)
}

func ticketOf(authid string) string {
	if authid == "bob" {
		return bobTicket
	}
	return aliceTicket
}

// testServer is an httpd.Server serving a config on 127.0.0.1, with the
// stores its Opener opened.
type testServer struct {
	t      *testing.T
	srv    *httpd.Server
	base   string // http://127.0.0.1:PORT
	cancel context.CancelFunc
	served chan error
	once   sync.Once
	err    error

	mu     sync.Mutex
	stores []httpd.Store
}

// serverOptions are what a test may change in how startServer runs.
type serverOptions struct {
	opener *node.Opener     // nil = a plain Opener
	clock  func() time.Time // nil = a test clock; given to the server and the Opener
	logger *slog.Logger     // nil = discard
}

// startServer parses cfgJSON with dir as node directory, moves its
// endpoint to a free loopback port and serves it until the test ends or
// stop is called.
func startServer(t *testing.T, cfgJSON, dir string, so serverOptions) *testServer {
	t.Helper()
	ts, err := tryStartServer(cfgJSON, dir, so)
	if err != nil {
		t.Fatal(err)
	}
	ts.t = t
	t.Cleanup(func() { _ = ts.stop() })
	return ts
}

func tryStartServer(cfgJSON, dir string, so serverOptions) (*testServer, error) {
	cfg, err := config.Parse([]byte(cfgJSON), dir)
	if err != nil {
		return nil, err
	}
	for _, tr := range cfg.Transports {
		tr.Endpoint.Interface, tr.Endpoint.Port = "127.0.0.1", 0
	}
	if so.opener == nil {
		so.opener = &node.Opener{}
	}
	if so.clock == nil {
		so.clock = testkit.NewClock().Now
	}
	so.opener.Clock = so.clock
	if so.logger == nil {
		so.logger = slog.New(slog.DiscardHandler)
	}
	if so.opener.Logger == nil {
		so.opener.Logger = so.logger
	}
	ts := &testServer{served: make(chan error, 1)}
	open := func(sc config.Store, onSync func(time.Duration, error)) (httpd.Store, error) {
		st, err := so.opener.Open(sc, onSync)
		if err == nil {
			ts.mu.Lock()
			ts.stores = append(ts.stores, st)
			ts.mu.Unlock()
		}
		return st, err
	}
	srv, err := httpd.New(cfg, httpd.Options{
		Logger:            so.logger,
		Clock:             so.clock,
		OpenStore:         open,
		ShutdownTimeout:   10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		_ = srv.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.srv, ts.cancel = srv, cancel
	ts.base = "http://" + srv.Addrs()[0].String()
	go func() { ts.served <- srv.Serve(ctx) }()
	return ts, nil
}

// stop shuts the server down gracefully and returns Serve's error; later
// calls return the same.
func (ts *testServer) stop() error {
	ts.once.Do(func() {
		ts.cancel()
		select {
		case ts.err = <-ts.served:
		case <-time.After(30 * time.Second):
			ts.err = errors.New("Serve did not return 30 s after the shutdown began")
		}
	})
	return ts.err
}

// fileStore returns the file store the server opened.
func (ts *testServer) fileStore() node.FileStore {
	ts.t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, st := range ts.stores {
		if fs, ok := st.(node.FileStore); ok {
			return fs
		}
	}
	ts.t.Fatal("the server has no file store")
	return node.FileStore{}
}

func (ts *testServer) wsURL() string { return "ws" + strings.TrimPrefix(ts.base, "http") + "/ws" }

// get fetches path with a fresh connection, so that no keep-alive
// connection outlives the call.
func (ts *testServer) get(path string) (int, []byte, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// statusDoc is the part of /status that the tests read.
type statusDoc struct {
	Connections int  `json:"connections"`
	Cookies     int  `json:"cookies"`
	ReadOnly    bool `json:"read_only"`
	Services    []struct {
		URL         string `json:"url"`
		Connections int    `json:"connections"`
		Store       *struct {
			Type        string `json:"type"`
			Cookies     int    `json:"cookies"`
			SyncErrors  int64  `json:"sync_errors"`
			Compactions int64  `json:"compactions"`
			ReadOnly    bool   `json:"read_only"`
			Error       string `json:"error"`
		} `json:"store"`
	} `json:"services"`
}

func (ts *testServer) status() statusDoc {
	ts.t.Helper()
	code, body, err := ts.get("/status")
	if err != nil || code != http.StatusOK {
		ts.t.Fatalf("GET /status: %d %v", code, err)
	}
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		ts.t.Fatalf("status %s: %v", body, err)
	}
	return doc
}

// metric returns the value of the series named exactly series (with its
// labels, as /metrics writes them).
func (ts *testServer) metric(series string) float64 {
	ts.t.Helper()
	code, body, err := ts.get("/metrics")
	if err != nil || code != http.StatusOK {
		ts.t.Fatalf("GET /metrics: %d %v", code, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				ts.t.Fatalf("metric %s: %v", sc.Text(), err)
			}
			return v
		}
	}
	ts.t.Fatalf("/metrics has no series %s", series)
	return 0
}

// Messages of the protocol, as a client reads them.
type (
	wireAuth struct {
		AuthID       string `json:"authid"`
		AuthRole     string `json:"authrole"`
		AuthMethod   string `json:"authmethod"`
		AuthProvider string `json:"authprovider"`
	}
	message struct {
		Type        string    `json:"type"`
		Visitor     string    `json:"visitor"`
		New         bool      `json:"new"`
		Connections int       `json:"connections"`
		Created     string    `json:"created"`
		Auth        *wireAuth `json:"auth"`
		Error       string    `json:"error"`
		Rotate      string    `json:"rotate"` // a welcome's rotation token
	}
)

// wsClient is one WebSocket connection to /ws.
type wsClient struct {
	ws     *websocket.Conn
	resp   *http.Response
	cookie string  // the value of Set-Cookie cbtid, "" if none was set
	hello  message // the first message
}

// handshakeError is a refused handshake: the HTTP status and the response
// headers, for the tests that expect a refusal.
type handshakeError struct {
	status int
	header http.Header
	err    error
}

// isStatus reports whether err is a refusal with the given HTTP status.
func isStatus(err error, status int) bool {
	var he *handshakeError
	return errors.As(err, &he) && he.status == status
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("handshake: HTTP %d: %v", e.status, e.err)
}

// dial opens /ws with the given Cookie header lines (none for nil) and
// reads the hello. It does not fail the test, so that it can run on any
// goroutine. A refused handshake is a *handshakeError.
func dial(url string, cookieLines ...string) (*wsClient, error) {
	h := http.Header{}
	for _, l := range cookieLines {
		h.Add("Cookie", l)
	}
	// A short handshake timeout, so that a dead server fails a client fast.
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		if resp != nil {
			return nil, &handshakeError{status: resp.StatusCode, header: resp.Header, err: err}
		}
		return nil, err
	}
	c := &wsClient{ws: ws, resp: resp}
	for _, hc := range resp.Cookies() {
		if hc.Name == "cbtid" {
			c.cookie = hc.Value
		}
	}
	if err := c.read(&c.hello); err != nil {
		ws.Close()
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if c.hello.Type != "hello" {
		ws.Close()
		return nil, fmt.Errorf("first message is %q, want a hello", c.hello.Type)
	}
	return c, nil
}

// dialCookie dials with the cookie cbtid=id, or with none for "".
func dialCookie(url, id string) (*wsClient, error) {
	if id == "" {
		return dial(url)
	}
	return dial(url, "cbtid="+id)
}

func (c *wsClient) read(m *message) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	if typ != websocket.TextMessage {
		return fmt.Errorf("message type %d, want text", typ)
	}
	return json.Unmarshal(data, m)
}

// request sends v and reads the answer.
func (c *wsClient) request(v any) (message, error) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteJSON(v); err != nil {
		return message{}, err
	}
	var m message
	err := c.read(&m)
	return m, err
}

func (c *wsClient) login(authid string) (message, error) {
	return c.request(map[string]string{"type": "login", "authid": authid, "ticket": ticketOf(authid)})
}

// rotate trades a welcome's token for a new cookie, as the built-in page
// does: a POST to the service with the old cookie id. It returns the new
// cookie's value, or the HTTP status of a refusal in the error.
func rotate(wsURL, id, token string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, "http"+strings.TrimPrefix(wsURL, "ws"), strings.NewReader(`{"rotate":"`+token+`"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "cbtid="+id)
	req.Close = true // no idle connection left for the leak checks
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return "", &handshakeError{status: resp.StatusCode, header: resp.Header, err: errors.New("rotation refused")}
	}
	for _, hc := range resp.Cookies() {
		if hc.Name == "cbtid" && hc.Value != "" {
			return hc.Value, nil
		}
	}
	return "", errors.New("rotation: 204 without a cookie")
}

// loginRotate logs c, whose cookie is id, in as authid and rotates the
// cookie; it returns the new cookie's value.
func (c *wsClient) loginRotate(wsURL, id, authid string) (string, error) {
	m, err := c.login(authid)
	if err != nil {
		return "", err
	}
	if m.Type != "welcome" || m.Rotate == "" {
		return "", fmt.Errorf("login as %s: %+v, want a welcome with a rotation token", authid, m)
	}
	return rotate(wsURL, id, m.Rotate)
}

func (c *wsClient) logout() (message, error) {
	return c.request(map[string]string{"type": "logout"})
}

// closed waits for the server's close frame and returns its code.
func (c *wsClient) closed() (int, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, nil
			}
			return 0, err
		}
	}
}

func (c *wsClient) close() { _ = c.ws.Close() }

// mustDial dials or fails the test.
func mustDial(t *testing.T, url, id string) *wsClient {
	t.Helper()
	c, err := dialCookie(url, id)
	if err != nil {
		t.Fatalf("dial with cookie %q: %v", id, err)
	}
	t.Cleanup(c.close)
	return c
}

// mustRefuse dials a new visitor, expects the handshake to be refused
// with status and no cookie, and returns the response headers.
func mustRefuse(t *testing.T, url string, status int) {
	t.Helper()
	c, err := dial(url)
	if err == nil {
		c.close()
		t.Fatalf("handshake accepted (hello %+v, cookie set: %v); want HTTP %d", c.hello, c.cookie != "", status)
	}
	var he *handshakeError
	if !errors.As(err, &he) || he.status != status {
		t.Fatalf("handshake: %v; want HTTP %d", err, status)
	}
	if v := he.header.Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("a refused handshake set a cookie: %q", v)
	}
}

// newFaultFS returns the operating system's file system with faults
// injected into the file whose base name is target (the journal); the lock
// file and compaction's temporary files are left alone.
func newFaultFS(target string) *testkit.FaultFS[journal.File] {
	return testkit.NewFaultFS[journal.File](journal.OSFS(), testkit.Faults{Target: target})
}
