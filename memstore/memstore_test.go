package memstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// t0 is where every test clock starts.
var t0 = testkit.Start()

func newStore(t testing.TB, c *testkit.Clock) *Store {
	t.Helper()
	s := New(Options{Clock: c.Now, JanitorInterval: -1})
	t.Cleanup(func() { s.Close() })
	return s
}

// dg is the digest of a test cookie named id.
func dg(id string) record.Digest { return record.DigestOf(id) }

func cookie(id string, created time.Time, maxAge time.Duration) record.Cookie {
	return record.Cookie{Digest: dg(id), Created: created, MaxAge: maxAge}
}

var alice = record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
	AuthExtra: map[string]any{"tenant": "t7", "n": int64(3)}}

// TestStore runs each method of the Store once, through the index that
// package index tests in depth.
func TestStore(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	if err := s.Create(cookie("aaaaaa", t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(cookie("aaaaaa", t0, time.Hour)); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if err := s.Create(cookie("bbbbbb", t0, 0)); err == nil {
		t.Fatal("Create without a lifetime succeeded")
	}
	if err := s.SetAuth(dg("aaaaaa"), alice); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuth(dg("nosuch"), alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetAuth of a missing cookie = %v, want ErrNotFound", err)
	}
	if err := s.SetAuth(dg("aaaaaa"), record.Auth{AuthExtra: map[string]any{"c": make(chan int)}}); err == nil {
		t.Fatal("SetAuth with an authextra that no event can hold succeeded")
	}
	got, ok := s.Get(dg("aaaaaa"))
	if want := (record.Cookie{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: alice}); !ok || !got.Created.Equal(want.Created) ||
		got.MaxAge != want.MaxAge || !reflect.DeepEqual(got.Auth, want.Auth) {
		t.Fatalf("Get = %+v, %v; want %+v", got, ok, want)
	}
	got.Auth.AuthExtra["tenant"] = "changed" // the caller's map, not the store's
	if again, _ := s.Get(dg("aaaaaa")); again.Auth.AuthExtra["tenant"] != "t7" {
		t.Fatal("a change to a returned authextra reached the store")
	}
	next := record.Cookie{Digest: dg("cccccc"), Created: t0, MaxAge: time.Hour, Auth: alice}
	if err := s.Rotate(dg("aaaaaa"), next); err != nil {
		t.Fatal(err)
	}
	if got := s.DigestsByAuthID("alice"); !slices.Equal(got, []record.Digest{dg("cccccc")}) {
		t.Fatalf("DigestsByAuthID = %v", got)
	}
	if err := s.Create(cookie("dddddd", t0, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := len(slices.Collect(s.All())); n != 2 || s.Len() != 2 {
		t.Fatalf("All has %d cookies, Len %d; want 2", n, s.Len())
	}
	if err := s.Delete(dg("dddddd"), record.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(dg("dddddd"), record.ReasonLogout); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	if got, err := s.DeleteByAuthID("alice"); err != nil || !slices.Equal(got, []record.Digest{dg("cccccc")}) {
		t.Fatalf("DeleteByAuthID = %v, %v", got, err)
	}
	if err := s.Create(cookie("eeeeee", t0, time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if n := s.PurgeExpired(); n != 1 || s.Len() != 0 {
		t.Fatalf("PurgeExpired = %d, Len %d; want 1, 0", n, s.Len())
	}
}

func TestJanitorPurgesAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := testkit.NewClock()
	s := New(Options{Clock: clk.Now, JanitorInterval: time.Millisecond})
	for i := range 50 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the janitor left %d expired entries", s.Len())
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	// Close waits for the janitor, so its goroutine is gone on return; the
	// loop only absorbs unrelated goroutines of the test runner winding down.
	for range 100 {
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before New", n, before)
	}
	// The index stays usable after Close.
	if err := s.Create(cookie("after", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestNoJanitor(t *testing.T) {
	clk := testkit.NewClock()
	s := New(Options{Clock: clk.Now, JanitorInterval: -1})
	if s.done != nil {
		t.Fatal("a janitor was started with a negative interval")
	}
	if err := s.Create(cookie("aaaaaa", t0, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	time.Sleep(10 * time.Millisecond)
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d, want the expired entry still there", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDefaults: Options{} starts a janitor, and a store without a Clock
// leaves the index on the wall clock (package index tests that clock).
func TestDefaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if s.done == nil {
		t.Fatal("no janitor with the default interval")
	}
	if err := s.Create(cookie("aaaaaa", time.Now().Add(-2*time.Hour), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(dg("aaaaaa")); ok {
		t.Fatal("a cookie that expired an hour ago by the wall clock is present")
	}
}

// TestJanitorAlongsideCallers runs the janitor every millisecond while
// callers create, log in, read and let time pass, and closes the store
// while they still run: Close stops the janitor, not the callers, and the
// store stays usable. Run it with -race. (index.TestConcurrent hammers the
// index itself, purges included.)
func TestJanitorAlongsideCallers(t *testing.T) {
	clk := testkit.NewClock()
	s := New(Options{Clock: clk.Now, JanitorInterval: time.Millisecond})
	const workers, steps = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for step := range steps {
				if w == 0 && step == steps/2 {
					if err := s.Close(); err != nil {
						t.Error(err)
					}
				}
				id := fmt.Sprintf("cookie%02d", rng.IntN(64))
				if err := s.Create(cookie(id, clk.Now(), time.Duration(1+rng.IntN(50))*time.Millisecond)); err != nil && !errors.Is(err, ErrExists) {
					t.Error(err)
				}
				if err := s.SetAuth(dg(id), record.Auth{AuthID: "user", AuthExtra: map[string]any{"w": int64(w)}}); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
				if c, ok := s.Get(dg(id)); ok && (c.Digest != dg(id) || (c.Auth.AuthID != "" && c.Auth.AuthExtra["w"] == nil)) {
					t.Errorf("Get(%s) returned %+v", id, c)
				}
				clk.Add(time.Millisecond)
			}
		})
	}
	wg.Wait()
	// The janitor stopped at Close: what expires now stays until a purge.
	n := s.Len()
	clk.Add(time.Hour)
	time.Sleep(10 * time.Millisecond)
	if n == 0 || s.Len() != n {
		t.Errorf("Len %d after the callers, %d once they expired: want the same, not 0, with the janitor stopped", n, s.Len())
	}
}
