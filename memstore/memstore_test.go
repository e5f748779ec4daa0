package memstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
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

// dgs returns the digests of ids, sorted as the Store sorts them.
func dgs(ids ...string) []record.Digest {
	out := make([]record.Digest, len(ids))
	for i, id := range ids {
		out[i] = dg(id)
	}
	sortDigests(out)
	return out
}

func cookie(id string, created time.Time, maxAge time.Duration) record.Cookie {
	return record.Cookie{Digest: dg(id), Created: created, MaxAge: maxAge}
}

var alice = record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
	AuthExtra: map[string]any{"tenant": "t7"}}

// sameCookie compares cookies by instant rather than by time.Time's
// representation, which the index does not keep.
func sameCookie(a, b record.Cookie) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created, b.Created = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// checkIndex verifies that byAuth mirrors the auth of the entries exactly.
func checkIndex(t testing.TB, s *Store) {
	t.Helper()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		checkTable(t, &sh.ids)
		for pos, tag := range sh.ids.tags {
			if tag == 0 {
				continue
			}
			id, e := sh.ids.digestAt(pos), sh.ids.entryAt(pos)
			if a := e.authID(); a != "" {
				if set := sh.byAuth[a]; set == nil || !set.has(id) {
					t.Errorf("shard %d: entry with authid %q missing from byAuth", i, a)
				}
			}
			if e.auth != nil && e.auth.IsZero() {
				t.Errorf("shard %d: zero auth stored as non-nil", i)
			}
		}
		for a, set := range sh.byAuth {
			if set.len() == 0 {
				t.Errorf("shard %d: empty byAuth set for %q", i, a)
			}
			for _, id := range set.list() {
				if e, _, ok := sh.ids.lookup(hash(id), id); !ok || e.authID() != a {
					t.Errorf("shard %d: byAuth[%q] holds an ID whose entry has authid %q (present %v)", i, a, e.authID(), ok)
				}
			}
		}
		sh.mu.RUnlock()
	}
}

func TestCreateGet(t *testing.T) {
	clk := testkit.NewClock()
	tests := []struct {
		name    string
		seed    []record.Cookie // created first, must succeed
		advance time.Duration   // clock step before c is created
		c       record.Cookie
		wantErr error // nil, ErrExists, or errAny for a validation error
	}{
		{name: "new", c: cookie("aaaaaa", t0, time.Hour)},
		{name: "live duplicate", seed: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}, c: cookie("aaaaaa", t0, 2*time.Hour), wantErr: ErrExists},
		{name: "expired duplicate is replaced", seed: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}, advance: time.Hour, c: cookie("aaaaaa", t0.Add(time.Hour), time.Hour)},
		{name: "duplicate one nanosecond before expiry", seed: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}, advance: time.Hour - 1, c: cookie("aaaaaa", t0, time.Hour), wantErr: ErrExists},
		{name: "zero digest", c: record.Cookie{Created: t0, MaxAge: time.Hour}, wantErr: errAny},
		{name: "zero created", c: cookie("aaaaaa", time.Time{}, time.Hour), wantErr: errAny},
		{name: "created beyond int64 nanoseconds", c: cookie("aaaaaa", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour), wantErr: errAny},
		{name: "zero max age", c: cookie("aaaaaa", t0, 0), wantErr: errAny},
		{name: "negative max age", c: cookie("aaaaaa", t0, -time.Second), wantErr: errAny},
		{name: "with auth, as a rotation creates", c: record.Cookie{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: alice}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Set(t0)
			s := newStore(t, clk)
			for _, c := range tt.seed {
				if err := s.Create(c); err != nil {
					t.Fatal(err)
				}
			}
			clk.Add(tt.advance)
			err := s.Create(tt.c)
			switch {
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, ErrExists) {
					t.Fatalf("Create = %v, want a validation error", err)
				}
				if _, ok := s.Get(tt.c.Digest); ok && len(tt.seed) == 0 {
					t.Fatal("an invalid cookie was stored")
				}
				return
			case !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil):
				t.Fatalf("Create = %v, want %v", err, tt.wantErr)
			}
			want := tt.c
			if tt.wantErr != nil {
				want = tt.seed[0]
			}
			got, ok := s.Get(want.Digest)
			if !ok || !sameCookie(got, want) {
				t.Fatalf("Get = %+v, %v; want %+v", got, ok, want)
			}
			if n := s.Len(); n != 1 {
				t.Fatalf("Len = %d, want 1", n)
			}
		})
	}
}

