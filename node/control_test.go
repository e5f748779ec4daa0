package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/httpd"
	"cookiestore/internal/testkit"
	"cookiestore/internal/testkit/nodetest"
	"cookiestore/journal"
	"cookiestore/record"
	"cookiestore/replay"
)

// parseConfig parses cfgJSON with dir as node directory, on a free
// loopback port.
func parseConfig(t *testing.T, cfgJSON, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgJSON), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range cfg.Transports {
		tr.Endpoint.Interface, tr.Endpoint.Port = "127.0.0.1", 0
	}
	return cfg
}

// testNode is a node serving in the background.
type testNode struct {
	*Node
	cfg    *config.Config
	dir    string
	base   string // host:port
	cancel context.CancelFunc
	served chan error
}

// startNode serves cfg as a node on dir, with clk, until the test ends.
func startNode(t *testing.T, cfg *config.Config, dir string, clk *testkit.Clock, log *slog.Logger) *testNode {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := New(cfg, Options{Dir: dir, Clock: clk.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		_ = n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, cfg: cfg, dir: dir, base: n.Addrs()[0].String(), cancel: cancel, served: make(chan error, 1)}
	go func() { tn.served <- n.Serve(ctx) }()
	t.Cleanup(func() { tn.stop(t) })
	return tn
}

// stop shuts the node down and waits for Serve; a second call does nothing.
func (tn *testNode) stop(t *testing.T) {
	t.Helper()
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	tn.cancel = nil
	select {
	case err := <-tn.served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return 20 s after the shutdown began")
	}
}

// dial connects to path on the node with the cookie name=value (none if
// value is "") and returns the connection and its hello.
func (tn *testNode) dial(t *testing.T, path, name, value string) (*nodetest.Conn, map[string]any) {
	t.Helper()
	c := nodetest.Dial(t, tn.base, path, name, value)
	return c, c.Hello
}

// TestRevokeRunning revokes alice through the control socket of a running
// node: her cookies are deleted, her connections on both services closed
// with 4002, and bob's cookie and connection stay.
func TestRevokeRunning(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock()
	ids := nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), clk.Now, "alice", "alice", "bob")
	tn := startNode(t, parseConfig(t, nodetest.Config, dir), dir, clk, nil)

	fi, err := os.Lstat(filepath.Join(dir, SocketName))
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v; want a socket with mode 0600", err, fi.Mode())
	}
	if tn.SocketPath() != filepath.Join(dir, SocketName) {
		t.Errorf("SocketPath = %q", tn.SocketPath())
	}

	// Alice on two browsers, one of them with two tabs, by cookie auth;
	// bob on one; alice logged in on the memory service by ticket.
	var alice []*nodetest.Conn
	for _, id := range []string{ids[0], ids[0], ids[1]} {
		c, hello := tn.dial(t, "/ws", "cbtid", id)
		if nodetest.AuthID(hello) != "alice" || hello["new"] != false {
			t.Fatalf("hello %v, want alice by her cookie", hello)
		}
		alice = append(alice, c)
	}
	bob, hello := tn.dial(t, "/ws", "cbtid", ids[2])
	if nodetest.AuthID(hello) != "bob" {
		t.Fatalf("hello %v, want bob by his cookie", hello)
	}
	mem, _ := tn.dial(t, "/mem", "", "")
	if w := mem.Reply(map[string]string{"type": "login", "authid": "alice", "ticket": "a"}); w["type"] != "welcome" {
		t.Fatalf("login: %v", w)
	}

	rep, err := Revoke(context.Background(), tn.cfg, dir, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Running || rep.AuthID != "alice" || len(rep.Stores) != 2 {
		t.Fatalf("report %+v: want a running node's, with two services", rep)
	}
	// The services in config order: a web transport's paths are sorted.
	memRep, ws := rep.Stores[0], rep.Stores[1]
	if ws.Service != "transports[0].paths.ws" || ws.Store != config.StoreFile || ws.Cookies != 2 || ws.Connections != 3 || ws.Err != nil {
		t.Errorf("file service: %+v, want 2 cookies and 3 connections revoked", ws)
	}
	if memRep.Service != "transports[0].paths.mem" || memRep.Store != config.StoreMemory || memRep.Connections != 1 || memRep.Err != nil {
		t.Errorf("memory service: %+v, want its 1 connection revoked", memRep)
	}
	if rep.Connections() != 4 || rep.Cookies() != ws.Cookies+memRep.Cookies {
		t.Errorf("totals: %d cookies, %d connections", rep.Cookies(), rep.Connections())
	}
	for _, c := range append(alice, mem) {
		if code, text := c.Closed(); code != httpd.CloseRevoked || text != "revoked" {
			t.Errorf("alice's connection closed with %d %q, want 4002 \"revoked\"", code, text)
		}
	}
	// Bob is untouched, and alice's cookies are gone: each comes back new.
	if m := bob.Reply(map[string]string{"type": "whoami"}); nodetest.AuthID(m) != "bob" {
		t.Errorf("bob after alice's revocation: %v", m)
	}
	for _, id := range ids[:2] {
		if _, hello := tn.dial(t, "/ws", "cbtid", id); hello["new"] != true || nodetest.AuthID(hello) != "" {
			t.Errorf("alice's revoked cookie came back: %v", hello)
		}
	}

	// The node's Go API does the same; nothing is left of alice.
	again, err := tn.Revoke("alice")
	if err != nil || again.Cookies() != 0 || again.Connections() != 0 {
		t.Errorf("second revocation: %+v, %v; want nothing left", again, err)
	}

	// Shutdown removes the socket and keeps its lock file.
	tn.stop(t)
	if _, err := os.Lstat(filepath.Join(dir, SocketName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the socket outlived the node: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SocketName+".lock")); err != nil {
		t.Errorf("the socket's lock file: %v", err)
	}
	st, err := filestore.Open(filepath.Join(dir, "cookies.dat"), filestore.Options{Clock: clk.Now, JanitorInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.Get(record.DigestOf(ids[0])); ok {
		t.Error("alice's cookie is back after a restart")
	}
	if c, ok := st.Get(record.DigestOf(ids[2])); !ok || c.Auth.AuthID != "bob" {
		t.Error("bob's cookie is gone")
	}
}

// TestRevokeStopped revokes alice with no node running: the journal is
// edited under its lock, and the cookies stay deleted when a node starts.
func TestRevokeStopped(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock()
	path := filepath.Join(dir, "cookies.dat")
	ids := nodetest.Seed(t, path, clk.Now, "alice", "bob", "alice", "")
	cfg := parseConfig(t, nodetest.Config, dir)

	rep, err := Revoke(context.Background(), cfg, dir, "alice", &Opener{Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := []StoreReport{
		{Service: "transports[0].paths.mem", Store: config.StoreMemory},
		{Service: "transports[0].paths.ws", Store: config.StoreFile, Cookies: 2},
	}
	if rep.Running || len(rep.Stores) != len(want) || rep.Stores[0] != want[0] || rep.Stores[1] != want[1] {
		t.Fatalf("report %+v\nwant the stores %+v, not running", rep, want)
	}

	// The deletes are in the journal, as revocations.
	var revoked int
	st, err := filestore.Open(path, filestore.Options{Clock: clk.Now, JanitorInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for c := range st.All() {
		if c.Auth.AuthID == "alice" {
			t.Errorf("alice still has cookie %s", c.Digest)
		}
	}
	if st.Len() != 2 {
		t.Errorf("%d cookies left, want bob's and the anonymous one", st.Len())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = journalEvents(t, path, func(e *record.Event) {
		if e.Kind == record.KindDelete && e.Reason == record.ReasonRevoke {
			revoked++
		}
	})
	if err != nil || revoked != 2 {
		t.Errorf("%d revoke events in the journal (%v), want 2", revoked, err)
	}

	// A node started afterwards does not know alice's cookies.
	tn := startNode(t, cfg, dir, clk, nil)
	if _, hello := tn.dial(t, "/ws", "cbtid", ids[0]); hello["new"] != true {
		t.Errorf("alice's cookie after revocation and restart: %v", hello)
	}
	if _, hello := tn.dial(t, "/ws", "cbtid", ids[1]); nodetest.AuthID(hello) != "bob" {
		t.Errorf("bob's cookie after alice's revocation: %v", hello)
	}
}

// journalEvents calls fn for each event of the journal at path.
func journalEvents(t *testing.T, path string, fn func(*record.Event)) (int, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := journal.NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		err = replay.DecodePayload(payload, r.Version(), func(e *record.Event) error {
			n++
			fn(e)
			return nil
		})
		if err != nil {
			return n, err
		}
	}
}

// TestRevokeStoppedErrors: what revoke says when it cannot do its work.
func TestRevokeStoppedErrors(t *testing.T) {
	clk := testkit.NewClock()
	t.Run("no node directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing")
		_, err := Revoke(context.Background(), config.Default(dir), dir, "alice", nil)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "node directory") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Revoke = %v, want a missing node directory", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Revoke created the node directory: %v", err)
		}
	})
	t.Run("node directory is a file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Revoke(context.Background(), config.Default(dir), dir, "alice", nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("Revoke = %v", err)
		}
	})
	t.Run("no journal yet", func(t *testing.T) {
		dir := t.TempDir()
		rep, err := Revoke(context.Background(), config.Default(dir), dir, "alice", nil)
		if err != nil || rep.Running || rep.Cookies() != 0 || len(rep.Stores) != 1 {
			t.Fatalf("Revoke = %+v, %v; want nothing revoked", rep, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "cookies.dat")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Revoke created a journal: %v", err)
		}
	})
	t.Run("journal held, no socket", func(t *testing.T) {
		// A process holds the journal but answers on no socket: a server
		// whose socket was removed, or one of another node directory.
		dir := t.TempDir()
		path := filepath.Join(dir, "cookies.dat")
		nodetest.Seed(t, path, clk.Now, "alice")
		held, err := filestore.Open(path, filestore.Options{Clock: clk.Now, JanitorInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		rep, err := Revoke(context.Background(), config.Default(dir), dir, "alice", nil)
		if !errors.Is(err, filestore.ErrLocked) || !strings.Contains(err.Error(), "journal "+path+": in use by another process") ||
			!strings.Contains(err.Error(), "nothing answers on "+filepath.Join(dir, SocketName)) {
			t.Fatalf("Revoke = %v; want the journal in use and no answer on the socket", err)
		}
		if len(rep.Stores) != 1 || rep.Stores[0].Err == nil || rep.Cookies() != 0 {
			t.Fatalf("report %+v: want the store's error", rep)
		}
		if _, ok := held.Get(record.DigestOf("x")); ok || held.Len() != 1 {
			t.Fatal("the held journal changed")
		}
	})
	t.Run("nats store", func(t *testing.T) {
		// A nats store is opened as any other store. This one fails (a
		// build without nats stores says so; one with them finds nothing
		// on port 1), and the other stores are revoked all the same.
		dir := t.TempDir()
		nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), clk.Now, "alice")
		cfg := parseConfig(t, `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080}, "paths": {
			"a": {"type": "websocket", "cookie": {"name": "ca", "store": {"type": "nats", "url": "nats://127.0.0.1:1"}}},
			"b": {"type": "websocket", "cookie": {"name": "cb", "store": {"type": "file", "filename": "cookies.dat"}}}}}]}`, dir)
		rep, err := Revoke(context.Background(), cfg, dir, "alice", &Opener{Clock: clk.Now})
		if err == nil || !strings.Contains(err.Error(), `transports[0].paths.a.cookie.store: `) ||
			!(errors.Is(err, ErrNotSupported) || strings.Contains(err.Error(), "nats://127.0.0.1:1")) {
			t.Fatalf("Revoke = %v, want the nats store's error", err)
		}
		if len(rep.Stores) != 2 || rep.Stores[1].Cookies != 1 || rep.Stores[1].Err != nil {
			t.Fatalf("report %+v: want the file store revoked", rep)
		}
	})
	t.Run("empty authid", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Revoke(context.Background(), config.Default(dir), dir, "", nil); err == nil {
			t.Fatal("Revoke with an empty authid succeeded")
		}
	})
}

