package httpd

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// At a cookie's expiry its connections close with 4003, on the tracker's
// clock, whether or not anyone asks; a connection whose cookie lives on
// stays.
func TestExpiryClosesConnections(t *testing.T) {
	noLeaks(t)
	cc := memoryCookie()
	cc.MaxAge = time.Hour
	e := newEnv(t, &config.WebSocket{Cookie: cc, Auth: tickets()}, nil, TrackerOptions{})
	old := e.dial("")
	oldTab := e.dial(old.value())
	e.clock.Add(30 * time.Minute)
	young := e.dial("")
	e.clock.Add(30 * time.Minute) // old's max_age has passed
	for _, c := range []*client{old, oldTab} {
		if code, reason := c.closed(); code != CloseExpired || reason != "expired" {
			t.Fatalf("close %d %q, want %d expired", code, reason, CloseExpired)
		}
	}
	if m := young.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
		t.Fatalf("a live cookie's connection: %v", m)
	}
	// A rotation gives the connection that logged in the new cookie's
	// lifetime; the other tabs keep the one they presented.
	tab := e.dial(young.value())
	next := e.loginRotate(young, "alice", "secret-a")
	e.clock.Add(30 * time.Minute)
	if code, _ := tab.closed(); code != CloseExpired {
		t.Fatalf("the moved tab closed with %d, want %d at its own cookie's expiry", code, CloseExpired)
	}
	if m := young.reply(map[string]any{"type": "whoami"}); m["type"] != "hello" {
		t.Fatalf("the rotated connection closed at the old cookie's expiry: %v", m)
	}
	if c := e.dial(next); c.hello.New {
		t.Fatal("the rotated cookie expired early")
	}
}

// notifyStore is a store whose deletions can also come from elsewhere, as
// with a store shared by nodes, and that may not be ready yet.
type notifyStore struct {
	Store
	mu       sync.Mutex
	subs     map[int]func(record.Event)
	next     int
	notReady atomic.Bool
}

func (n *notifyStore) Subscribe(fn func(record.Event)) func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs == nil {
		n.subs = map[int]func(record.Event){}
	}
	id := n.next
	n.next++
	n.subs[id] = fn
	return func() {
		n.mu.Lock()
		delete(n.subs, id)
		n.mu.Unlock()
	}
}

func (n *notifyStore) Ready() bool { return !n.notReady.Load() }

// remote deletes a cookie as another node would, and tells the subscribers.
func (n *notifyStore) remote(t *testing.T, ev record.Event) {
	t.Helper()
	if ev.Reason == record.ReasonRotated {
		old, _ := n.Get(ev.Digest)
		if err := n.Store.Rotate(ev.Digest, record.Cookie{Digest: ev.Successor, Created: old.Created, MaxAge: old.MaxAge, Auth: record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket"}}); err != nil {
			t.Fatal(err)
		}
	} else if err := n.Store.Delete(ev.Digest, ev.Reason); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	subs := make([]func(record.Event), 0, len(n.subs))
	for _, fn := range n.subs {
		subs = append(subs, fn)
	}
	n.mu.Unlock()
	for _, fn := range subs {
		fn(ev)
	}
}

func (n *notifyStore) subscribers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

// Deletions that a Notifier store reports close the cookie's connections
// with the code of their reason; a rotation made elsewhere moves them to
// the successor without its auth.
func TestNotifierDeletionsReachConnections(t *testing.T) {
	clk := testkit.NewClock()
	ns := &notifyStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, ns, TrackerOptions{Clock: clk.Now})
	if ns.subscribers() != 1 {
		t.Fatalf("%d subscriptions, want the tracker's", ns.subscribers())
	}
	for _, tt := range []struct {
		why    record.DeleteReason
		code   int
		reason string
	}{
		{record.ReasonLogout, CloseLoggedOut, "logged out"},
		{record.ReasonRevoke, CloseRevoked, "revoked"},
		{record.ReasonExpired, CloseExpired, "expired"},
	} {
		a := e.dial("")
		b := e.dial(a.value())
		ns.remote(t, record.Delete(dg(a.value()), tt.why))
		for _, c := range []*client{a, b} {
			if code, reason := c.closed(); code != tt.code || reason != tt.reason {
				t.Fatalf("%s: close %d %q, want %d %q", tt.why, code, reason, tt.code, tt.reason)
			}
		}
	}

	a := e.dial("")
	next, _ := record.NewID(nil, 24)
	ns.remote(t, record.Rotated(dg(a.value()), dg(next)))
	var h helloMsg
	a.send(map[string]any{"type": "whoami"})
	a.read(&h)
	if h.Auth != nil || h.Connections != 1 {
		t.Fatalf("after a rotation elsewhere: %+v auth %+v", h, h.Auth)
	}
	if e.tracker.reg.count(dg(next)) != 1 {
		t.Fatal("the connection did not move to the successor")
	}
	// A logout of the successor reaches the moved connection.
	if err := e.tracker.Logout(dg(next)); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.closed(); code != CloseLoggedOut {
		t.Fatalf("moved connection closed with %d", code)
	}

	// The connection that logs out keeps its own close code although its
	// deletion comes back through the Notifier.
	c := e.dial("")
	d := e.dial(c.value())
	if m := c.reply(map[string]any{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout: %v", m)
	}
	if code, _ := c.closed(); code != websocket.CloseNormalClosure {
		t.Fatalf("the connection that logged out closed with %d", code)
	}
	d.closed()

	if err := e.tracker.Shutdown(shutdownCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ns.subscribers() != 0 {
		t.Fatal("Shutdown left the subscription")
	}
}

// Until a Readiness store is ready, handshakes and rotations get 503.
func TestReadiness(t *testing.T) {
	clk := testkit.NewClock()
	ns := &notifyStore{Store: memStore(t, clk)}
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie(), Auth: tickets()}, ns, TrackerOptions{Clock: clk.Now})
	c := e.dial("")
	token := c.login("alice", "secret-a")
	ns.notReady.Store(true)
	if _, resp, err := websocket.DefaultDialer.Dial(e.url, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake before ready: %v %v, want 503", err, resp)
	}
	if resp, _ := postRotate(t, e.httpURL, "cbtid="+c.value(), `{"rotate":"`+token+`"}`, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("rotation before ready: %s, want 503", resp.Status)
	}
	ns.notReady.Store(false)
	rotate(t, e.httpURL, c.value(), token)
}

// /status says whether the stores are ready.
func TestStatusReady(t *testing.T) {
	clk := testkit.NewClock()
	ns := &notifyStore{Store: memStore(t, clk)}
	ns.notReady.Store(true)
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Clock:     clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) { return ns, nil },
	})
	if doc := ts.status(t); doc.Ready || doc.Services[0].Store.Ready {
		t.Fatalf("status says ready: %+v", doc)
	}
	ns.notReady.Store(false)
	if doc := ts.status(t); !doc.Ready || !doc.Services[0].Store.Ready {
		t.Fatalf("status says not ready: %+v", doc)
	}
}
