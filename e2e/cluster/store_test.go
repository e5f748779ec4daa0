package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cookiestore/internal/testkit"
	"cookiestore/memstore"
	"cookiestore/natsstore"
	"cookiestore/record"
)

// openStore opens a nats store on urls and waits until it has caught up.
func openStore(t *testing.T, clock *testkit.Clock, urls []string, mod func(*natsstore.Options)) *natsstore.Store {
	t.Helper()
	st, err := tryOpen(clock, urls, mod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func tryOpen(clock *testkit.Clock, urls []string, mod func(*natsstore.Options)) (*natsstore.Store, error) {
	opts := natsstore.Options{URLs: urls, Clock: clock.Now}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return natsstore.Open(ctx, opts)
}

// newCookie returns a cookie with a fresh random ID, issued now.
func newCookie(t *testing.T, clock *testkit.Clock, maxAge time.Duration) record.Cookie {
	t.Helper()
	id, err := record.NewID(nil, record.DefaultIDLength)
	if err != nil {
		t.Fatal(err)
	}
	return record.Cookie{Digest: record.DigestOf(id), Created: clock.Now(), MaxAge: maxAge}
}

// events collects what a store's Subscribe reports.
type events struct {
	mu  sync.Mutex
	evs []record.Event
}

func subscribe(t *testing.T, st *natsstore.Store) *events {
	e := &events{}
	cancel := st.Subscribe(func(ev record.Event) {
		e.mu.Lock()
		e.evs = append(e.evs, ev)
		e.mu.Unlock()
	})
	t.Cleanup(cancel)
	return e
}

// wait waits until an event on d with reason why has been reported.
func (e *events) wait(t *testing.T, d record.Digest, why record.DeleteReason, within time.Duration) record.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		for _, ev := range e.evs {
			if ev.Digest == d && ev.Reason == why && ev.Kind == record.KindDelete {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %v deletion of %s reported within %v", why, d, within)
	return record.Event{}
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStoreOperations(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	st := openStore(t, clock, []string{srv.ClientURL()}, nil)

	c := newCookie(t, clock, time.Hour)
	if err := st.Create(c); err != nil {
		t.Fatal(err)
	}
	if got, ok := st.Get(c.Digest); !ok || !got.Created.Equal(c.Created) || got.MaxAge != c.MaxAge {
		t.Fatalf("Get after Create = %+v, %v", got, ok)
	}
	if err := st.Create(c); !errors.Is(err, memstore.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if err := st.Create(record.Cookie{Digest: c.Digest}); err == nil {
		t.Fatal("Create of a cookie without lifetime succeeded")
	}

	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthExtra: map[string]any{"tenant": "t1"}}
	if err := st.SetAuth(c.Digest, alice); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(c.Digest); got.Auth.AuthID != "alice" || got.Auth.AuthExtra["tenant"] != "t1" {
		t.Fatalf("auth after SetAuth = %+v", got.Auth)
	}
	unknown := newCookie(t, clock, time.Hour)
	if err := st.SetAuth(unknown.Digest, alice); !errors.Is(err, memstore.ErrNotFound) {
		t.Fatalf("SetAuth of an unknown cookie: %v", err)
	}
	if err := st.Delete(unknown.Digest, record.ReasonLogout); !errors.Is(err, memstore.ErrNotFound) {
		t.Fatalf("Delete of an unknown cookie: %v", err)
	}

	next := newCookie(t, clock, time.Hour)
	next.Auth = alice
	if err := st.Rotate(c.Digest, next); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(c.Digest); ok {
		t.Fatal("the rotated cookie is still there")
	}
	if got, ok := st.Get(next.Digest); !ok || got.Auth.AuthID != "alice" {
		t.Fatalf("the new cookie = %+v, %v", got, ok)
	}
	if err := st.Rotate(c.Digest, newCookie(t, clock, time.Hour)); !errors.Is(err, memstore.ErrNotFound) {
		t.Fatalf("Rotate of a deleted cookie: %v", err)
	}
	if err := st.Create(c); !errors.Is(err, memstore.ErrExists) {
		t.Fatalf("Create of a deleted cookie's ID: %v, want ErrExists (IDs are never issued twice)", err)
	}

	// Revocation: every cookie of alice, none of bob's.
	second := newCookie(t, clock, time.Hour)
	second.Auth = alice
	bobs := newCookie(t, clock, time.Hour)
	bobs.Auth = record.Auth{AuthID: "bob"}
	for _, ck := range []record.Cookie{second, bobs} {
		if err := st.Create(ck); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "the index applies the new cookies", func() bool { return st.Len() >= 3 })
	got, err := st.DeleteByAuthID("alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []record.Digest{next.Digest, second.Digest}
	slices.SortFunc(want, func(a, b record.Digest) int { return strings.Compare(string(a[:]), string(b[:])) })
	if !slices.Equal(got, want) {
		t.Fatalf("DeleteByAuthID = %v, want %v", got, want)
	}
	if _, ok := st.Get(bobs.Digest); !ok {
		t.Fatal("bob's cookie went with alice's")
	}
	if err := st.Delete(bobs.Digest, record.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(bobs.Digest); ok {
		t.Fatal("a logged-out cookie is still there")
	}
}

// Two nodes on one stream: what one writes, the other reads at once, and
// its deletions are reported on the other.
func TestTwoNodes(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	a := openStore(t, clock, []string{srv.ClientURL()}, nil)
	b := openStore(t, clock, []string{srv.ClientURL()}, nil)
	seen := subscribe(t, b)

	c := newCookie(t, clock, time.Hour)
	if err := a.Create(c); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get(c.Digest); !ok {
		t.Fatal("a cookie created on A is unknown on B right after")
	}
	if err := b.Create(c); !errors.Is(err, memstore.ErrExists) {
		t.Fatalf("B issued an ID that A had issued: %v", err)
	}
	if err := a.SetAuth(c.Digest, record.Auth{AuthID: "alice"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B sees A's login", func() bool {
		got, _ := b.Get(c.Digest)
		return got.Auth.AuthID == "alice"
	})

	// A logout on A reaches B.
	if err := a.Delete(c.Digest, record.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	seen.wait(t, c.Digest, record.ReasonLogout, 10*time.Second)
	if _, ok := b.Get(c.Digest); ok {
		t.Fatal("B still knows a cookie logged out on A")
	}

	// A revocation on B, of a cookie A created, reaches A.
	r := newCookie(t, clock, time.Hour)
	r.Auth = record.Auth{AuthID: "carol"}
	if err := a.Create(r); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B applies the cookie", func() bool { return inIndex(b, r.Digest) })
	seenA := subscribe(t, a)
	if ds, err := b.DeleteByAuthID("carol"); err != nil || len(ds) != 1 {
		t.Fatalf("DeleteByAuthID on B = %v, %v", ds, err)
	}
	seenA.wait(t, r.Digest, record.ReasonRevoke, 10*time.Second)

	// A rotation on A names the successor on B.
	o := newCookie(t, clock, time.Hour)
	if err := a.Create(o); err != nil {
		t.Fatal(err)
	}
	n := newCookie(t, clock, time.Hour)
	n.Auth = record.Auth{AuthID: "alice"}
	if err := a.Rotate(o.Digest, n); err != nil {
		t.Fatal(err)
	}
	if ev := seen.wait(t, o.Digest, record.ReasonRotated, 10*time.Second); ev.Successor != n.Digest {
		t.Fatalf("rotation reported with successor %s, want %s", ev.Successor, n.Digest)
	}
	if got, ok := b.Get(n.Digest); !ok || got.Auth.AuthID != "alice" {
		t.Fatalf("B's view of the new cookie: %+v, %v", got, ok)
	}
}

// Concurrent creates on two nodes: each is acknowledged with its own
// answer, and a digest that both nodes create at once is issued by exactly
// one of them.
func TestConcurrentCreates(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	nodes := []*natsstore.Store{
		openStore(t, clock, []string{srv.ClientURL()}, nil),
		openStore(t, clock, []string{srv.ClientURL()}, nil),
	}
	const writers, each, contested = 16, 40, 200
	shared := make([]record.Cookie, contested)
	for i := range shared {
		shared[i] = newCookie(t, clock, time.Hour)
	}
	var mu sync.Mutex
	var created []record.Digest
	won := make([]int, contested)
	var errs []error
	var wg sync.WaitGroup
	for n, st := range nodes {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					c := newCookie(t, clock, time.Hour)
					err := st.Create(c)
					// Every writer of both nodes goes through the
					// contested digests, from its own starting point.
					k := (n*writers*each + w*each + i) % contested
					serr := st.Create(shared[k])
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						created = append(created, c.Digest)
					}
					switch {
					case serr == nil:
						won[k]++
					case !errors.Is(serr, memstore.ErrExists):
						errs = append(errs, serr)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d creates failed, the first: %v", len(errs), errs[0])
	}
	for k, n := range won {
		if n != 1 {
			t.Fatalf("contested cookie %d was created %d times", k, n)
		}
	}
	want := len(nodes)*writers*each + contested
	for i, st := range nodes {
		eventually(t, 20*time.Second, fmt.Sprintf("node %d applies every cookie", i), func() bool { return st.Len() == want })
		for _, d := range created {
			if !inIndex(st, d) {
				t.Fatalf("node %d lacks an acknowledged cookie", i)
			}
		}
	}
}

// inIndex reports whether st's own index holds d (Get would also ask the
// stream).
func inIndex(st *natsstore.Store, d record.Digest) bool {
	for c := range st.All() {
		if c.Digest == d {
			return true
		}
	}
	return false
}

// A node that opens after cookies were written catches up before it is
// ready, and then knows all of them from its index.
func TestCatchUp(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	a := openStore(t, clock, []string{srv.ClientURL()}, nil)
	const n = 300
	var want []record.Digest
	for range n {
		c := newCookie(t, clock, time.Hour)
		if err := a.Create(c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c.Digest)
	}
	b := openStore(t, clock, []string{srv.ClientURL()}, nil)
	if !b.Ready() {
		t.Fatal("WaitReady returned, Ready says no")
	}
	if b.Len() != n {
		t.Fatalf("B holds %d cookies once ready, want %d", b.Len(), n)
	}
	for _, d := range want {
		if !inIndex(b, d) {
			t.Fatalf("cookie %s missing from B's index", d)
		}
	}
	if st := b.Stats(); st.Lag != 0 || st.Applied < n || st.Connection != "CONNECTED" || st.ReplayedFrom != 1 {
		t.Fatalf("B's stats after catching up: %+v", st)
	}
}

// An empty stream is caught up at once.
func TestReadyOnEmptyStream(t *testing.T) {
	srv := embedded(t)
	st, err := tryOpen(testkit.NewClock(), []string{srv.ClientURL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Ready() {
		t.Fatal("a store on an empty stream is not ready at open")
	}
}

// The stream expires a cookie by its TTL, and its delete marker reaches
// every node as an expiry.
func TestExpiryByTheStream(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	a := openStore(t, clock, []string{srv.ClientURL()}, nil)
	b := openStore(t, clock, []string{srv.ClientURL()}, nil)
	seen := subscribe(t, b)
	c := newCookie(t, clock, 2*time.Second)
	if err := a.Create(c); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B applies the cookie", func() bool { return inIndex(b, c.Digest) })
	seen.wait(t, c.Digest, record.ReasonExpired, 20*time.Second)
	if inIndex(b, c.Digest) {
		t.Fatal("an expired cookie stays in B's index")
	}
}

// A stream that exists with settings the store cannot use is refused, and
// the error names each difference.
func TestStreamSettings(t *testing.T) {
	srv := embedded(t)
	_, js := connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.*"}, MaxMsgsPerSubject: 5, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := tryOpen(testkit.NewClock(), []string{srv.ClientURL()}, func(o *natsstore.Options) { o.Stream, o.SubjectPrefix = "OTHER", "other" })
	if !errors.Is(err, natsstore.ErrStreamSettings) {
		t.Fatalf("Open on a stream with other settings: %v", err)
	}
	for _, name := range []string{"max_msgs_per_subject is 5", "max_age is 1h0m0s", "allow_msg_ttl", "subject_delete_marker_ttl"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %q: %v", name, err)
		}
	}
	// The default stream exists now; another prefix is another subject.
	if _, err := tryOpen(testkit.NewClock(), []string{srv.ClientURL()}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = tryOpen(testkit.NewClock(), []string{srv.ClientURL()}, func(o *natsstore.Options) { o.SubjectPrefix = "site.cookies" })
	if !errors.Is(err, natsstore.ErrStreamSettings) || !strings.Contains(err.Error(), "subjects") {
		t.Fatalf("Open with another subject prefix: %v", err)
	}
	_, err = tryOpen(testkit.NewClock(), []string{srv.ClientURL()}, func(o *natsstore.Options) { o.Replicas = 3 })
	if !errors.Is(err, natsstore.ErrStreamSettings) || !strings.Contains(err.Error(), "replicas is 1, the store needs 3") {
		t.Fatalf("Open with other replicas: %v", err)
	}
	// Refused on a connection that the caller owns, the store leaves
	// nothing subscribed on it. (A first request makes the one
	// subscription that nats.go keeps for the answers of all requests.)
	nc, njs := connect(t, srv.ClientURL())
	if _, err := njs.AccountInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := nc.NumSubscriptions()
	_, err = tryOpen(testkit.NewClock(), nil, func(o *natsstore.Options) { o.Conn, o.Replicas = nc, 3 })
	if !errors.Is(err, natsstore.ErrStreamSettings) {
		t.Fatalf("Open on a borrowed connection with other replicas: %v", err)
	}
	if n := nc.NumSubscriptions(); n != before {
		t.Fatalf("a refused Open left %d subscriptions on the caller's connection", n-before)
	}
}

// Without a server, a write fails within its time budget.
func TestUnavailable(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	st := openStore(t, clock, []string{srv.ClientURL()}, func(o *natsstore.Options) { o.Timeout = time.Second })
	srv.Shutdown()
	srv.WaitForShutdown()
	start := time.Now()
	err := st.Create(newCookie(t, clock, time.Hour))
	if !errors.Is(err, natsstore.ErrUnavailable) {
		t.Fatalf("Create without a server: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("Create without a server took %v", took)
	}
	if _, err := tryOpen(clock, []string{"nats://127.0.0.1:1"}, nil); err == nil || !strings.Contains(err.Error(), "connect to nats://127.0.0.1:1") {
		t.Fatalf("Open without a server: %v", err)
	}
}

// A node with a snapshot follows the stream from the snapshot's sequence,
// and ends with the same index as a full replay; an unusable snapshot
// falls back to a full replay.
func TestSnapshot(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	file := filepath.Join(t.TempDir(), "node", "cookies.snapshot")
	withSnap := func(o *natsstore.Options) { o.Snapshot = file; o.SnapshotInterval = -1 }
	a, err := tryOpen(clock, []string{srv.ClientURL()}, withSnap)
	if err != nil {
		t.Fatal(err)
	}
	var first []record.Cookie
	for range 50 {
		c := newCookie(t, clock, time.Hour)
		c.Auth = record.Auth{AuthID: "alice"}
		if err := a.Create(c); err != nil {
			t.Fatal(err)
		}
		first = append(first, c)
	}
	eventually(t, 10*time.Second, "A applies its cookies", func() bool { return a.Len() == 50 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v, %v", fi, err)
	}

	// Meanwhile another node deletes 10 and creates 5.
	b := openStore(t, clock, []string{srv.ClientURL()}, nil)
	for _, c := range first[:10] {
		if err := b.Delete(c.Digest, record.ReasonLogout); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := b.Create(newCookie(t, clock, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	check := func(a *natsstore.Store) {
		t.Helper()
		if a.Len() != 45 {
			t.Fatalf("index holds %d cookies, want 45", a.Len())
		}
		for i, c := range first {
			if inIndex(a, c.Digest) != (i >= 10) {
				t.Fatalf("cookie %d: in index %v", i, inIndex(a, c.Digest))
			}
		}
	}
	a = openStore(t, clock, []string{srv.ClientURL()}, withSnap)
	if st := a.Stats(); st.SnapshotLoaded != 50 || st.ReplayedFrom <= 50 {
		t.Fatalf("restart with a snapshot: %+v", st)
	}
	check(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// A damaged snapshot: full replay, same index.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	a = openStore(t, clock, []string{srv.ClientURL()}, withSnap)
	if st := a.Stats(); st.SnapshotLoaded != 0 || st.ReplayedFrom != 1 {
		t.Fatalf("restart with a damaged snapshot: %+v", st)
	}
	check(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// The stream deleted and created again: the snapshot is of another.
	_ = b.Close()
	_, js := connect(t, srv.ClientURL())
	if err := js.DeleteStream(context.Background(), natsstore.DefaultStream); err != nil {
		t.Fatal(err)
	}
	a = openStore(t, clock, []string{srv.ClientURL()}, withSnap)
	if st := a.Stats(); st.SnapshotLoaded != 0 || a.Len() != 0 {
		t.Fatalf("restart on a new stream with an old snapshot: %+v", st)
	}
}

// A write whose subject no stream takes (the stream deleted under a
// running store, as an election leaves it for a moment) is answered "no
// responders" by the server at once, retried until the store's time-out,
// and then refused as unavailable, naming why.
func TestWriteWithoutAStream(t *testing.T) {
	srv := embedded(t)
	clock := testkit.NewClock()
	st := openStore(t, clock, []string{srv.ClientURL()}, func(o *natsstore.Options) { o.Timeout = time.Second })
	_, js := connect(t, srv.ClientURL())
	if err := js.DeleteStream(context.Background(), natsstore.DefaultStream); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := st.Create(newCookie(t, clock, time.Hour))
	if !errors.Is(err, natsstore.ErrUnavailable) || !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("Create without a stream: %v, want ErrUnavailable for no responders", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("Create without a stream took %v", took)
	}
}

// A write that the store cannot send fails at once: after Close, and on a
// connection closed under the store (one that the embedding program owns).
// Each store runs on a connection that it does not own, which Close leaves
// open.
func TestWriteThatCannotBeSent(t *testing.T) {
	srv := embedded(t)
	for _, tc := range []struct {
		name  string
		close func(st *natsstore.Store, nc *nats.Conn) error
		want  error // nil: any error
	}{
		{"after Close", func(st *natsstore.Store, _ *nats.Conn) error { return st.Close() }, nil},
		{"connection closed", func(_ *natsstore.Store, nc *nats.Conn) error { nc.Close(); return nil }, nats.ErrConnectionClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewClock()
			nc, _ := connect(t, srv.ClientURL())
			st := openStore(t, clock, nil, func(o *natsstore.Options) { o.Conn = nc })
			if err := st.Create(newCookie(t, clock, time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := tc.close(st, nc); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := st.Create(newCookie(t, clock, time.Hour))
			switch {
			case err == nil:
				t.Fatal("Create succeeded")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Create: %v, want %v", err, tc.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("Create took %v", took)
			}
		})
	}
}