// catchingUp is a store that catches up in the background, as a nats store
// does: it becomes ready after a number of questions.
type catchingUp struct {
	httpd.Store
	mu      sync.Mutex
	asked   int
	readyAt int // -1 = never
	early   bool
}

func (c *catchingUp) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	return c.readyAt >= 0 && c.asked >= c.readyAt
}

func (c *catchingUp) DeleteByAuthID(authid string) ([]record.Digest, error) {
	c.mu.Lock()
	c.early = c.readyAt < 0 || c.asked < c.readyAt
	c.mu.Unlock()
	return c.Store.DeleteByAuthID(authid)
}

// TestRevokeWaitsForReadiness: a stopped node's store that catches up in
// the background is revoked only once it knows every cookie.
func TestRevokeWaitsForReadiness(t *testing.T) {
	clk := testkit.NewClock()
	cfg := parseConfig(t, `{"transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
		"cookie": {"store": {"type": "memory"}}}]}`, t.TempDir())
	run := func(t *testing.T, readyAt int, timeout time.Duration) (*catchingUp, Report, error) {
		t.Helper()
		ms := (&Opener{Clock: clk.Now}).Open
		st, err := ms(config.Store{Type: config.StoreMemory}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := record.Cookie{Digest: record.DigestOf("ALICEcookie_0123456789ab"), Created: clk.Now(), MaxAge: time.Hour,
			Auth: record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: config.DefaultRealm}}
		if err := st.Create(c); err != nil {
			t.Fatal(err)
		}
		store := &catchingUp{Store: st, readyAt: readyAt}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rep, err := revokeStopped(ctx, cfg, "alice", func(config.Store) (httpd.Store, error) { return store, nil }, "sock")
		return store, rep, err
	}
	t.Run("ready later", func(t *testing.T) {
		store, rep, err := run(t, 3, 10*time.Second)
		if err != nil || rep.Cookies() != 1 || store.early {
			t.Fatalf("report %+v, %v; deleted before ready: %v", rep, err, store.early)
		}
	})
	t.Run("never ready", func(t *testing.T) {
		_, rep, err := run(t, -1, 100*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not catch up") || rep.Cookies() != 0 {
			t.Fatalf("report %+v, %v; want the deadline and nothing deleted", rep, err)
		}
	})
}

