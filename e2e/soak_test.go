package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cookiestore/node"
	"cookiestore/record"
)

// soakLoad is the size of the soak. Under the race detector every memory
// access is several times slower on the same two to four CPUs, so the
// load phase is shorter and has fewer workers; the 2,000 connections stay
// (about 4,000 server goroutines, well under the detector's cap of 8,128).
type soakLoad struct {
	conns    int           // connections held open for the whole soak
	cookies  int           // the cookies they share
	workers  int           // clients doing logins, logouts and new visitors meanwhile
	duration time.Duration // of the load phase
}

func soakSize() soakLoad {
	if raceEnabled {
		return soakLoad{conns: 2000, cookies: 50, workers: 8, duration: 15 * time.Second}
	}
	return soakLoad{conns: 2000, cookies: 50, workers: 16, duration: 25 * time.Second}
}

// heldConn is a connection that stays open through the soak; its mutex
// makes one worker at a time talk on it.
type heldConn struct {
	mu sync.Mutex
	c  *wsClient
}

// soakCounters are the figures of the load phase.
type soakCounters struct {
	handshakes atomic.Int64 // successful upgrades
	logins     atomic.Int64 // welcomes
	logouts    atomic.Int64 // goodbyes, each with its other connection kicked
}

// TestSoak holds 2,000 connections on 50 cookies of a durable file store
// while workers log in and out and bring new visitors, with compaction
// running by itself, then checks that nothing leaked and that the journal
// reopens to exactly the store's final state.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes about a minute; run without -short")
	}
	size := soakSize()
	if err := ensureFiles(uint64(2*size.conns + 512)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.dat")
	// A small CompactMinBytes, so that the dead bytes of the logouts set
	// compaction off several times during the run.
	ts := startServer(t, trackingConfig(86400, "always"), dir,
		serverOptions{opener: &node.Opener{CompactMinBytes: 16 << 10}})
	url := ts.wsURL()

	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapAlloc

	// The shared cookies, then the held connections on them.
	ids := make([]string, size.cookies)
	for i := range ids {
		c := mustDial(t, url, "")
		c.close()
		ids[i] = c.cookie
	}
	held := make([]*heldConn, size.conns)
	openStart := time.Now()
	if err := openHeld(url, ids, held); err != nil {
		closeHeld(held)
		t.Fatal(err)
	}
	openTook := time.Since(openStart)
	if n := ts.status().Connections; n != size.conns {
		closeHeld(held)
		t.Fatalf("/status shows %d connections, want the %d held", n, size.conns)
	}

	// The load.
	st := ts.fileStore()
	eventsBefore := st.Stats().Journal.Appends
	var counters soakCounters
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	stop := make(chan struct{})
	loadStart := time.Now()
	for w := range size.workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if r.IntN(2) == 0 {
					err = soakNewVisitor(url, r, &counters)
				} else {
					err = soakHeldLogin(held[r.IntN(len(held))], r, &counters)
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	time.Sleep(size.duration)
	close(stop)
	wg.Wait()
	loadTook := time.Since(loadStart)
	events := st.Stats().Journal.Appends - eventsBefore
	if len(failures) > 0 {
		closeHeld(held)
		t.Fatalf("%d workers failed; first: %v", len(failures), failures[0])
	}
	// Every held connection is still served, and counted on its cookie.
	// (The kicked tabs of the last logouts may take a moment to leave.)
	if err := checkHeld(held, size.conns/size.cookies); err != nil {
		closeHeld(held)
		t.Fatal(err)
	}
	var peak int
	deadline := time.Now().Add(10 * time.Second)
	for peak = ts.status().Connections; peak != size.conns && time.Now().Before(deadline); peak = ts.status().Connections {
		time.Sleep(20 * time.Millisecond)
	}
	closeHeld(held)

	hs, logins, logouts := counters.handshakes.Load(), counters.logins.Load(), counters.logouts.Load()
	compactions := ts.metric("cookiestore_compactions_total")
	t.Logf("soak (race detector: %v, GOMAXPROCS %d): %d connections held on %d cookies (opened in %v, %.0f/s; %d open at the end of the load, each answering whoami); "+
		"load phase %v with %d workers: %d handshakes (%.0f/s), %d logins, %d logouts, %d journal events (%.0f events/s, sync=always), %v compactions",
		raceEnabled, runtime.GOMAXPROCS(0), size.conns, size.cookies, openTook.Round(time.Millisecond), float64(size.conns)/openTook.Seconds(), peak,
		loadTook.Round(time.Millisecond), size.workers, hs, float64(hs)/loadTook.Seconds(), logins, logouts, events,
		float64(events)/loadTook.Seconds(), compactions)
	if peak != size.conns {
		t.Errorf("/status shows %d connections at the end of the load, want the %d held", peak, size.conns)
	}
	if compactions < 2 {
		t.Errorf("%v automatic compactions during the soak, want at least 2", compactions)
	}
	if logins == 0 || logouts == 0 {
		t.Errorf("%d logins and %d logouts: the load did not run", logins, logouts)
	}

	// Nothing is left behind once the clients are gone.
	waitUntil(t, 15*time.Second, "/status to show 0 connections", func() bool { return ts.status().Connections == 0 })
	var goroutines int
	deadline = time.Now().Add(15 * time.Second)
	for goroutines = runtime.NumGoroutine(); goroutines > baseGoroutines && time.Now().Before(deadline); goroutines = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if goroutines > baseGoroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the soak, %d before:\n%s", goroutines, baseGoroutines, buf[:runtime.Stack(buf, true)])
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	const heapBound = 64 << 20
	t.Logf("heap after GC: %.1f MiB before the soak, %.1f MiB after", float64(baseHeap)/(1<<20), float64(ms.HeapAlloc)/(1<<20))
	if ms.HeapAlloc > baseHeap+heapBound {
		t.Errorf("the heap grew by %.1f MiB over the soak, more than the %d MiB bound", float64(ms.HeapAlloc-baseHeap)/(1<<20), heapBound>>20)
	}

	// The journal replays to exactly what the store held.
	final := map[record.Digest]record.Cookie{}
	for c := range st.All() {
		final[c.Digest] = c
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	reopened := journalState(t, path, nil)
	if len(reopened) != len(final) {
		t.Fatalf("the journal reopens to %d cookies, the store held %d", len(reopened), len(final))
	}
	for id, want := range final {
		if got, ok := reopened[id]; !ok || !sameCookie(got, want) {
			t.Fatalf("cookie after reopen %+v (present %v), the store held %+v", got, ok, want)
		}
	}
	for _, id := range ids {
		if _, ok := final[record.DigestOf(id)]; !ok {
			t.Fatal("a held cookie is missing from the final state")
		}
	}
	t.Logf("journal reopened to the same %d cookies", len(final))
}

// openHeld opens the held connections, len(held)/len(ids) per cookie, 64
// handshakes at a time so that the listen backlog never overflows.
func openHeld(url string, ids []string, held []*heldConn) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 64)
	for i := range held {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dialCookie(url, ids[i%len(ids)])
			if err == nil && (c.hello.New || c.cookie != "") {
				c.close()
				err = errors.New("a shared cookie was replaced")
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("held connection %d: %w", i, err)
				}
				return
			}
			held[i] = &heldConn{c: c}
		})
	}
	wg.Wait()
	return first
}

