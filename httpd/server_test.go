package httpd

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
	"cookiestore/memstore"
)

// testServer is a Server serving on loopback for one test.
type testServer struct {
	*Server
	base   string // http://127.0.0.1:port
	cancel context.CancelFunc
	served chan error
}

// parseTestConfig parses a config and moves every endpoint to an ephemeral
// loopback port.
func parseTestConfig(t *testing.T, doc, nodeDir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), nodeDir)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	for _, tr := range cfg.Transports {
		tr.Endpoint.Interface, tr.Endpoint.Port = "127.0.0.1", 0
	}
	return cfg
}

func startServer(t *testing.T, cfg *config.Config, opts Options) *testServer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger, _ = testkit.DebugLogger()
	}
	if opts.Clock == nil {
		opts.Clock = testkit.NewClock().Now
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, cancel: cancel, served: make(chan error, 1)}
	scheme := "http"
	if cfg.Transports[0].Endpoint.TLS != nil {
		scheme = "https"
	}
	ts.base = scheme + "://" + s.Addrs()[0].String()
	go func() { ts.served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// stop cancels Serve and returns its error; later calls return nil.
func (ts *testServer) stop() error {
	ts.cancel()
	select {
	case err, ok := <-ts.served:
		if ok {
			close(ts.served)
		}
		return err
	case <-time.After(10 * time.Second):
		return errors.New("Serve did not return")
	}
}

func (ts *testServer) ws(path string) string {
	return "ws" + strings.TrimPrefix(ts.base, "http") + path
}

// rotate logs c in and rotates its cookie at the service path, and returns
// the new cookie value.
func (ts *testServer) loginRotate(t *testing.T, path string, c *client, authid, ticket string) string {
	t.Helper()
	return rotate(t, ts.base+path, c.value(), c.login(authid, ticket))
}

func (ts *testServer) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", ts.base+path, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (ts *testServer) status(t *testing.T) statusDoc {
	t.Helper()
	resp, body := ts.get(t, "/status")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	return doc
}

const webConfig = `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
	"ws": {"type":"websocket","cookie":{"store":{"type":"memory"}},
	       "auth":{"cookie":{},"ticket":{"type":"static","principals":{"alice":{"ticket":"secret-a","role":"user"}}}}},
	"status": {"type":"status"},
	"metrics": {"type":"metrics"}
}}]}`

