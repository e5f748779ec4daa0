package httpd

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// sharedStore is a memstore that behaves like a store shared by several
// nodes: it is not ready until told, it reports deletions "made elsewhere"
// to its subscribers, and it has a stream position.
type sharedStore struct {
	Store
	ready atomic.Bool
	mu    sync.Mutex
	subs  map[int]func(record.Event)
	n     int
}

func newSharedStore(t *testing.T, clk *testkit.Clock) *sharedStore {
	return &sharedStore{Store: memStore(t, clk), subs: map[int]func(record.Event){}}
}

func (s *sharedStore) Ready() bool { return s.ready.Load() }

func (s *sharedStore) Subscribe(fn func(record.Event)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.n
	s.n++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}

// elsewhere deletes d as another node would, and reports it.
func (s *sharedStore) elsewhere(d record.Digest, why record.DeleteReason) {
	_ = s.Store.Delete(d, why)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.subs {
		fn(record.Delete(d, why))
	}
}

func (s *sharedStore) StoreStats() StoreStats {
	return StoreStats{Cookies: s.Len(), Stream: &StreamStats{Stream: "COOKIES", Seq: 40, LastSeq: 42, Lag: 2,
		Connection: "CONNECTED", Server: "nats://127.0.0.1:4222", Publishes: 4, PublishSeconds: 0.5}}
}

// A shared store that is catching up: handshakes get 503 and /status says
// "ready": false; once it is ready, both change.
func TestNotReadyIs503(t *testing.T) {
	noLeaks(t)
	clk := testkit.NewClock()
	st := newSharedStore(t, clk)
	ts := startServer(t, parseTestConfig(t, webConfig, t.TempDir()), Options{
		Clock:     clk.Now,
		OpenStore: func(config.Store, func(time.Duration, error)) (Store, error) { return st, nil },
	})
	_, resp, err := websocket.DefaultDialer.Dial(ts.ws("/ws"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake while catching up: %v, %v", resp, err)
	}
	if doc := ts.status(t); doc.Ready || doc.Services[0].Store.Ready {
		t.Fatalf("status while catching up: ready %v, store ready %v", doc.Ready, doc.Services[0].Store.Ready)
	}
	st.ready.Store(true)
	dialURL(t, ts.ws("/ws"), nil, nil)
	doc := ts.status(t)
	if !doc.Ready || !doc.Services[0].Store.Ready {
		t.Fatalf("status once caught up: %+v", doc)
	}
	want := streamStatus{Name: "COOKIES", Seq: 40, LastSeq: 42, Lag: 2, Connection: "CONNECTED", Server: "nats://127.0.0.1:4222"}
	if got := doc.Services[0].Store.Stream; got == nil || *got != want {
		t.Fatalf("stream status = %+v, want %+v", got, want)
	}
	_, body := ts.get(t, "/metrics")
	for _, line := range []string{"cookiestore_stream_lag 2", "cookiestore_stream_publish_seconds_count 4", "cookiestore_stream_publish_seconds_sum 0.5"} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
}

// Deletions that another node made close this node's connections of the
// cookie, with the code of the reason.
func TestDeletionsElsewhereClose(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		why  record.DeleteReason
		code int
		text string
	}{
		{record.ReasonLogout, CloseLoggedOut, "logged out"},
		{record.ReasonRevoke, CloseRevoked, "revoked"},
		{record.ReasonExpired, CloseExpired, "expired"},
	} {
		t.Run(tc.why.String(), func(t *testing.T) {
			clk := testkit.NewClock()
			st := newSharedStore(t, clk)
			st.ready.Store(true)
			e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, st, TrackerOptions{})
			a := e.dial("")
			other := e.dial("")
			b := e.dial(a.value())
			st.elsewhere(dg(a.value()), tc.why)
			for _, c := range []*client{a, b} {
				if code, text := c.closed(); code != tc.code || text != tc.text {
					t.Fatalf("close = %d %q, want %d %q", code, text, tc.code, tc.text)
				}
			}
			// The other cookie's connection stays usable.
			if m := other.reply(map[string]string{"type": "whoami"}); m["type"] != "hello" {
				t.Fatalf("the other cookie's connection: %v", m)
			}
		})
	}
}

// notifyingStore reports its own deletions too, as a store that follows
// a stream does when it applies them.
type notifyingStore struct{ *sharedStore }

func (s notifyingStore) Delete(d record.Digest, why record.DeleteReason) error {
	s.elsewhere(d, why)
	return nil
}

// A store that reports the logout's own deletion before Delete returns
// does not cut the goodbye of the connection that logged out.
func TestLogoutThroughANotifyingStore(t *testing.T) {
	noLeaks(t)
	clk := testkit.NewClock()
	st := newSharedStore(t, clk)
	st.ready.Store(true)
	e := newEnv(t, &config.WebSocket{Cookie: memoryCookie()}, notifyingStore{st}, TrackerOptions{})
	a := e.dial("")
	b := e.dial(a.value())
	if m := a.reply(map[string]string{"type": "logout"}); m["type"] != "goodbye" {
		t.Fatalf("logout answered %v", m)
	}
	if code, _ := a.closed(); code != websocket.CloseNormalClosure {
		t.Fatalf("the connection that logged out closed with %d", code)
	}
	if code, _ := b.closed(); code != CloseLoggedOut {
		t.Fatalf("the other tab closed with %d", code)
	}
}
