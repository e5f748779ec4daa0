package httpd

import (
	"errors"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
)

// End-to-end tests: the Server, the file store and real WebSocket clients
// over loopback, with restarts.

// fileStats lets /status see a file store's journal, as the command does.
type fileStats struct{ *filestore.Store }

func (s fileStats) StoreStats() StoreStats {
	st := s.Stats()
	ss := StoreStats{Cookies: st.Cookies, EventsAppended: st.Journal.Appends, JournalBytes: st.Journal.Size,
		Syncs: st.Journal.Syncs, SyncErrors: st.Journal.SyncErrors, Compactions: st.Compactions, DeadRatio: st.DeadRatio}
	if st.Err != nil {
		ss.ReadOnly, ss.Err = true, st.Err.Error()
	}
	return ss
}

// fileNode runs servers on one journal, one after the other, as restarts
// of one node would.
type fileNode struct {
	t     *testing.T
	path  string
	clock *testkit.Clock
	fs    journal.FS
}

const fileConfig = `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
	"ws": {"type":"websocket","cookie":{"max_age":3600,"store":{"type":"file","filename":"cookies.dat"}},
	       "auth":{"cookie":{},"ticket":{"type":"static","principals":{
	           "alice":{"ticket":"secret-a","role":"user","realm":"realm1"},
	           "bob":{"ticket":"secret-b","role":"user"}}}}},
	"status": {"type":"status"}
}}]}`

func (n *fileNode) start() *testServer {
	n.t.Helper()
	dir := filepath.Dir(n.path)
	return startServer(n.t, parseTestConfig(n.t, fileConfig, dir), Options{
		Clock: n.clock.Now,
		OpenStore: func(sc config.Store, onSync func(time.Duration, error)) (Store, error) {
			if sc.Filename != n.path {
				n.t.Errorf("store file %q, want %q", sc.Filename, n.path)
			}
			st, err := filestore.Open(sc.Filename, filestore.Options{Clock: n.clock.Now, OnSync: onSync, FS: n.fs, JanitorInterval: -1})
			if err != nil {
				return nil, err
			}
			return fileStats{st}, nil
		},
	})
}

func newFileNode(t *testing.T) *fileNode {
	return &fileNode{t: t, path: filepath.Join(t.TempDir(), "cookies.dat"), clock: testkit.NewClock()}
}

func (ts *testServer) dial(t *testing.T, cookie string) *client {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "cbtid="+cookie)
	}
	return dialURL(t, ts.ws("/ws"), h, nil)
}

// restart stops the server gracefully and checks that its clients were
// told "going away".
func restart(t *testing.T, n *fileNode, ts *testServer, clients ...*client) *testServer {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ts.stop() }()
	for _, c := range clients {
		if code, _ := c.closed(); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d at shutdown, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return n.start()
}

func TestFileStoreNewReuseLoginRestartLogout(t *testing.T) {
	noLeaks(t)
	n := newFileNode(t)
	ts := n.start()

	a := ts.dial(t, "")
	id := a.value()
	if !a.hello.New {
		t.Fatal("first hello not new")
	}
	again := ts.dial(t, id)
	if again.hello.New || again.hello.Connections != 2 {
		t.Fatalf("reuse: %+v", again.hello)
	}
	next := ts.loginRotate(t, "/ws", a, "alice", "secret-a")
	// Unknown IDs are replaced, never adopted.
	u := ts.dial(t, "AAAAAAAAAAAAAAAAAAAAAAAA")
	if !u.hello.New || u.value() == "AAAAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatal("unknown ID adopted")
	}

	ts = restart(t, n, ts, a, again, u)
	if old := ts.dial(t, id); !old.hello.New || old.hello.Auth != nil {
		t.Fatalf("the cookie replaced by the login came back after a restart: %+v", old.hello)
	}
	b1 := ts.dial(t, next)
	want := authInfo{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthProvider: "cookie"}
	if b1.hello.New || b1.hello.Auth == nil || *b1.hello.Auth != want || b1.hello.Created != t0.UTC().Format(time.RFC3339) {
		t.Fatalf("after restart: %+v auth %+v", b1.hello, b1.hello.Auth)
	}
	doc := ts.status(t)
	if st := doc.Services[0].Store; st == nil || st.Type != "file" || st.Cookies != 3 || st.JournalBytes == 0 || st.ReadOnly {
		t.Fatalf("status store = %+v", st)
	}

	b2 := ts.dial(t, next)
	if m := b1.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout: %v", m)
	}
	if code, _ := b2.closed(); code != CloseLoggedOut {
		t.Fatalf("other connection closed with %d, want %d", code, CloseLoggedOut)
	}
	b1.closed()

	ts = restart(t, n, ts)
	if c := ts.dial(t, next); !c.hello.New || c.value() == next || c.hello.Auth != nil {
		t.Fatalf("logout did not survive the restart: %+v", c.hello)
	}
}