// errAny marks test cases that expect some error other than the sentinels.
var errAny = errors.New("any error")

func TestCreateReplacingExpiredDropsAuth(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	if err := s.Create(cookie("aaaaaa", t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuth(dg("aaaaaa"), alice); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	if err := s.Create(cookie("aaaaaa", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(dg("aaaaaa"))
	if !ok || !got.Auth.IsZero() {
		t.Fatalf("Get = %+v, %v; want the new cookie without auth", got, ok)
	}
	if ids := s.DigestsByAuthID("alice"); len(ids) != 0 {
		t.Fatalf("DigestsByAuthID = %v, want none", ids)
	}
	checkIndex(t, s)
}

func TestGetMissing(t *testing.T) {
	s := newStore(t, testkit.NewClock())
	if c, ok := s.Get(dg("nosuch")); ok || !reflect.DeepEqual(c, record.Cookie{}) {
		t.Fatalf("Get = %+v, %v; want zero, false", c, ok)
	}
}

func TestSetAuth(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		advance time.Duration
		auth    record.Auth
		want    record.Auth // expected Auth after the call, if it succeeded
		wantErr error
	}{
		{name: "set", id: "aaaaaa", auth: alice, want: alice},
		{name: "clear", id: "aaaaaa", auth: record.Auth{}},
		{name: "empty extra is nil", id: "aaaaaa", auth: record.Auth{AuthID: "bob", AuthExtra: map[string]any{}}, want: record.Auth{AuthID: "bob"}},
		{name: "extra only", id: "aaaaaa", auth: record.Auth{AuthExtra: map[string]any{"k": "v"}}, want: record.Auth{AuthExtra: map[string]any{"k": "v"}}},
		{name: "missing", id: "nosuch", auth: alice, wantErr: ErrNotFound},
		{name: "expired", id: "aaaaaa", advance: time.Hour, auth: alice, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock()
			s := newStore(t, clk)
			if err := s.Create(cookie("aaaaaa", t0, time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAuth(dg("aaaaaa"), record.Auth{AuthID: "previous"}); err != nil {
				t.Fatal(err)
			}
			clk.Add(tt.advance)
			err := s.SetAuth(dg(tt.id), tt.auth)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("SetAuth = %v, want %v", err, tt.wantErr)
			}
			checkIndex(t, s)
			if tt.wantErr != nil {
				if _, ok := s.Get(dg(tt.id)); ok {
					t.Fatal("a failed SetAuth made the cookie visible")
				}
				return
			}
			got, _ := s.Get(dg(tt.id))
			if !reflect.DeepEqual(got.Auth, tt.want) {
				t.Fatalf("Auth = %+v, want %+v", got.Auth, tt.want)
			}
			if ids := s.DigestsByAuthID("previous"); len(ids) != 0 {
				t.Fatalf("the previous authid still lists %v", ids)
			}
			var wantIDs []record.Digest
			if tt.want.AuthID != "" {
				wantIDs = dgs("aaaaaa")
			}
			if ids := s.DigestsByAuthID(tt.want.AuthID); !slices.Equal(ids, wantIDs) {
				t.Fatalf("DigestsByAuthID(%q) = %v, want %v", tt.want.AuthID, ids, wantIDs)
			}
		})
	}
}

func TestGetDoesNotExposeIndex(t *testing.T) {
	s := newStore(t, testkit.NewClock())
	if err := s.Create(cookie("aaaaaa", t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := alice
	if err := s.SetAuth(dg("aaaaaa"), a); err != nil {
		t.Fatal(err)
	}
	a.AuthID = "mallory" // the caller's copy is not the index's
	got, _ := s.Get(dg("aaaaaa"))
	got.Auth.AuthRole = "admin"
	got.MaxAge = 100 * time.Hour
	again, _ := s.Get(dg("aaaaaa"))
	if again.Auth.AuthID != "alice" || again.Auth.AuthRole != "user" || again.MaxAge != time.Hour {
		t.Fatalf("the index was changed through a returned cookie: %+v", again)
	}
	if ids := s.DigestsByAuthID("mallory"); len(ids) != 0 {
		t.Fatalf("DigestsByAuthID(mallory) = %v", ids)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		advance time.Duration
		wantErr error
	}{
		{name: "live", id: "aaaaaa"},
		{name: "missing", id: "nosuch", wantErr: ErrNotFound},
		{name: "expired is removed but not found", id: "aaaaaa", advance: time.Hour, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock()
			s := newStore(t, clk)
			if err := s.Create(cookie("aaaaaa", t0, time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAuth(dg("aaaaaa"), alice); err != nil {
				t.Fatal(err)
			}
			clk.Add(tt.advance)
			err := s.Delete(dg(tt.id), record.ReasonLogout)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Delete = %v, want %v", err, tt.wantErr)
			}
			wantLen := 0
			if tt.id != "aaaaaa" {
				wantLen = 1
			}
			if n := s.Len(); n != wantLen {
				t.Fatalf("Len = %d, want %d", n, wantLen)
			}
			checkIndex(t, s)
			clk.Set(t0) // even with the clock back, a deleted cookie stays gone
			if _, ok := s.Get(dg("aaaaaa")); ok == (wantLen == 0) {
				t.Fatalf("Get after Delete: present = %v", ok)
			}
			if err := s.Delete(dg("aaaaaa"), record.ReasonLogout); wantLen == 0 && !errors.Is(err, ErrNotFound) {
				t.Fatalf("second Delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDeleteByAuthID(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	// 200 cookies spread over every shard: even ones belong to alice, every
	// third to bob, the rest to nobody; the first ten of alice's expire early.
	var wantAlice []record.Digest
	for i := range 200 {
		id := fmt.Sprintf("id%04d", i)
		maxAge := time.Hour
		if i%2 == 0 && i < 20 {
			maxAge = time.Minute
		}
		if err := s.Create(cookie(id, t0, maxAge)); err != nil {
			t.Fatal(err)
		}
		switch {
		case i%2 == 0:
			if err := s.SetAuth(dg(id), alice); err != nil {
				t.Fatal(err)
			}
			if maxAge == time.Hour {
				wantAlice = append(wantAlice, dg(id))
			}
		case i%3 == 0:
			if err := s.SetAuth(dg(id), record.Auth{AuthID: "bob"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Add(time.Minute)
	sortDigests(wantAlice)
	if got := s.DigestsByAuthID("alice"); !slices.Equal(got, wantAlice) {
		t.Fatalf("DigestsByAuthID(alice) = %d IDs, want %d", len(got), len(wantAlice))
	}
	bob := s.DigestsByAuthID("bob")
	tests := []struct {
		authid  string
		want    []record.Digest
		wantLen int
	}{
		{authid: "", want: nil, wantLen: 200},
		{authid: "nobody", want: nil, wantLen: 200},
		{authid: "alice", want: wantAlice, wantLen: 100},
		{authid: "alice", want: nil, wantLen: 100},
		{authid: "bob", want: bob, wantLen: 100 - len(bob)},
	}
	for _, tt := range tests {
		got, err := s.DeleteByAuthID(tt.authid)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Fatalf("DeleteByAuthID(%q) = %d IDs, %v; want %d", tt.authid, len(got), err, len(tt.want))
		}
		if n := s.Len(); n != tt.wantLen {
			t.Fatalf("after DeleteByAuthID(%q): Len = %d, want %d", tt.authid, n, tt.wantLen)
		}
		if ids := s.DigestsByAuthID(tt.authid); tt.authid != "" && len(ids) != 0 {
			t.Fatalf("DigestsByAuthID(%q) after delete = %v", tt.authid, ids)
		}
		checkIndex(t, s)
	}
	for _, id := range wantAlice {
		if _, ok := s.Get(id); ok {
			t.Fatalf("%s survived DeleteByAuthID", id)
		}
	}
}

func TestApply(t *testing.T) {
	bob := record.Auth{AuthID: "bob", AuthExtra: map[string]any{}}
	tests := []struct {
		name   string
		events []record.Event
		want   []record.Cookie // live cookies afterwards, sorted by ID
	}{
		{name: "create", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour)},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}},
		{name: "create update", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), alice)},
			want: []record.Cookie{{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: alice}}},
		{name: "update normalizes empty extra", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), bob)},
			want: []record.Cookie{{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: record.Auth{AuthID: "bob"}}}},
		{name: "update clears", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), alice), record.Update(dg("aaaaaa"), record.Auth{})},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}},
		{name: "update of missing is ignored", events: []record.Event{record.Update(dg("aaaaaa"), alice)}},
		{name: "create resets auth", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), alice), record.Create(dg("aaaaaa"), t0.Add(time.Minute), time.Hour)},
			want: []record.Cookie{cookie("aaaaaa", t0.Add(time.Minute), time.Hour)}},
		{name: "delete stays deleted", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), alice), record.Delete(dg("aaaaaa"), record.ReasonUnspecified), record.Update(dg("aaaaaa"), alice)}},
		{name: "delete of missing", events: []record.Event{record.Delete(dg("aaaaaa"), record.ReasonUnspecified)}},
		{name: "no clock check: expired create is stored but invisible", events: []record.Event{record.Create(dg("aaaaaa"), t0.Add(-2*time.Hour), time.Hour)}},
		{name: "unknown kind ignored", events: []record.Event{{Kind: 9, Digest: dg("aaaaaa")}, {Kind: record.KindBatch, Digest: dg("aaaaaa")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, twice := range []bool{false, true} {
				s := newStore(t, testkit.NewClock())
				for i := range tt.events {
					s.Apply(&tt.events[i])
					if twice {
						s.Apply(&tt.events[i])
					}
				}
				got := rangeAll(s)
				if len(got) != len(tt.want) {
					t.Fatalf("twice=%v: %d live cookies, want %d: %+v", twice, len(got), len(tt.want), got)
				}
				for i := range got {
					if !sameCookie(got[i], tt.want[i]) {
						t.Fatalf("twice=%v: got %+v, want %+v", twice, got[i], tt.want[i])
					}
				}
				checkIndex(t, s)
			}
		})
	}
}

