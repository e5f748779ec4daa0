package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// model is the obvious, unsharded implementation of the Index's contract.
// It keeps entries until they are deleted or purged, like the Index, and
// decides visibility with the clock.
type model struct {
	m map[record.Digest]record.Cookie
}

func (m *model) live(id record.Digest, now time.Time) (record.Cookie, bool) {
	c, ok := m.m[id]
	if !ok || c.ExpiredAt(now) {
		return record.Cookie{}, false
	}
	return c, true
}

func (m *model) liveCookies(now time.Time) []record.Cookie {
	var out []record.Cookie
	for _, c := range m.m {
		if !c.ExpiredAt(now) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, byID)
	return out
}

// TestModel runs random operation sequences against an Index and the model,
// checks every result, records the events that the successful calls stand
// for, and replays them through ApplyEvent and ApplyAll into fresh Indexes: the live cookies
// must agree. The clock moves forward and sometimes back.
func TestModel(t *testing.T) {
	auths := []record.Auth{
		{},
		{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "r"},
		{AuthID: "alice", AuthRole: "admin", AuthExtra: map[string]any{"n": int64(1)}},
		{AuthID: "bob", AuthMethod: "anonymous"},
		{AuthRole: "guest"},
	}
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			clk := testkit.NewClock()
			s := newIndex(t, clk)
			m := &model{m: map[record.Digest]record.Cookie{}}
			var events []record.Event
			latest := clk.Now()
			ids := make([]record.Digest, 30)
			for i := range ids {
				ids[i] = dg(fmt.Sprintf("cookie%02d", i))
			}
			for step := range 600 {
				now := clk.Now()
				id := ids[rng.IntN(len(ids))]
				switch op := rng.IntN(100); {
				case op < 30:
					c := record.Cookie{Digest: id, Created: now.Add(-time.Duration(rng.IntN(60)) * time.Second), MaxAge: time.Duration(1+rng.IntN(300)) * time.Second}
					err := s.Create(c)
					if _, live := m.live(id, now); live {
						if !errors.Is(err, ErrExists) {
							t.Fatalf("step %d: Create over a live cookie = %v", step, err)
						}
						break
					}
					if err != nil {
						t.Fatalf("step %d: Create = %v", step, err)
					}
					m.m[id] = c
					events = append(events, record.Create(c.Digest, c.Created, c.MaxAge))
				case op < 55:
					a := auths[rng.IntN(len(auths))]
					err := s.SetAuth(id, a)
					c, live := m.live(id, now)
					if !live {
						if !errors.Is(err, ErrNotFound) {
							t.Fatalf("step %d: SetAuth on an absent cookie = %v", step, err)
						}
						break
					}
					if err != nil {
						t.Fatalf("step %d: SetAuth = %v", step, err)
					}
					c.Auth = a
					m.m[id] = c
					events = append(events, record.Update(id, a))
				case op < 65:
					err := s.Delete(id)
					_, live := m.live(id, now)
					delete(m.m, id)
					if !live {
						if !errors.Is(err, ErrNotFound) {
							t.Fatalf("step %d: Delete of an absent cookie = %v", step, err)
						}
						break
					}
					if err != nil {
						t.Fatalf("step %d: Delete = %v", step, err)
					}
					events = append(events, record.Delete(id, record.ReasonUnspecified))
				case op < 70:
					authid := []string{"alice", "bob", "nobody"}[rng.IntN(3)]
					got := s.DeleteByAuthID(authid)
					var want []record.Digest
					for id, c := range m.m {
						if c.Auth.AuthID == authid {
							if !c.ExpiredAt(now) {
								want = append(want, id)
							}
							delete(m.m, id)
						}
					}
					sortDigests(want)
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: DeleteByAuthID(%s) = %v; want %v", step, authid, got, want)
					}
					for _, id := range got {
						events = append(events, record.Delete(id, record.ReasonUnspecified))
					}
				case op < 75:
					n := s.PurgeExpired()
					want := 0
					for id, c := range m.m {
						if c.ExpiredAt(now) {
							delete(m.m, id)
							want++
						}
					}
					if n != want {
						t.Fatalf("step %d: PurgeExpired = %d, want %d", step, n, want)
					}
				case op < 85:
					got, ok := s.Get(id)
					want, live := m.live(id, now)
					if ok != live || (ok && !sameCookie(got, want)) {
						t.Fatalf("step %d: Get = %+v, %v; want %+v, %v", step, got, ok, want, live)
					}
				case op < 90:
					authid := []string{"alice", "bob"}[rng.IntN(2)]
					var want []record.Digest
					for _, c := range m.liveCookies(now) {
						if c.Auth.AuthID == authid {
							want = append(want, c.Digest)
						}
					}
					if got := s.DigestsByAuthID(authid); !slices.Equal(got, want) {
						t.Fatalf("step %d: DigestsByAuthID(%s) = %v, want %v", step, authid, got, want)
					}
				case op < 97:
					clk.Add(time.Duration(rng.IntN(30)) * time.Second)
				default:
					clk.Add(-time.Duration(rng.IntN(120)) * time.Second)
				}
				if now := clk.Now(); now.After(latest) {
					latest = now
				}
				if s.Len() != len(m.m) {
					t.Fatalf("step %d: Len = %d, model holds %d", step, s.Len(), len(m.m))
				}
			}
			checkIndex(t, s)

			// Compare at the latest time the clock showed: entries that the
			// Index dropped without an event (purged, or deleted after
			// expiry) had expired by then, so the replay hides them too.
			clk.Set(latest)
			want := m.liveCookies(latest)
			compare(t, "store", rangeAll(s), want)

			replayed := newIndex(t, clk)
			apply(t, replayed, events...)
			checkIndex(t, replayed)
			compare(t, "replay", rangeAll(replayed), want)
			for _, authid := range []string{"alice", "bob"} {
				if a, b := s.DigestsByAuthID(authid), replayed.DigestsByAuthID(authid); !slices.Equal(a, b) {
					t.Fatalf("DigestsByAuthID(%s): store %v, replay %v", authid, a, b)
				}
			}

			// ApplyAll in runs of any length gives the same state, on an
			// index grown in advance or not.
			all := newIndex(t, clk)
			if seed%2 == 0 {
				all.Reserve(Size{Cookies: len(events), Logins: len(events), ExtraBytes: len(events)})
			}
			for rest := viewsOf(t, events); len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(400))
				all.ApplyAll(rest[:n])
				rest = rest[n:]
			}
			checkIndex(t, all)
			compare(t, "ApplyAll", rangeAll(all), want)

			// Each event applied twice in a row gives the same state.
			twice := newIndex(t, clk)
			for i := range events {
				apply(t, twice, events[i], events[i])
			}
			compare(t, "replay twice", rangeAll(twice), want)
		})
	}
}