// checkHeld asks whoami on every held connection: each must answer with
// perCookie connections on its cookie.
func checkHeld(held []*heldConn, perCookie int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	work := make(chan *heldConn)
	for range 16 {
		wg.Go(func() {
			for h := range work {
				h.mu.Lock()
				m, err := h.c.request(map[string]string{"type": "whoami"})
				h.mu.Unlock()
				if err == nil && (m.Type != "hello" || m.Connections != perCookie) {
					err = fmt.Errorf("whoami answered %+v, want a hello with %d connections on the cookie", m, perCookie)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("a held connection after the load: %w", err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, h := range held {
		work <- h
	}
	close(work)
	wg.Wait()
	return first
}

func closeHeld(held []*heldConn) {
	for _, h := range held {
		if h != nil {
			h.mu.Lock()
			h.c.close()
			h.mu.Unlock()
		}
	}
}

// soakNewVisitor brings a new browser with two tabs: one logs in, rotates
// the cookie and logs out, and the other, moved to the new cookie by the
// rotation, must be kicked with 4001.
func soakNewVisitor(url string, r *rand.Rand, n *soakCounters) error {
	a, err := dial(url)
	if err != nil {
		return fmt.Errorf("new visitor: %w", err)
	}
	defer a.close()
	n.handshakes.Add(1)
	if !a.hello.New || a.cookie == "" {
		return fmt.Errorf("new visitor: hello %+v without a new cookie", a.hello)
	}
	b, err := dialCookie(url, a.cookie)
	if err != nil {
		return fmt.Errorf("second tab: %w", err)
	}
	defer b.close()
	n.handshakes.Add(1)
	if b.hello.New || b.hello.Connections != 2 {
		return fmt.Errorf("second tab: hello %+v, want the same visitor with 2 connections", b.hello)
	}
	if _, err := a.loginRotate(url, a.cookie, []string{"alice", "bob"}[r.IntN(2)]); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	n.logins.Add(1)
	if m, err := a.logout(); err != nil || m.Type != "goodbye" {
		return fmt.Errorf("logout: %+v %v", m, err)
	}
	if code, err := b.closed(); code != 4001 {
		return fmt.Errorf("the other tab was not kicked at logout: close code %d, %v", code, err)
	}
	n.logouts.Add(1)
	return nil
}

// soakHeldLogin logs a held connection in as a principal (which rewrites
// the auth of its shared cookie), or asks whoami.
func soakHeldLogin(h *heldConn, r *rand.Rand, n *soakCounters) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.IntN(4) == 0 {
		if m, err := h.c.request(map[string]string{"type": "whoami"}); err != nil || m.Type != "hello" {
			return fmt.Errorf("whoami on a held connection: %+v %v", m, err)
		}
		return nil
	}
	authid := []string{"alice", "bob"}[r.IntN(2)]
	m, err := h.c.login(authid)
	if err != nil || m.Type != "welcome" || m.Auth == nil || m.Auth.AuthID != authid {
		return fmt.Errorf("login on a held connection: %+v %v", m, err)
	}
	n.logins.Add(1)
	return nil
}

// sameCookie compares two cookies field by field; times by instant.
func sameCookie(a, b record.Cookie) bool {
	norm := func(m map[string]any) map[string]any {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	return a.Digest == b.Digest && a.Created.Equal(b.Created) && a.MaxAge == b.MaxAge &&
		a.Auth.AuthID == b.Auth.AuthID && a.Auth.AuthRole == b.Auth.AuthRole &&
		a.Auth.AuthMethod == b.Auth.AuthMethod && a.Auth.AuthRealm == b.Auth.AuthRealm &&
		reflect.DeepEqual(norm(a.Auth.AuthExtra), norm(b.Auth.AuthExtra))
}