// byID orders cookies by digest, for comparing sets of them.
func byID(a, b record.Cookie) int { return bytes.Compare(a.Digest[:], b.Digest[:]) }

// rangeAll returns the live cookies sorted by digest.
func rangeAll(s *Store) []record.Cookie {
	out := slices.Collect(s.All())
	slices.SortFunc(out, byID)
	return out
}

func TestAll(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 100 {
		maxAge := time.Hour
		if i%4 == 0 {
			maxAge = time.Minute
		}
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, maxAge)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
	if got := rangeAll(s); len(got) != 75 {
		t.Fatalf("Range saw %d live cookies, want 75", len(got))
	}
	n := 0
	for range s.All() {
		if n++; n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("All went on after the loop broke: %d cookies", n)
	}
	// The loop body may call the store: no lock is held.
	for c := range s.All() {
		if err := s.Delete(c.Digest, record.ReasonLogout); err != nil {
			t.Fatal(err)
		}
	}
	if got := rangeAll(s); len(got) != 0 {
		t.Fatalf("%d cookies left after deleting from All", len(got))
	}
}

func TestPurgeExpiredAndClockBackwards(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 10 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAuth(dg(fmt.Sprintf("id%04d", i)), alice); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at        time.Duration // clock, from t0
		wantPurge int
		wantLen   int
		wantLive  int
	}{
		{at: 0, wantPurge: 0, wantLen: 10, wantLive: 10},
		{at: 3 * time.Minute, wantPurge: 3, wantLen: 7, wantLive: 7},
		{at: 0, wantPurge: 0, wantLen: 7, wantLive: 7}, // backwards: purged ones stay purged
		{at: 10 * time.Minute, wantPurge: 7, wantLen: 0, wantLive: 0},
		{at: -time.Hour, wantPurge: 0, wantLen: 0, wantLive: 0},
	}
	for _, tt := range tests {
		clk.Set(t0.Add(tt.at))
		if n := s.PurgeExpired(); n != tt.wantPurge {
			t.Fatalf("at %v: PurgeExpired = %d, want %d", tt.at, n, tt.wantPurge)
		}
		if n := s.Len(); n != tt.wantLen {
			t.Fatalf("at %v: Len = %d, want %d", tt.at, n, tt.wantLen)
		}
		if got := len(rangeAll(s)); got != tt.wantLive {
			t.Fatalf("at %v: %d live, want %d", tt.at, got, tt.wantLive)
		}
		if got := len(s.DigestsByAuthID("alice")); got != tt.wantLive {
			t.Fatalf("at %v: alice has %d cookies, want %d", tt.at, got, tt.wantLive)
		}
		checkIndex(t, s)
	}
}