func compare(t *testing.T, what string, got, want []record.Cookie) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d live cookies, want %d", what, len(got), len(want))
	}
	for i := range got {
		w := want[i]
		w.Auth = *normalizeForCompare(w.Auth)
		if !sameCookie(got[i], w) {
			t.Fatalf("%s: cookie %d = %+v, want %+v", what, i, got[i], w)
		}
	}
}

// normalizeForCompare returns a as the index gives it back: an empty
// authextra is none.
func normalizeForCompare(a record.Auth) *record.Auth {
	if len(a.AuthExtra) == 0 {
		a.AuthExtra = nil
	}
	return &a
}

// TestConcurrent hammers a small set of IDs from many goroutines, with
// purges and whole-index operations running alongside; run it with -race.
// Afterwards the by-authid index must still mirror the entries exactly.
func TestConcurrent(t *testing.T) {
	clk := testkit.NewClock()
	s := New(Options{Clock: clk.Now})
	const workers, steps = 16, 3000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range steps {
				id := fmt.Sprintf("cookie%02d", rng.IntN(64))
				switch rng.IntN(10) {
				case 0, 1:
					err := s.Create(cookie(id, clk.Now(), time.Duration(1+rng.IntN(50))*time.Millisecond))
					if err != nil && !errors.Is(err, ErrExists) {
						t.Error(err)
					}
				case 2, 3:
					err := s.SetAuth(dg(id), record.Auth{AuthID: fmt.Sprint("user", rng.IntN(4))})
					if err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				case 4:
					if err := s.Delete(dg(id)); err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				case 5:
					_ = s.DeleteByAuthID(fmt.Sprint("user", rng.IntN(4)))
				case 6:
					clk.Add(time.Millisecond)
					s.PurgeExpired()
				case 7:
					for c := range s.All() {
						if c.Digest.IsZero() {
							t.Error("All yielded a zero digest")
						}
					}
					_ = s.Len()
					_ = s.DigestsByAuthID("user1")
				default:
					if c, ok := s.Get(dg(id)); ok && c.Digest != dg(id) {
						t.Errorf("Get(%s) returned %s", id, c.Digest)
					}
				}
			}
		})
	}
	wg.Wait()
	checkIndex(t, s)
	for _, c := range rangeAll(s) {
		if got, ok := s.Get(c.Digest); !ok || !sameCookie(got, c) {
			t.Fatalf("All and Get disagree on %s", c.Digest)
		}
	}
}