func TestServerStatusAndMetrics(t *testing.T) {
	noLeaks(t)
	stats := StoreStats{EventsAppended: 42, JournalBytes: 4096, Syncs: 7, SyncErrors: 1, Compactions: 3, DeadRatio: 0.25, ReadOnly: true, Err: "fdatasync: input/output error"}
	var onSync func(time.Duration, error)
	clk := testkit.NewClock()
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Version: "v1.2.3",
		Clock:   clk.Now,
		OpenStore: func(sc config.Store, sync func(time.Duration, error)) (Store, error) {
			onSync = sync
			return statsStore{Store: memStore(t, clk), stats: stats}, nil
		},
	})
	onSync(3*time.Millisecond, nil)
	onSync(time.Second, syscall.EIO)

	a := dialURL(t, ts.ws("/ws"), nil, nil)
	dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {"cbtid=" + a.value()}}, nil)
	dialURL(t, ts.ws("/ws"), nil, nil)
	_, resp, _ := websocket.DefaultDialer.Dial(ts.ws("/ws"), http.Header{"Origin": {"https://evil.example"}})
	if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin: %v", resp)
	}

	doc := ts.status(t)
	if doc.Version != "v1.2.3" || doc.Connections != 3 || doc.Cookies != 2 || !doc.ReadOnly || !doc.Ready || doc.UptimeSeconds < 0 || len(doc.Services) != 1 {
		t.Fatalf("status = %+v", doc)
	}
	svc := doc.Services[0]
	want := storeStatus{Type: "memory", Cookies: 2, EventsAppended: 42, JournalBytes: 4096, Syncs: 7, SyncErrors: 1,
		Compactions: 3, DeadRatio: 0.25, ReadOnly: true, Ready: true, Error: "fdatasync: input/output error"}
	if svc.URL != "/ws" || svc.Path != "transports[0].paths.ws" || svc.Connections != 3 || svc.Visitors != 2 || svc.Store == nil || *svc.Store != want {
		t.Fatalf("service status = %+v, store %+v", svc, svc.Store)
	}

	resp, body := ts.get(t, "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		"cookiestore_connections 3",
		"cookiestore_cookies 2",
		"cookiestore_events_appended_total 42",
		"cookiestore_journal_bytes 4096",
		"cookiestore_compactions_total 3",
		"cookiestore_fsync_errors_total 1",
		"cookiestore_store_read_only 1",
		"cookiestore_fsync_seconds_count 2",
		`cookiestore_fsync_seconds_bucket{le="0.0032"} 1`,
		`cookiestore_handshakes_total{result="new"} 2`,
		`cookiestore_handshakes_total{result="returning"} 1`,
		`cookiestore_handshakes_total{result="refused"} 1`,
		`cookiestore_handshakes_total{result="error"} 0`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, "\n"+line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestStaticFilesAreGzipped(t *testing.T) {
	node := t.TempDir()
	web := filepath.Join(node, "web")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	page := strings.Repeat("<p>cookiestore</p>\n", 500)
	if err := os.WriteFile(filepath.Join(web, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(web, "app.js"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parseTestConfig(t, `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
		"/": {"type":"static","directory":"web"},
		"assets": {"type":"static","directory":"web"},
		"ws": {"type":"websocket"}
	}}]}`, node)
	ts := startServer(t, cfg, Options{})
	for _, path := range []string{"/", "/app.js", "/assets/app.js"} {
		req, _ := http.NewRequest("GET", ts.base+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		tr := &http.Transport{DisableCompression: true}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: %d, Content-Encoding %q", path, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if err != nil || string(got) != page {
			t.Fatalf("GET %s: %d bytes after gunzip, %v", path, len(got), err)
		}
	}
	// The WebSocket path still upgrades next to a catch-all static folder.
	dialURL(t, ts.ws("/ws"), nil, nil)
}

func TestManyConnectionsOnFewCookies(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	noLeaks(t)
	const cookies, perCookie = 50, 20
	var store *memstore.Store
	clk := testkit.NewClock()
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Clock: clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) {
			store = memStore(t, clk)
			return store, nil
		},
	})
	ids := make([]string, cookies)
	var conns []*websocket.Conn
	for i := range ids {
		c := dialURL(t, ts.ws("/ws"), nil, nil)
		ids[i] = c.value()
		conns = append(conns, c.ws)
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	// Dial 50 at a time, so that the test measures the server rather than
	// SYN retries on a full accept queue; the connections stay open.
	sem := make(chan struct{}, 50)
	for i := range cookies * (perCookie - 1) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			h := http.Header{"Cookie": {"cbtid=" + ids[i%cookies]}}
			ws, _, err := websocket.DefaultDialer.Dial(ts.ws("/ws"), h)
			var hello helloMsg
			if err == nil {
				_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				err = ws.ReadJSON(&hello)
				if err == nil && (hello.New || hello.Visitor != visitorOf(ids[i%cookies])) {
					err = fmt.Errorf("hello %+v for cookie %d", hello, i%cookies)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ws != nil {
				conns = append(conns, ws)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d failed connections, first: %v", len(errs), errs[0])
	}
	tracker := ts.services[0].tracker
	for i, id := range ids {
		if n := tracker.reg.count(dg(id)); n != perCookie {
			t.Fatalf("cookie %d has %d connections, want %d", i, n, perCookie)
		}
	}
	doc := ts.status(t)
	if doc.Connections != cookies*perCookie || doc.Cookies != cookies || doc.Services[0].Visitors != cookies {
		t.Fatalf("status = %+v %+v", doc, doc.Services[0])
	}
	if store.Len() != cookies {
		t.Fatalf("store holds %d cookies", store.Len())
	}
	for _, ws := range conns {
		ws.Close()
	}
	waitFor(t, "every connection to close", func() bool { return tracker.Connections() == 0 })
	if doc := ts.status(t); doc.Connections != 0 || doc.Services[0].Visitors != 0 || doc.Cookies != cookies {
		t.Fatalf("status after close = %+v", doc)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	noLeaks(t)
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// A header that never ends.
	if _, err := io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatalf("the slow connection was not closed: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, want about 200ms", d)
	}
}

func TestGracefulShutdown(t *testing.T) {
	noLeaks(t)
	var store *faultStore
	clk := testkit.NewClock()
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Clock: clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) {
			store = &faultStore{Store: memStore(t, clk)}
			return store, nil
		},
	})
	a := dialURL(t, ts.ws("/ws"), nil, nil)
	b := dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {"cbtid=" + a.value()}}, nil)
	done := make(chan error, 1)
	go func() { done <- ts.stop() }()
	for _, c := range []*client{a, b} {
		if code, reason := c.closed(); code != websocket.CloseGoingAway || reason != "going away" {
			t.Fatalf("close %d %q, want 1001 going away", code, reason)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if n := store.closeCount(); n != 1 {
		t.Fatalf("store closed %d times, want 1", n)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://")); err == nil {
		t.Fatal("still listening after shutdown")
	}
	if err := ts.Close(); err != nil || store.closeCount() != 1 {
		t.Fatalf("Close after Serve: %v, store closed %d times", err, store.closeCount())
	}
}

func TestCloseWithoutServe(t *testing.T) {
	var store *faultStore
	clk := testkit.NewClock()
	s, err := New(parseTestConfig(t, webConfig, t.TempDir()), Options{
		Clock: clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) {
			store = &faultStore{Store: memStore(t, clk)}
			return store, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if store.closeCount() != 1 {
		t.Fatal("store not closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port was not released: %v", err)
	}
	ln.Close()
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("Serve after Close succeeded")
	}
}

func TestListenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := parseTestConfig(t, `{"transports":[
		{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{"status":{"type":"status"}}},
		{"type":"web","endpoint":{"type":"tcp","port":8081},"paths":{"status":{"type":"status"}}}]}`, t.TempDir())
	cfg.Transports[1].Endpoint.Port = ln.Addr().(*net.TCPAddr).Port
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Listen()
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "transports[1]") ||
		!strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Listen = %v", err)
	}
	if len(s.Addrs()) != 0 {
		t.Fatalf("the first transport is still bound: %v", s.Addrs())
	}
}