func TestExpiryAtTheLimits(t *testing.T) {
	tests := []struct {
		name    string
		e       entry
		now     int64
		expired bool
	}{
		{"before expiry", entry{created: 100, maxAge: 10}, 109, false},
		{"at expiry", entry{created: 100, maxAge: 10}, 110, true},
		{"lifetime past the end of time", entry{created: 1 << 62, maxAge: 1<<63 - 1}, 1<<63 - 1, false},
		{"negative lifetime before the beginning", entry{created: -1 << 62, maxAge: -1 << 63}, -1 << 63, true},
		{"zero lifetime", entry{created: 100, maxAge: 0}, 100, true},
		{"zero lifetime, clock behind", entry{created: 100, maxAge: 0}, 99, false},
	}
	for _, tt := range tests {
		if got := tt.e.expiredAt(tt.now); got != tt.expired {
			t.Errorf("%s: expiredAt = %v, want %v", tt.name, got, tt.expired)
		}
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

func TestDefaultClock(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if s.done == nil {
		t.Fatal("no janitor with the default interval")
	}
	if err := s.Create(cookie("aaaaaa", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(cookie("bbbbbb", time.Now().Add(-2*time.Hour), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(dg("aaaaaa")); !ok {
		t.Fatal("a fresh cookie is absent with the wall clock")
	}
	if _, ok := s.Get(dg("bbbbbb")); ok {
		t.Fatal("an expired cookie is present with the wall clock")
	}
}

func TestShardPadding(t *testing.T) {
	if size := reflect.TypeFor[shard]().Size(); size%128 != 0 {
		t.Fatalf("shard is %d bytes, not a multiple of 128", size)
	}
}

// TestApplyAllKeepsOrderPerID applies long runs of events on a few IDs, so
// that every shard group holds many events on one ID: ApplyAll must apply
// them in their order, as Apply does.
func TestApplyAllKeepsOrderPerID(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	auths := []record.Auth{{}, {AuthID: "alice"}, {AuthID: "bob", AuthRole: "admin"}}
	evs := make([]record.Event, 5000)
	for i := range evs {
		id := fmt.Sprintf("cookie%d", rng.IntN(12))
		switch rng.IntN(4) {
		case 0:
			evs[i] = record.Create(dg(id), t0.Add(time.Duration(i)*time.Second), time.Hour)
		case 1, 2:
			evs[i] = record.Update(dg(id), auths[rng.IntN(len(auths))])
		default:
			evs[i] = record.Delete(dg(id), record.ReasonUnspecified)
		}
	}
	clk := testkit.NewClock()
	clk.Add(time.Hour)
	one, all := newStore(t, clk), newStore(t, clk)
	for i := range evs {
		one.Apply(&evs[i])
	}
	all.ApplyAll(evs)
	checkIndex(t, all)
	a, b := rangeAll(one), rangeAll(all)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("Apply left %d cookies, ApplyAll %d", len(a), len(b))
	}
	for i := range a {
		if !sameCookie(a[i], b[i]) {
			t.Fatalf("Apply gave %+v, ApplyAll %+v", a[i], b[i])
		}
	}
	for _, authid := range []string{"alice", "bob"} {
		if x, y := one.DigestsByAuthID(authid), all.DigestsByAuthID(authid); !slices.Equal(x, y) {
			t.Fatalf("DigestsByAuthID(%s): Apply %v, ApplyAll %v", authid, x, y)
		}
	}
}

func TestGrow(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 500 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := s.SetAuth(dg(fmt.Sprintf("id%04d", i)), alice); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := rangeAll(s)
	for _, n := range []int{-1, 0, 10, 100_000, 10} {
		s.Grow(n)
		if got := rangeAll(s); len(got) != len(before) || s.Len() != 500 {
			t.Fatalf("Grow(%d) changed the index: %d live, Len %d", n, len(got), s.Len())
		}
		checkIndex(t, s)
	}
	if got := len(s.DigestsByAuthID("alice")); got != 167 {
		t.Fatalf("alice has %d cookies after Grow, want 167", got)
	}
	for i := 500; i < 2000; i++ {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 2000 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestExpiredDigests(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 6 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at   time.Duration
		want []record.Digest
	}{
		{0, nil},
		{2 * time.Minute, dgs("id0000", "id0001")},
		{time.Minute, dgs("id0000")}, // the clock went back: listed, not removed
		{time.Hour, dgs("id0000", "id0001", "id0002", "id0003", "id0004", "id0005")},
	}
	for _, tt := range tests {
		clk.Set(t0.Add(tt.at))
		got := s.ExpiredDigests()
		sortDigests(got)
		if !slices.Equal(got, tt.want) {
			t.Fatalf("at %v: ExpiredDigests = %v, want %v", tt.at, got, tt.want)
		}
		if s.Len() != 6 {
			t.Fatalf("ExpiredDigests removed entries: Len = %d", s.Len())
		}
	}
}

func TestRotate(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for _, id := range []string{"old", "other", "taken"} {
		if err := s.Create(cookie(id, t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	next := record.Cookie{Digest: dg("new"), Created: t0, MaxAge: 2 * time.Hour, Auth: alice}
	for _, tt := range []struct {
		name string
		old  record.Digest
		next record.Cookie
		want error
	}{
		{"old unknown", dg("nobody"), next, ErrNotFound},
		{"next taken", dg("old"), record.Cookie{Digest: dg("taken"), Created: t0, MaxAge: time.Hour}, ErrExists},
		{"next is old", dg("old"), record.Cookie{Digest: dg("old"), Created: t0, MaxAge: time.Hour}, ErrExists},
		{"next invalid", dg("old"), record.Cookie{Digest: dg("new"), Created: t0}, errAny},
	} {
		err := s.Rotate(tt.old, tt.next)
		if (tt.want == errAny && err == nil) || (tt.want != errAny && !errors.Is(err, tt.want)) {
			t.Fatalf("%s: Rotate = %v, want %v", tt.name, err, tt.want)
		}
		if _, ok := s.Get(dg("old")); !ok || s.Len() != 3 {
			t.Fatalf("%s: a failed Rotate changed the store", tt.name)
		}
	}
	if err := s.Rotate(dg("old"), next); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(dg("old")); ok {
		t.Fatal("the old cookie survived its rotation")
	}
	if got, ok := s.Get(dg("new")); !ok || !sameCookie(got, next) {
		t.Fatalf("the new cookie = %+v, %v; want %+v", got, ok, next)
	}
	if got := s.DigestsByAuthID("alice"); !slices.Equal(got, dgs("new")) {
		t.Fatalf("alice's cookies = %v", got)
	}
	if err := s.Rotate(dg("old"), record.Cookie{Digest: dg("newer"), Created: t0, MaxAge: time.Hour}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second rotation of the same cookie = %v, want ErrNotFound", err)
	}
	// Rotations between cookies of one shard and of two, many times over,
	// keep the index consistent.
	prev := dg("new")
	for i := range 500 {
		d := dg(fmt.Sprint("rot", i))
		if err := s.Rotate(prev, record.Cookie{Digest: d, Created: t0, MaxAge: time.Hour, Auth: alice}); err != nil {
			t.Fatal(err)
		}
		prev = d
	}
	checkIndex(t, s)
	if s.Len() != 3 || !slices.Equal(s.DigestsByAuthID("alice"), []record.Digest{prev}) {
		t.Fatalf("after 500 rotations: Len %d, alice %v", s.Len(), s.DigestsByAuthID("alice"))
	}
	// An expired cookie cannot be rotated.
	clk.Add(time.Hour)
	if err := s.Rotate(dg("other"), record.Cookie{Digest: dg("late"), Created: clk.Now(), MaxAge: time.Hour}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotating an expired cookie = %v", err)
	}
}
