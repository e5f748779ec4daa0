package memstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
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

func cookie(id string, created time.Time, maxAge time.Duration) record.Cookie {
	return record.Cookie{ID: id, Created: created, MaxAge: maxAge}
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
			id, e := sh.ids.idAt(pos), sh.ids.entryAt(pos)
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
				if e, _, ok := sh.ids.lookup(s.hash(id), id); !ok || e.authID() != a {
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
		{name: "empty ID", c: cookie("", t0, time.Hour), wantErr: errAny},
		{name: "zero created", c: cookie("aaaaaa", time.Time{}, time.Hour), wantErr: errAny},
		{name: "created beyond int64 nanoseconds", c: cookie("aaaaaa", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour), wantErr: errAny},
		{name: "zero max age", c: cookie("aaaaaa", t0, 0), wantErr: errAny},
		{name: "negative max age", c: cookie("aaaaaa", t0, -time.Second), wantErr: errAny},
		{name: "auth on create", c: record.Cookie{ID: "aaaaaa", Created: t0, MaxAge: time.Hour, Auth: alice}, wantErr: errAny},
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
				if _, ok := s.Get(tt.c.ID); ok && len(tt.seed) == 0 {
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
			got, ok := s.Get(want.ID)
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
	if err := s.SetAuth("aaaaaa", alice); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	if err := s.Create(cookie("aaaaaa", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get("aaaaaa")
	if !ok || !got.Auth.IsZero() {
		t.Fatalf("Get = %+v, %v; want the new cookie without auth", got, ok)
	}
	if ids := s.IDsByAuthID("alice"); len(ids) != 0 {
		t.Fatalf("IDsByAuthID = %v, want none", ids)
	}
	checkIndex(t, s)
}

func TestGetMissing(t *testing.T) {
	s := newStore(t, testkit.NewClock())
	if c, ok := s.Get("nosuch"); ok || !reflect.DeepEqual(c, record.Cookie{}) {
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
			if err := s.SetAuth("aaaaaa", record.Auth{AuthID: "previous"}); err != nil {
				t.Fatal(err)
			}
			clk.Add(tt.advance)
			err := s.SetAuth(tt.id, tt.auth)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("SetAuth = %v, want %v", err, tt.wantErr)
			}
			checkIndex(t, s)
			if tt.wantErr != nil {
				if _, ok := s.Get(tt.id); ok {
					t.Fatal("a failed SetAuth made the cookie visible")
				}
				return
			}
			got, _ := s.Get(tt.id)
			if !reflect.DeepEqual(got.Auth, tt.want) {
				t.Fatalf("Auth = %+v, want %+v", got.Auth, tt.want)
			}
			if ids := s.IDsByAuthID("previous"); len(ids) != 0 {
				t.Fatalf("the previous authid still lists %v", ids)
			}
			wantIDs := []string(nil)
			if tt.want.AuthID != "" {
				wantIDs = []string{"aaaaaa"}
			}
			if ids := s.IDsByAuthID(tt.want.AuthID); !slices.Equal(ids, wantIDs) {
				t.Fatalf("IDsByAuthID(%q) = %v, want %v", tt.want.AuthID, ids, wantIDs)
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
	if err := s.SetAuth("aaaaaa", a); err != nil {
		t.Fatal(err)
	}
	a.AuthID = "mallory" // the caller's copy is not the index's
	got, _ := s.Get("aaaaaa")
	got.Auth.AuthRole = "admin"
	got.MaxAge = 100 * time.Hour
	again, _ := s.Get("aaaaaa")
	if again.Auth.AuthID != "alice" || again.Auth.AuthRole != "user" || again.MaxAge != time.Hour {
		t.Fatalf("the index was changed through a returned cookie: %+v", again)
	}
	if ids := s.IDsByAuthID("mallory"); len(ids) != 0 {
		t.Fatalf("IDsByAuthID(mallory) = %v", ids)
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
			if err := s.SetAuth("aaaaaa", alice); err != nil {
				t.Fatal(err)
			}
			clk.Add(tt.advance)
			err := s.Delete(tt.id)
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
			if _, ok := s.Get("aaaaaa"); ok == (wantLen == 0) {
				t.Fatalf("Get after Delete: present = %v", ok)
			}
			if err := s.Delete("aaaaaa"); wantLen == 0 && !errors.Is(err, ErrNotFound) {
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
	var wantAlice []string
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
			if err := s.SetAuth(id, alice); err != nil {
				t.Fatal(err)
			}
			if maxAge == time.Hour {
				wantAlice = append(wantAlice, id)
			}
		case i%3 == 0:
			if err := s.SetAuth(id, record.Auth{AuthID: "bob"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Add(time.Minute)
	if got := s.IDsByAuthID("alice"); !slices.Equal(got, wantAlice) {
		t.Fatalf("IDsByAuthID(alice) = %d IDs, want %d", len(got), len(wantAlice))
	}
	bob := s.IDsByAuthID("bob")
	tests := []struct {
		authid  string
		want    []string
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
		if ids := s.IDsByAuthID(tt.authid); tt.authid != "" && len(ids) != 0 {
			t.Fatalf("IDsByAuthID(%q) after delete = %v", tt.authid, ids)
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
		{name: "create", events: []record.Event{record.Create("aaaaaa", t0, time.Hour)},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}},
		{name: "create update", events: []record.Event{record.Create("aaaaaa", t0, time.Hour), record.Update("aaaaaa", alice)},
			want: []record.Cookie{{ID: "aaaaaa", Created: t0, MaxAge: time.Hour, Auth: alice}}},
		{name: "update normalizes empty extra", events: []record.Event{record.Create("aaaaaa", t0, time.Hour), record.Update("aaaaaa", bob)},
			want: []record.Cookie{{ID: "aaaaaa", Created: t0, MaxAge: time.Hour, Auth: record.Auth{AuthID: "bob"}}}},
		{name: "update clears", events: []record.Event{record.Create("aaaaaa", t0, time.Hour), record.Update("aaaaaa", alice), record.Update("aaaaaa", record.Auth{})},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}},
		{name: "update of missing is ignored", events: []record.Event{record.Update("aaaaaa", alice)}},
		{name: "create resets auth", events: []record.Event{record.Create("aaaaaa", t0, time.Hour), record.Update("aaaaaa", alice), record.Create("aaaaaa", t0.Add(time.Minute), time.Hour)},
			want: []record.Cookie{cookie("aaaaaa", t0.Add(time.Minute), time.Hour)}},
		{name: "delete stays deleted", events: []record.Event{record.Create("aaaaaa", t0, time.Hour), record.Update("aaaaaa", alice), record.Delete("aaaaaa"), record.Update("aaaaaa", alice)}},
		{name: "delete of missing", events: []record.Event{record.Delete("aaaaaa")}},
		{name: "no clock check: expired create is stored but invisible", events: []record.Event{record.Create("aaaaaa", t0.Add(-2*time.Hour), time.Hour)}},
		{name: "unknown kind ignored", events: []record.Event{{Kind: 9, ID: "aaaaaa"}, {Kind: record.KindBatch, ID: "aaaaaa"}}},
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

// byID orders cookies by ID, for comparing sets of them.
func byID(a, b record.Cookie) int { return strings.Compare(a.ID, b.ID) }

// rangeAll returns the live cookies sorted by ID.
func rangeAll(s *Store) []record.Cookie {
	var out []record.Cookie
	s.Range(func(c record.Cookie) bool { out = append(out, c); return true })
	slices.SortFunc(out, byID)
	return out
}

func TestRange(t *testing.T) {
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
	s.Range(func(record.Cookie) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range went on after fn returned false: %d calls", n)
	}
	// fn may call the store: no lock is held.
	s.Range(func(c record.Cookie) bool { return s.Delete(c.ID) == nil })
	if got := rangeAll(s); len(got) != 0 {
		t.Fatalf("%d cookies left after deleting from Range", len(got))
	}
}

func TestPurgeExpiredAndClockBackwards(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 10 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAuth(fmt.Sprintf("id%04d", i), alice); err != nil {
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
		if got := len(s.IDsByAuthID("alice")); got != tt.wantLive {
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
	if _, ok := s.Get("aaaaaa"); !ok {
		t.Fatal("a fresh cookie is absent with the wall clock")
	}
	if _, ok := s.Get("bbbbbb"); ok {
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
			evs[i] = record.Create(id, t0.Add(time.Duration(i)*time.Second), time.Hour)
		case 1, 2:
			evs[i] = record.Update(id, auths[rng.IntN(len(auths))])
		default:
			evs[i] = record.Delete(id)
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
		if x, y := one.IDsByAuthID(authid), all.IDsByAuthID(authid); !slices.Equal(x, y) {
			t.Fatalf("IDsByAuthID(%s): Apply %v, ApplyAll %v", authid, x, y)
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
			if err := s.SetAuth(fmt.Sprintf("id%04d", i), alice); err != nil {
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
	if got := len(s.IDsByAuthID("alice")); got != 167 {
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

func TestExpiredIDs(t *testing.T) {
	clk := testkit.NewClock()
	s := newStore(t, clk)
	for i := range 6 {
		if err := s.Create(cookie(fmt.Sprintf("id%04d", i), t0, time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at   time.Duration
		want []string
	}{
		{0, nil},
		{2 * time.Minute, []string{"id0000", "id0001"}},
		{time.Minute, []string{"id0000"}}, // the clock went back: listed, not removed
		{time.Hour, []string{"id0000", "id0001", "id0002", "id0003", "id0004", "id0005"}},
	}
	for _, tt := range tests {
		clk.Set(t0.Add(tt.at))
		got := s.ExpiredIDs()
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Fatalf("at %v: ExpiredIDs = %v, want %v", tt.at, got, tt.want)
		}
		if s.Len() != 6 {
			t.Fatalf("ExpiredIDs removed entries: Len = %d", s.Len())
		}
	}
}