func TestFileStoreExpiryAndRevokeAcrossRestart(t *testing.T) {
	n := newFileNode(t)
	ts := n.start()
	a := ts.dial(t, "")
	old := a.value()
	b := ts.dial(t, "")
	bID := ts.loginRotate(t, "/ws", b, "bob", "secret-b")
	c := ts.dial(t, "")
	ts.loginRotate(t, "/ws", c, "bob", "secret-b")
	if n, err := ts.services[0].tracker.Revoke("bob"); n != 2 || err != nil {
		t.Fatalf("Revoke = %d, %v", n, err)
	}
	b.closed()
	c.closed()

	n.clock.Add(30 * time.Minute)
	ts = restart(t, n, ts, a)
	if again := ts.dial(t, old); again.hello.New {
		t.Fatal("a live cookie was replaced after restart")
	}
	if again := ts.dial(t, bID); !again.hello.New {
		t.Fatal("a revoked cookie came back after restart")
	}
	n.clock.Add(30 * time.Minute) // max_age 3600 s has passed
	if again := ts.dial(t, old); !again.hello.New || again.value() == old {
		t.Fatal("an expired cookie was reused")
	}
}

func TestFullDiskRefusesNewCookies(t *testing.T) {
	n := newFileNode(t)
	disk := testkit.NewFaultFS[journal.File](journal.OSFS(), testkit.Faults{})
	n.fs = disk
	ts := n.start()
	kept := ts.dial(t, "")

	disk.Set(func(f *testkit.Faults) { f.Write = func(int64, int) (int, error) { return 0, syscall.ENOSPC } })
	_, resp, err := websocket.DefaultDialer.Dial(ts.ws("/ws"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake on a full disk: %v %v, want 503", err, resp)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("Set-Cookie %q for a cookie that was not stored", v)
	}
	// A returning browser needs no write and still gets in; the rotation
	// of a login needs one and is refused.
	again := ts.dial(t, kept.value())
	token := again.login("alice", "secret-a")
	if resp, _ := postRotate(t, ts.base+"/ws", "cbtid="+kept.value(), `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusServiceUnavailable || len(resp.Cookies()) != 0 {
		t.Fatalf("rotation on a full disk: %s %v, want 503 and no cookie", resp.Status, resp.Cookies())
	}
	if doc := ts.status(t); !doc.ReadOnly || doc.Services[0].Store.Error == "" {
		t.Fatalf("status does not report the read-only store: %+v", doc.Services[0].Store)
	}

	// Closing the store reports the failed write; the journal on disk
	// holds no half frame that the next open would misread.
	done := make(chan error, 1)
	go func() { done <- ts.stop() }()
	kept.closed()
	again.closed()
	if err := <-done; !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Serve = %v, want the store's ENOSPC", err)
	}
	disk.Set(func(f *testkit.Faults) { f.Write = nil })
	ts = n.start()
	if c := ts.dial(t, kept.value()); c.hello.New || c.hello.Auth != nil {
		t.Fatalf("after the disk fault: %+v", c.hello)
	}
	if doc := ts.status(t); doc.Cookies != 1 {
		t.Fatalf("%d cookies after restart, want the 1 that was stored", doc.Cookies)
	}
}
