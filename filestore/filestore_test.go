package filestore

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/record"
)

// t0 is where every test clock starts.
var t0 = testkit.Start()

// open opens a store; one without a clock gets a test clock that stays at t0.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = testkit.NewClock().Now
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func id(n int) string { return fmt.Sprintf("cookie%018d", n) }

// dg is the digest of a test cookie named id.
func dg(id string) record.Digest { return record.DigestOf(id) }

// dgs returns the digests of ids, sorted.
func dgs(ids ...string) []record.Digest {
	var out []record.Digest
	for _, id := range ids {
		out = append(out, dg(id))
	}
	sortDigests(out)
	return out
}

func sortDigests(ds []record.Digest) {
	slices.SortFunc(ds, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
}

// snapshot returns every live cookie, sorted, with times normalised for
// comparison.
func snapshot(r interface {
	All() iter.Seq[record.Cookie]
}) []record.Cookie {
	var out []record.Cookie
	for c := range r.All() {
		c.Created = c.Created.UTC()
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b record.Cookie) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	return out
}

func TestCreateGetReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	clk := testkit.NewClock()
	s := open(t, path, Options{Clock: clk.Now})
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: map[string]any{"plan": "pro"}}
	if err := s.Create(record.Cookie{Digest: dg(id(1)), Created: t0, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(record.Cookie{Digest: dg(id(2)), Created: t0, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuth(dg(id(2)), alice); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(record.Cookie{Digest: dg(id(1)), Created: t0, MaxAge: time.Hour}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: %v, want ErrExists", err)
	}
	if err := s.SetAuth(dg(id(1)), alice); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuth(dg(id(2)), record.Auth{}); err != nil {
		t.Fatal(err)
	}
	want := snapshot(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, Options{Clock: clk.Now})
	defer s.Close()
	if got := snapshot(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen\n got %+v\nwant %+v", got, want)
	}
	c, ok := s.Get(dg(id(1)))
	if !ok || c.Auth.AuthID != "alice" || c.Auth.AuthExtra["plan"] != "pro" {
		t.Fatalf("Get(1) = %+v, %v", c, ok)
	}
	if st := s.Stats(); st.Replay.Events != 5 || st.Replay.Creates != 2 || st.Replay.Updates != 3 {
		t.Fatalf("replay stats %+v, want 5 events: 2 creates, 3 updates", st.Replay)
	}
}

func TestErrorsOnMissingCookies(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.dat"), Options{})
	defer s.Close()
	if err := s.SetAuth(dg("nosuchcookie"), record.Auth{AuthID: "a"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAuth unknown: %v", err)
	}
	if err := s.Delete(dg("nosuchcookie"), record.ReasonLogout); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete unknown: %v", err)
	}
	for _, c := range []record.Cookie{
		{Created: t0, MaxAge: time.Hour}, // no digest
		{Digest: dg(id(1)), MaxAge: time.Hour},
		{Digest: dg(id(1)), Created: t0},
		{Digest: dg(id(1)), Created: t0, MaxAge: time.Hour, Auth: record.Auth{AuthExtra: map[string]any{"c": make(chan int)}}},
		{Digest: dg(id(1)), Created: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), MaxAge: time.Hour}, // beyond int64 nanoseconds
	} {
		if err := s.Create(c); err == nil {
			t.Errorf("Create(%+v) gave no error", c)
		}
	}
	if st := s.Stats(); st.Journal.Appends != 0 {
		t.Fatalf("rejected calls appended %d events", st.Journal.Appends)
	}
}

// A logout must stick: Crossbar's file store revives deleted cookies on
// restart (its bug 1).
func TestDeleteSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	for i := range 3 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAuth(dg(id(1)), record.Auth{AuthID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(dg(id(1)), record.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	if _, ok := s.Get(dg(id(1))); ok {
		t.Fatal("a deleted cookie came back after reopen")
	}
	if _, ok := s.Get(dg(id(0))); !ok {
		t.Fatal("a live cookie was lost")
	}
	if ids := s.DigestsByAuthID("bob"); len(ids) != 0 {
		t.Fatalf("deleted cookie still indexed by authid: %v", ids)
	}
}

func TestDeleteByAuthID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	for i := range 6 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		who := "alice"
		if i%2 == 1 {
			who = "bob"
		}
		if err := s.SetAuth(dg(id(i)), record.Auth{AuthID: who}); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := s.DeleteByAuthID("alice")
	if err != nil {
		t.Fatal(err)
	}
	sortDigests(deleted)
	if want := dgs(id(0), id(2), id(4)); !reflect.DeepEqual(deleted, want) {
		t.Fatalf("deleted %v, want %v", deleted, want)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	if n := s.Len(); n != 3 {
		t.Fatalf("%d cookies after reopen, want bob's 3", n)
	}
	if ids := s.DigestsByAuthID("alice"); len(ids) != 0 {
		t.Fatalf("alice still has %v", ids)
	}
}

// TestModelReplay runs random operation sequences against the file store and
// against the memory backend as the model, then checks that the store, and
// the store reopened from its journal, hold exactly what the model holds.
// Logins are set, replaced and cleared, with authextras; "crowd" logs in on
// thousands of cookies (up to 1,500 live at once), and is revoked now and
// then; compactions rewrite it all in between.
func TestModelReplay(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			clk := testkit.NewClock()
			path := filepath.Join(t.TempDir(), "cookies.dat")
			s := open(t, path, Options{Clock: clk.Now, Sync: journal.SyncNone, CompactMinBytes: -1, JanitorInterval: -1})
			model := memstore.New(memstore.Options{Clock: clk.Now, JanitorInterval: -1})
			defer model.Close()
			principals := []string{"alice", "bob", "carol", "crowd"}
			crowd := 0
			for op := range 2000 {
				n := rng.IntN(60)
				switch r := rng.IntN(100); {
				case r < 35:
					c := record.Cookie{Digest: dg(id(n)), Created: clk.Now(), MaxAge: time.Duration(1+rng.IntN(100)) * time.Second}
					sameError(t, op, s.Create(c), model.Create(c))
				case r < 65:
					a := record.Auth{AuthID: principals[rng.IntN(3)], AuthRole: "user", AuthMethod: "ticket", AuthRealm: "r", AuthExtra: map[string]any{"op": int64(op)}}
					if rng.IntN(5) == 0 {
						a = record.Auth{}
					}
					sameError(t, op, s.SetAuth(dg(id(n)), a), model.SetAuth(dg(id(n)), a))
				case r < 80:
					sameError(t, op, s.Delete(dg(id(n)), record.ReasonLogout), model.Delete(dg(id(n)), record.ReasonLogout))
				case r < 83:
					next := record.Cookie{Digest: dg(id(rng.IntN(60))), Created: clk.Now(), MaxAge: time.Duration(1+rng.IntN(100)) * time.Second,
						Auth: record.Auth{AuthID: principals[rng.IntN(3)], AuthMethod: "ticket"}}
					sameError(t, op, s.Rotate(dg(id(n)), next), model.Rotate(dg(id(n)), next))
				case r < 84:
					// The crowd logs in on 250 more cookies, created with
					// their login as a rotation creates them.
					for range 250 {
						crowd++
						c := record.Cookie{Digest: dg(fmt.Sprintf("crowd%018d", crowd%5000)), Created: clk.Now(), MaxAge: time.Duration(1+rng.IntN(200)) * time.Second,
							Auth: record.Auth{AuthID: "crowd", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "r", AuthExtra: map[string]any{"n": int64(crowd % 3)}}}
						sameError(t, op, s.Create(c), model.Create(c))
					}
				case r < 85:
					p := principals[rng.IntN(4)]
					got, err1 := s.DeleteByAuthID(p)
					want, err2 := model.DeleteByAuthID(p)
					sameError(t, op, err1, err2)
					sortDigests(got)
					sortDigests(want)
					if len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
						t.Fatalf("op %d: DeleteByAuthID(%s) = %v, model %v", op, p, got, want)
					}
				case r < 88:
					if _, err := s.PurgeExpired(); err != nil {
						t.Fatal(err)
					}
				case r < 89:
					if _, err := s.Compact(); err != nil {
						t.Fatal(err)
					}
				default:
					clk.Set(clk.Now().Add(time.Duration(rng.IntN(3000)) * time.Millisecond))
				}
			}
			want := snapshot(model)
			if got := snapshot(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("live store differs from the model\n got %d cookies\nwant %d", len(got), len(want))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, path, Options{Clock: clk.Now, JanitorInterval: -1})
			defer s.Close()
			if got := snapshot(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("reopened store differs from the model\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func sameError(t *testing.T, op int, got, want error) {
	t.Helper()
	if (got == nil) != (want == nil) || (want != nil && !errors.Is(got, want)) {
		t.Fatalf("op %d: store error %v, model error %v", op, got, want)
	}
}

func TestExpiryIsImmediate(t *testing.T) {
	clk := testkit.NewClock()
	s := open(t, filepath.Join(t.TempDir(), "c.dat"), Options{Clock: clk.Now, JanitorInterval: -1})
	defer s.Close()
	if err := s.Create(record.Cookie{Digest: dg(id(1)), Created: t0, MaxAge: time.Minute}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Minute - time.Nanosecond))
	if _, ok := s.Get(dg(id(1))); !ok {
		t.Fatal("cookie gone before its max age")
	}
	clk.Set(t0.Add(time.Minute))
	if _, ok := s.Get(dg(id(1))); ok {
		t.Fatal("cookie still readable at created + max_age (Crossbar #1877)")
	}
	if err := s.SetAuth(dg(id(1)), record.Auth{AuthID: "a"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetAuth on an expired cookie: %v", err)
	}
}

// A purge journals its deletes, so a clock that later jumps backwards does
// not bring an expired cookie back, not even after a restart.
func TestPurgedCookieStaysDeletedWhenClockJumpsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.dat")
	clk := testkit.NewClock()
	s := open(t, path, Options{Clock: clk.Now, JanitorInterval: -1})
	for i := range 3 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Duration(i+1) * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(2 * time.Minute))
	n, err := s.PurgeExpired()
	if err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want 2", n, err)
	}
	if s.Len() != 1 {
		t.Fatalf("index holds %d entries after purge, want 1", s.Len())
	}
	s.Close()
	clk.Set(t0) // the clock jumps back to before the expiry
	s = open(t, path, Options{Clock: clk.Now, JanitorInterval: -1})
	defer s.Close()
	for i := range 2 {
		if _, ok := s.Get(dg(id(i))); ok {
			t.Fatalf("purged cookie %d revived by a clock jump", i)
		}
	}
	if _, ok := s.Get(dg(id(2))); !ok {
		t.Fatal("unexpired cookie lost")
	}
}

func TestJanitorPurges(t *testing.T) {
	clk := testkit.NewClock()
	s := open(t, filepath.Join(t.TempDir(), "c.dat"), Options{Clock: clk.Now, JanitorInterval: 5 * time.Millisecond})
	defer s.Close()
	if err := s.Create(record.Cookie{Digest: dg(id(1)), Created: t0, MaxAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Hour))
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not remove an expired cookie")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCompactShrinksAndKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	clk := testkit.NewClock()
	s := open(t, path, Options{Clock: clk.Now, Sync: journal.SyncNone, CompactMinBytes: -1, JanitorInterval: -1})
	for i := range 2000 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		for k := range 3 {
			if err := s.SetAuth(dg(id(i)), record.Auth{AuthID: fmt.Sprint("user", k), AuthRole: "user"}); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			if err := s.Delete(dg(id(i)), record.ReasonLogout); err != nil {
				t.Fatal(err)
			}
		}
	}
	// one cookie that will have expired by the compaction
	if err := s.Create(record.Cookie{Digest: dg(id(99999)), Created: t0, MaxAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Minute))
	want := snapshot(s)
	st, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if st.Cookies != 1000 || st.After >= st.Before/4 {
		t.Fatalf("compaction %+v: want 1000 cookies and a file under a quarter of its size", st)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != st.After {
		t.Fatalf("file is %v bytes (%v), stats say %d", fi.Size(), err, st.After)
	}
	if got := snapshot(s); !reflect.DeepEqual(got, want) {
		t.Fatal("compaction changed the live state")
	}
	// The store goes on appending to the new file.
	if err := s.Create(record.Cookie{Digest: dg(id(5000)), Created: clk.Now(), MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	want = snapshot(s)
	s.Close()
	s = open(t, path, Options{Clock: clk.Now, JanitorInterval: -1})
	defer s.Close()
	if got := snapshot(s); !reflect.DeepEqual(got, want) {
		t.Fatal("reopened compacted journal differs")
	}
	if st := s.Stats(); st.Replay.Batches == 0 {
		t.Fatalf("compacted journal replayed no batch frames: %+v", st.Replay)
	}
	if s.Len() != 1001 {
		t.Fatalf("Len = %d, want 1001 (the expired cookie is dropped)", s.Len())
	}
}

// Writers keep writing while compactions run; nothing they were told is
// stored may be missing afterwards, in the live store or after a reopen.
func TestCompactWithConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{Sync: journal.SyncNone, CompactMinBytes: -1, JanitorInterval: -1})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cid := fmt.Sprintf("w%d-%019d", w, i)
				if err := s.Create(record.Cookie{Digest: dg(cid), Created: t0, MaxAge: time.Hour}); err != nil {
					t.Error(err)
					return
				}
				if err := s.SetAuth(dg(cid), record.Auth{AuthID: fmt.Sprint("u", i%7)}); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if err := s.Delete(dg(cid), record.ReasonLogout); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		if _, err := s.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	want := snapshot(s)
	if len(want) == 0 {
		t.Fatal("writers wrote nothing")
	}
	s.Close()
	s = open(t, path, Options{JanitorInterval: -1})
	defer s.Close()
	if got := snapshot(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compactions under load and a reopen: %d cookies, want %d", len(got), len(want))
	}
}

func TestAutomaticCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	var compactions atomic.Int64
	s := open(t, path, Options{Sync: journal.SyncNone, CompactMinBytes: 64 << 10, JanitorInterval: -1,
		OnCompact: func(st CompactStats, err error) {
			if err == nil {
				compactions.Add(1)
			}
		}})
	defer s.Close()
	if err := s.Create(record.Cookie{Digest: dg(id(0)), Created: t0, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Rewriting one cookie's auth over and over makes nearly every byte dead.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; compactions.Load() < 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no automatic compaction after %d updates; journal %d bytes", i, s.Stats().Journal.Size)
		}
		if err := s.SetAuth(dg(id(0)), record.Auth{AuthID: fmt.Sprint("user", i), AuthRole: strings.Repeat("r", 50)}); err != nil {
			t.Fatal(err)
		}
	}
	if size := s.Stats().Journal.Size; size > 1<<20 {
		t.Fatalf("journal is %d bytes after automatic compactions", size)
	}
}

func TestPurgeOnStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	clk := testkit.NewClock()
	s := open(t, path, Options{Clock: clk.Now, JanitorInterval: -1})
	for i := range 100 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Duration(1+i%2) * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	before, _ := os.Stat(path)
	clk.Set(t0.Add(90 * time.Minute)) // the odd ones live two hours, the even ones one
	s = open(t, path, Options{Clock: clk.Now, JanitorInterval: -1, PurgeOnStartup: true})
	defer s.Close()
	if s.Len() != 50 {
		t.Fatalf("%d cookies in the index after purge on startup, want 50", s.Len())
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size() {
		t.Fatalf("purge on startup did not shrink the file: %d → %d", before.Size(), after.Size())
	}
	if s.Stats().Compactions != 1 {
		t.Fatal("purge on startup did not compact")
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	_, err := Open(path, Options{})
	if !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	s.Close()
	s = open(t, path, Options{}) // the lock is released by Close
	s.Close()
}

func TestCorruptMiddleIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	for i := range 10 {
		if err := s.Create(record.Cookie{Digest: dg(id(i)), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[journal.HeaderSize+journal.FrameHeaderSize+3] ^= 0xff // inside the first payload
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "repair") {
		t.Fatalf("open of a corrupt journal: %v; want ErrCorrupt saying to repair", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.dat"), Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Create(record.Cookie{Digest: dg(id(1)), Created: t0, MaxAge: time.Hour}); err == nil {
		t.Fatal("Create after Close succeeded")
	}
}

func TestOpenOptionErrors(t *testing.T) {
	for _, r := range []float64{-0.1, 1, 2} {
		if _, err := Open(filepath.Join(t.TempDir(), "c.dat"), Options{CompactRatio: r}); err == nil {
			t.Errorf("CompactRatio %v accepted", r)
		}
	}
	// A journal whose folder cannot be created names the path.
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(blocker, "c.dat"), Options{}); err == nil {
		t.Fatal("open under a regular file succeeded")
	}
}