// TestStaleSocket: a socket left by a node that died is no server: revoke
// works on the stores, and the next node replaces the socket.
func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock()
	nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), clk.Now, "alice")
	sock := filepath.Join(dir, SocketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // as a crash leaves it
	ln.Close()

	cfg := parseConfig(t, nodetest.Config, dir)
	rep, err := Revoke(context.Background(), cfg, dir, "alice", &Opener{Clock: clk.Now})
	if err != nil || rep.Running || rep.Cookies() != 1 {
		t.Fatalf("Revoke beside a stale socket = %+v, %v; want alice's cookie revoked in the store", rep, err)
	}

	// The node's log says it replaced the socket: cmd/cookiestore's
	// TestRevokeStaleSocket reads it from the binary.
	tn := startNode(t, cfg, dir, clk, nil)
	rep, err = Revoke(context.Background(), cfg, dir, "bob", nil)
	if err != nil || !rep.Running {
		t.Fatalf("Revoke after the restart = %+v, %v; want the running node", rep, err)
	}
	tn.stop(t)
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the replaced socket outlived the node: %v", err)
	}
}

// TestSecondNode: a second node on the same directory does not take the
// socket of the first, which goes on answering.
func TestSecondNode(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock()
	memOnly := `{"transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
		"cookie": {"store": {"type": "memory"}}, "auth": {"ticket": {"type": "static", "principals": {"alice": {"ticket": "a", "role": "user"}}}}}]}`
	first := startNode(t, parseConfig(t, memOnly, dir), dir, clk, nil)
	c, _ := first.dial(t, "/", "", "")
	if w := c.Reply(map[string]string{"type": "login", "authid": "alice", "ticket": "a"}); w["type"] != "welcome" {
		t.Fatalf("login: %v", w)
	}

	second, err := New(parseConfig(t, memOnly, dir), Options{Dir: dir, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Listen()
	if err == nil || !strings.Contains(err.Error(), "control socket "+filepath.Join(dir, SocketName)+": in use by another running node") {
		t.Fatalf("second Listen = %v", err)
	}
	if len(second.Addrs()) != 0 {
		t.Errorf("the failed node still listens on %v", second.Addrs())
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := Revoke(context.Background(), first.cfg, dir, "alice", nil)
	if err != nil || !rep.Running || rep.Connections() != 1 {
		t.Fatalf("Revoke = %+v, %v; want the first node to close alice's connection", rep, err)
	}
	if code, _ := c.Closed(); code != httpd.CloseRevoked {
		t.Errorf("close code %d, want 4002", code)
	}
}

// TestSocketPathTaken: a file that is not a socket is never removed.
func TestSocketPathTaken(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketName)
	if err := os.WriteFile(sock, []byte("notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := New(parseConfig(t, nodetest.Config, dir), Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Listen(); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Fatalf("Listen = %v", err)
	}
	if b, err := os.ReadFile(sock); err != nil || string(b) != "notes" {
		t.Fatalf("the file was touched: %q, %v", b, err)
	}
}

// TestControlProtocol speaks to the socket directly.
func TestControlProtocol(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock()
	n, err := New(parseConfig(t, nodetest.Config, dir), Options{Dir: dir, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.ctlTimeout = 200 * time.Millisecond
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	sock := filepath.Join(dir, SocketName)

	// exchange sends raw and returns the response line, or fails.
	exchange := func(t *testing.T, raw string) response {
		t.Helper()
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if raw != "" {
			if _, err := io.WriteString(conn, raw); err != nil {
				t.Fatal(err)
			}
		}
		line, err := bufio.NewReader(conn).ReadBytes('\n')
		if err != nil {
			t.Fatalf("read the response: %v (%q)", err, line)
		}
		var resp response
		dec := json.NewDecoder(strings.NewReader(string(line)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil {
			t.Fatalf("response %q: %v", line, err)
		}
		if resp.V != ControlVersion {
			t.Errorf("response version %d", resp.V)
		}
		// One request per connection: the server closes after answering.
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("after the response: %v, want EOF", err)
		}
		return resp
	}

	tests := []struct {
		name, raw, want string
	}{
		{"revoke", `{"v":1,"op":"revoke","authid":"nobody","extra":true}` + "\n", ""},
		{"no version", `{"op":"revoke","authid":"alice"}` + "\n", `the request has no "v": this server speaks version 1`},
		{"other version", `{"v":2,"op":"revoke","authid":"alice"}` + "\n", "protocol version 2 is not supported: this server speaks version 1"},
		{"unknown op", `{"v":1,"op":"list"}` + "\n", `unknown op "list"`},
		{"empty authid", `{"v":1,"op":"revoke","authid":""}` + "\n", "revoke: empty authid"},
		{"not JSON", "revoke alice\n", "malformed request"},
		{"no newline", `{"v":1,"op":"revoke","authid":"alice"}`, "no request within the time allowed"},
		{"too long", strings.Repeat("x", MaxControlRequest), "a request holds at most 16384 bytes, newline included"},
		{"nothing", "", "no request within the time allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := exchange(t, tt.raw)
			if tt.want == "" {
				if resp.Error != "" || len(resp.Revoked) != 2 || resp.Revoked[1].Service != "transports[0].paths.ws" || resp.Revoked[1].Store != "file" {
					t.Fatalf("response %+v, want one entry per service", resp)
				}
				return
			}
			if !strings.Contains(resp.Error, tt.want) || resp.Revoked != nil {
				t.Fatalf("response %+v, want the error %q", resp, tt.want)
			}
		})
	}
}

// TestControlClient: what Revoke says of a node that answers badly.
func TestControlClient(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answers := make(chan string, 1)
	hung := make(chan net.Conn, 1) // a connection that the node never answers
	defer func() {
		select {
		case c := <-hung:
			c.Close()
		default:
		}
	}()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			answer := <-answers
			_, _ = bufio.NewReader(conn).ReadBytes('\n')
			if answer == "hang" {
				hung <- conn
				continue
			}
			_, _ = io.WriteString(conn, answer)
			conn.Close()
		}
	}()
	tests := []struct {
		name, answer, want string
	}{
		{"other version", `{"v":2}` + "\n", "the node answered in protocol version 2; this program speaks 1"},
		{"refusal", `{"v":1,"error":"no"}` + "\n", "the node refused: no"},
		{"garbage", "<html>\n", "malformed response"},
		{"cut short", `{"v":1`, "response ended before its newline"},
		{"closed without a word", "", "response ended before its newline"},
		{"store failed", `{"v":1,"revoked":[{"service":"s","store":"file","cookies":1,"connections":2,"error":"disk full"}]}` + "\n", "s: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers <- tt.answer
			rep, err := Revoke(context.Background(), config.Default(dir), dir, "alice", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Revoke = %v, want %q", err, tt.want)
			}
			if tt.name == "store failed" && (!rep.Running || rep.Cookies() != 1 || rep.Connections() != 2 || rep.Stores[0].Err == nil) {
				t.Fatalf("report %+v: want the counts and the store's error", rep)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		answers <- "hang"
		_, err := Revoke(ctx, config.Default(dir), dir, "alice", nil)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), sock) {
			t.Fatalf("Revoke = %v, want the deadline, naming the socket", err)
		}
	})
}

// TestHTTPDPointsToNode: httpd alone cannot open a file store, and says
// where to go; a node opens the same config.
func TestHTTPDPointsToNode(t *testing.T) {
	dir := t.TempDir()
	_, err := httpd.New(config.Default(dir), httpd.Options{})
	if err == nil || !strings.Contains(err.Error(), "open the config with package node (node.New)") ||
		!strings.Contains(err.Error(), "transports[0].paths.ws.cookie.store") {
		t.Fatalf("httpd.New with a file store = %v", err)
	}
	n, err := New(config.Default(dir), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if n.SocketPath() != "" {
		t.Errorf("a node without a directory has the socket %q", n.SocketPath())
	}
}