func TestNewErrors(t *testing.T) {
	fileCfg := `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
		"a": {"type":"websocket","cookie":{"name":"first","store":{"type":"memory"}}},
		"b": {"type":"websocket","cookie":{"name":"second","store":{"type":"file","filename":"cookies.dat"}}}}}]}`
	t.Run("file store without an opener", func(t *testing.T) {
		_, err := New(parseTestConfig(t, fileCfg, t.TempDir()), Options{})
		if err == nil || !strings.Contains(err.Error(), "transports[0].paths.b.cookie.store") || !strings.Contains(err.Error(), "package node") {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("opener fails: earlier stores are closed", func(t *testing.T) {
		var opened []*faultStore
		clk := testkit.NewClock()
		_, err := New(parseTestConfig(t, fileCfg, t.TempDir()), Options{
			Clock: clk.Now,
			OpenStore: func(sc config.Store, _ func(time.Duration, error)) (Store, error) {
				if sc.Type == "file" {
					return nil, fmt.Errorf("open %s: %w", sc.Filename, syscall.EAGAIN)
				}
				fs := &faultStore{Store: memStore(t, clk)}
				opened = append(opened, fs)
				return fs, nil
			},
		})
		if !errors.Is(err, syscall.EAGAIN) || len(opened) != 1 || opened[0].closeCount() != 1 {
			t.Fatalf("New = %v; %d stores opened", err, len(opened))
		}
	})
	t.Run("no transports", func(t *testing.T) {
		if _, err := New(&config.Config{}, Options{}); err == nil {
			t.Fatal("New with no transports succeeded")
		}
	})
	t.Run("cookie block without a store description", func(t *testing.T) {
		var opened []config.Store
		s, err := New(&config.Config{Transports: []*config.Transport{{
			Path: "t", Type: config.TransportWebSocket, Endpoint: config.Endpoint{Type: "tcp", Interface: "127.0.0.1"},
			WebSocket: &config.WebSocket{Cookie: &config.Cookie{}},
		}}}, Options{OpenStore: func(sc config.Store, _ func(time.Duration, error)) (Store, error) {
			opened = append(opened, sc)
			return memstore.New(memstore.Options{}), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(opened) != 1 || opened[0].Type != config.StoreMemory {
			t.Errorf("stores opened: %+v, want one memory store", opened)
		}
	})
	t.Run("missing TLS files", func(t *testing.T) {
		cfg := parseTestConfig(t, webConfig, t.TempDir())
		cfg.Transports[0].Endpoint.TLS = &config.TLS{Key: "/nonexistent/key.pem", Certificate: "/nonexistent/cert.pem"}
		if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "transports[0].endpoint.tls") {
			t.Fatalf("New = %v", err)
		}
	})
}

func TestTLSEndpointAndWebSocketTransport(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	pool := testkit.WriteKeyPair(t, dir)
	cfg := parseTestConfig(t, `{"transports":[{"type":"websocket",
		"endpoint":{"type":"tcp","port":8443,"tls":{"key":"key.pem","certificate":"cert.pem"}},
		"cookie":{"store":{"type":"memory"}}}]}`, dir)
	ts := startServer(t, cfg, Options{})
	d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c := dialURL(t, ts.ws("/"), nil, d)
	if !c.cookie.Secure || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie over TLS: %q", c.resp.Header.Values("Set-Cookie"))
	}
	if again := dialURL(t, ts.ws("/anything"), http.Header{"Cookie": {"cbtid=" + c.value()}}, d); again.hello.New {
		t.Fatal("cookie not reused on the websocket transport")
	}
}

// A scenario with every kind of event, after which neither the log nor any
// message to a client contains a cookie value.
func TestNoCookieValueInLogsOrMessages(t *testing.T) {
	logger, logs := testkit.DebugLogger()
	clk := testkit.NewClock()
	fs := &faultStore{Store: memStore(t, clk)}
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Logger:    logger,
		Clock:     clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) { return fs, nil },
	})
	var clients []*client
	var ids []string
	a := dialURL(t, ts.ws("/ws"), nil, nil)
	clients, ids = append(clients, a), append(ids, a.value())
	a.reply(map[string]any{"type": "login", "authid": "alice", "ticket": "wrong"})
	token := a.login("alice", "secret-a")
	a.reply(map[string]any{"type": "whoami"})
	a.reply(map[string]any{"type": "nonsense"})
	next := rotate(t, ts.base+"/ws", a.value(), token)
	ids = append(ids, next)
	b := dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {"cbtid=" + next}}, nil)
	clients = append(clients, b)
	fs.mu.Lock()
	fs.deleteErr, fs.rotateErr = syscall.EIO, syscall.EIO
	fs.mu.Unlock()
	b.reply(map[string]any{"type": "logout"})
	token = b.login("alice", "secret-a")
	if resp, _ := postRotate(t, ts.base+"/ws", "cbtid="+next, `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("rotation on a failing store: %s", resp.Status)
	}
	fs.mu.Lock()
	fs.deleteErr, fs.rotateErr, fs.createErr = nil, nil, syscall.ENOSPC
	fs.mu.Unlock()
	if _, resp, err := websocket.DefaultDialer.Dial(ts.ws("/ws"), nil); err == nil || resp.StatusCode != 503 {
		t.Fatalf("handshake on a full disk: %v", err)
	}
	fs.mu.Lock()
	fs.createErr = nil
	fs.mu.Unlock()
	b.reply(map[string]any{"type": "logout"})
	a.closed()
	b.closed()
	c := dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {"cbtid=" + a.value()}}, nil)
	clients, ids = append(clients, c), append(ids, c.value())
	if n, err := ts.services[0].tracker.Revoke("nobody"); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	c.closed()

	if !strings.Contains(logs.String(), `"visitor":"`+visitorOf(ids[0])+`"`) {
		t.Fatalf("the log does not name the visitor; is it logging at all?\n%s", logs.String())
	}
	for _, id := range ids {
		if strings.Contains(logs.String(), id) {
			t.Errorf("the log contains a cookie value:\n%s", logs.String())
		}
		for _, cl := range clients {
			for _, m := range cl.raw {
				if strings.Contains(m, id) {
					t.Errorf("a message contains a cookie value: %s", m)
				}
			}
		}
	}
}

// The page and the tracker share a transport as in the built-in default.
func TestDefaultLayout(t *testing.T) {
	cfg := parseTestConfig(t, `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
		"/": {"type":"page"},
		"ws": {"type":"websocket","cookie":{"store":{"type":"memory"}}},
		"status": {"type":"status"}}}]}`, t.TempDir())
	ts := startServer(t, cfg, Options{})
	if resp, body := ts.get(t, "/"); resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(t, "/app.js"); resp.StatusCode != 200 {
		t.Fatalf("GET /app.js: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(t, "/nope"); resp.StatusCode != 404 {
		t.Fatalf("GET /nope: %d", resp.StatusCode)
	}
	dialURL(t, ts.ws("/ws"), nil, nil)
	if doc := ts.status(t); doc.Connections != 1 {
		t.Fatalf("status = %+v", doc)
	}
	// A request line read slowly is still served: the limit is on the header.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /status HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", strings.TrimPrefix(ts.base, "http://"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raw GET /status: %v %v", resp, err)
	}
	resp.Body.Close()
}
