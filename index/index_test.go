package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// t0 is where every test clock starts.
var t0 = testkit.Start()

func newIndex(t testing.TB, c *testkit.Clock) *Index {
	t.Helper()
	return New(Options{Clock: c.Now})
}

// dg is the digest of a test cookie named id.
func dg(id string) record.Digest { return record.DigestOf(id) }

// dgs returns the digests of ids, sorted as the Index sorts them.
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

// checkIndex verifies every invariant of the index's shards and dicts:
// the table's probe sequences, the auth records' back references and
// free list, the lists by authid, the tuples' counts, the extras arena's
// dead bytes, and the dicts' reference counts.
func checkIndex(t testing.TB, x *Index) {
	t.Helper()
	nameRefs := map[uint32]uint32{}
	tupleRefs := map[uint32]uint32{}
	members := map[uint32][]memberOf{}
	for k := range x.shards {
		sh := &x.shards[k].shard
		sh.mu.RLock()
		checkShard(t, k, sh, nameRefs, tupleRefs, members)
		sh.mu.RUnlock()
	}
	checkDict(t, "names", &x.names, nameRefs, members)
	checkDict(t, "tuples", &x.tuples, tupleRefs, nil)
}

// memberOf is where an auth record says its member of an authid is.
type memberOf struct{ at, member uint32 }

func checkShard(t testing.TB, k int, sh *shard, nameRefs, tupleRefs map[uint32]uint32, members map[uint32][]memberOf) {
	t.Helper()
	n := len(sh.tags)
	live, odd := 0, 0
	usedRecs := map[uint32]bool{}
	for pos, tag := range sh.tags {
		if tag == 0 {
			continue
		}
		live++
		s := &sh.slots[pos]
		if h := hash(s.digest); tagOf(h) != tag || ShardOf(s.digest) != k {
			t.Fatalf("shard %d pos %d: tag %x or shard of %s wrong", k, pos, tag, s.digest)
		}
		for i := home(tag, n); i != pos; i = sh.next(i) {
			if sh.tags[i] == 0 {
				t.Fatalf("shard %d: empty position %d between the home and position %d of %s", k, i, pos, s.digest)
			}
		}
		if s.life == lifeOdd {
			odd++
			if _, ok := sh.odd[s.digest]; !ok {
				t.Fatalf("shard %d: odd lifetime of %s missing", k, s.digest)
			}
		}
		if s.auth != 0 {
			rec := sh.auths[s.auth-1]
			if rec.pos != uint32(pos) || usedRecs[s.auth-1] {
				t.Fatalf("shard %d: record %d of position %d says position %d (shared %v)", k, s.auth-1, pos, rec.pos, usedRecs[s.auth-1])
			}
			if rec.name == 0 && rec.tuple == 0 && rec.extra == 0 {
				t.Fatalf("shard %d: empty auth record %d in use", k, s.auth-1)
			}
			usedRecs[s.auth-1] = true
		}
	}
	if live != sh.live || odd != len(sh.odd) {
		t.Fatalf("shard %d: %d entries and %d odd lifetimes, counted %d and %d", k, live, odd, sh.live, len(sh.odd))
	}
	if n > 0 && live > capacity(n) {
		t.Fatalf("shard %d: %d entries in %d positions", k, live, n)
	}
	free := map[uint32]bool{}
	for r := sh.freeAuth; r != 0; r = sh.auths[r-1].pos {
		if free[r-1] || usedRecs[r-1] || len(free) > len(sh.auths) {
			t.Fatalf("shard %d: free list broken at record %d", k, r-1)
		}
		free[r-1] = true
		if rec := sh.auths[r-1]; rec.name != 0 || rec.member != 0 || rec.tuple != 0 || rec.extra != 0 {
			t.Fatalf("shard %d: free record %d holds %+v", k, r-1, rec)
		}
	}
	if len(free)+len(usedRecs) != len(sh.auths) {
		t.Fatalf("shard %d: %d records, %d used and %d free", k, len(sh.auths), len(usedRecs), len(free))
	}
	tupleUses := map[uint32]uint32{}
	extraBytes := 0
	for i := range sh.auths {
		i := uint32(i)
		if !usedRecs[i] {
			continue
		}
		rec := sh.auths[i]
		if rec.name != 0 {
			nameRefs[rec.name]++
			members[rec.name] = append(members[rec.name], memberOf{at: uint32(k)<<recBits | i, member: rec.member})
		} else if rec.member != 0 {
			t.Fatalf("shard %d: record %d without an authid has member %d", k, i, rec.member)
		}
		if rec.tuple != 0 {
			tupleUses[rec.tuple-1]++
		}
		if rec.extra != 0 {
			b := sh.extra(rec.extra - 1)
			if _, err := record.DecodeExtra(b); err != nil || len(b) == 0 {
				t.Fatalf("shard %d: record %d's extra %x: %v", k, i, b, err)
			}
			extraBytes += len(binary.AppendUvarint(nil, uint64(len(b)))) + len(b)
		}
	}
	for i, tp := range sh.tuples {
		if tp.uses != tupleUses[uint32(i)] {
			t.Fatalf("shard %d: tuple %d counts %d uses, has %d", k, i, tp.uses, tupleUses[uint32(i)])
		}
		if tp.uses > 0 {
			tupleRefs[tp.ref]++
			if sh.tupleIDs[tp.key] != uint32(i)+1 {
				t.Fatalf("shard %d: tuple %d not under its key", k, i)
			}
			if r, m, l := splitTuple(tp.key); r != tp.role || m != tp.method || l != tp.realm {
				t.Fatalf("shard %d: tuple %d parts differ from its key", k, i)
			}
		}
	}
	if len(sh.extras)-sh.extraDead != extraBytes {
		t.Fatalf("shard %d: extras arena of %d bytes, %d dead, but %d live", k, len(sh.extras), sh.extraDead, extraBytes)
	}
}

// checkDict checks the reference counts of the entries of d, their
// strings, and their lists of members against what the auth records say.
func checkDict(t testing.TB, what string, d *dict, refs map[uint32]uint32, members map[uint32][]memberOf) {
	t.Helper()
	seen := 0
	for k := range d.shards {
		sh := &d.shards[k]
		sh.mu.Lock()
		live, used, listed := 0, 0, 0
		for i, e := range sh.ents {
			r := ref(k, i)
			if e.refs != refs[r] {
				t.Fatalf("%s: entry %q counts %d references, has %d", what, e.s, e.refs, refs[r])
			}
			var got []memberOf
			prev := uint32(0)
			for m := e.head; m != 0; m = sh.members[m-1].next {
				mb := sh.members[m-1]
				if mb.prev != prev || len(got) > len(sh.members) {
					t.Fatalf("%s: list of %q broken at member %d", what, e.s, m-1)
				}
				got = append(got, memberOf{at: mb.at, member: m})
				prev = m
			}
			listed += len(got)
			want := members[r]
			sort := func(ms []memberOf) { slices.SortFunc(ms, func(a, b memberOf) int { return int(a.at) - int(b.at) }) }
			sort(got)
			sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %q has members %v, its records say %v", what, e.s, got, want)
			}
			if e.refs == 0 {
				continue
			}
			used++
			seen++
			live += len(e.s)
			sk, tag := d.hash(bytesOf(e.s))
			if _, f := sh.find(tag, bytesOf(e.s)); f != uint32(i)+1 || sk != k || tag != e.tag {
				t.Fatalf("%s: entry %q not under its string", what, e.s)
			}
		}
		filed := 0
		for _, f := range sh.tab {
			if f != 0 {
				filed++
			}
		}
		if live != sh.live || used != filed {
			t.Fatalf("%s shard %d: %d live bytes in %d entries, counted %d in %d", what, k, live, used, sh.live, filed)
		}
		free := 0
		for m := sh.freeMember; m != 0; m = sh.members[m-1].next {
			if free++; free > len(sh.members) {
				t.Fatalf("%s shard %d: free members loop", what, k)
			}
		}
		if listed+free != len(sh.members) {
			t.Fatalf("%s shard %d: %d members, %d listed and %d free", what, k, len(sh.members), listed, free)
		}
		sh.mu.Unlock()
	}
	if seen != len(refs) {
		t.Fatalf("%s: %d entries in use, %d referenced", what, seen, len(refs))
	}
}

// apply applies decoded events through ApplyEvent.
func apply(t testing.TB, x *Index, evs ...record.Event) {
	t.Helper()
	for i := range evs {
		if err := x.ApplyEvent(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// viewsOf returns the events as a replay parses them from their payloads.
func viewsOf(t testing.TB, evs []record.Event) []record.View {
	t.Helper()
	views := make([]record.View, len(evs))
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := record.Parse(p, record.V2, &views[i]); err != nil {
			t.Fatal(err)
		}
	}
	return views
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
			s := newIndex(t, clk)
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

// createLoggedIn creates c in x and logs a in on it, as a handshake and
// then a login do.
func createLoggedIn(t testing.TB, x *Index, c record.Cookie, a record.Auth) {
	t.Helper()
	if err := x.Create(c); err != nil {
		t.Fatal(err)
	}
	if err := x.SetAuth(c.Digest, a); err != nil {
		t.Fatal(err)
	}
}

// errAny marks test cases that expect some error other than the sentinels.
var errAny = errors.New("any error")

func TestCreateReplacingExpiredDropsAuth(t *testing.T) {
	clk := testkit.NewClock()
	s := newIndex(t, clk)
	createLoggedIn(t, s, cookie("aaaaaa", t0, time.Hour), alice)
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
	s := newIndex(t, testkit.NewClock())
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
			s := newIndex(t, clk)
			createLoggedIn(t, s, cookie("aaaaaa", t0, time.Hour), record.Auth{AuthID: "previous"})
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
	s := newIndex(t, testkit.NewClock())
	a := alice
	createLoggedIn(t, s, cookie("aaaaaa", t0, time.Hour), a)
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
			s := newIndex(t, clk)
			createLoggedIn(t, s, cookie("aaaaaa", t0, time.Hour), alice)
			clk.Add(tt.advance)
			err := s.Delete(dg(tt.id))
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
			if err := s.Delete(dg("aaaaaa")); wantLen == 0 && !errors.Is(err, ErrNotFound) {
				t.Fatalf("second Delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDeleteByAuthID(t *testing.T) {
	clk := testkit.NewClock()
	s := newIndex(t, clk)
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
		got := s.DeleteByAuthID(tt.authid)
		if !slices.Equal(got, tt.want) {
			t.Fatalf("DeleteByAuthID(%q) = %d IDs; want %d", tt.authid, len(got), len(tt.want))
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
		{name: "cookie with auth", events: []record.Event{record.State(record.Cookie{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: alice})},
			want: []record.Cookie{{Digest: dg("aaaaaa"), Created: t0, MaxAge: time.Hour, Auth: alice}}},
		{name: "cookie replaces auth and lifetime", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour), record.Update(dg("aaaaaa"), alice),
			record.State(record.Cookie{Digest: dg("aaaaaa"), Created: t0, MaxAge: 90 * time.Minute, Auth: record.Auth{AuthID: "bob"}})},
			want: []record.Cookie{{Digest: dg("aaaaaa"), Created: t0, MaxAge: 90 * time.Minute, Auth: record.Auth{AuthID: "bob"}}}},
		{name: "odd lifetime", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour+time.Nanosecond)},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour+time.Nanosecond)}},
		{name: "odd lifetime replaced by a round one", events: []record.Event{record.Create(dg("aaaaaa"), t0, time.Hour+time.Millisecond), record.Create(dg("aaaaaa"), t0, time.Hour)},
			want: []record.Cookie{cookie("aaaaaa", t0, time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, twice := range []bool{false, true} {
				s := newIndex(t, testkit.NewClock())
				for i := range tt.events {
					apply(t, s, tt.events[i])
					if twice {
						apply(t, s, tt.events[i])
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
func rangeAll(s *Index) []record.Cookie {
	out := slices.Collect(s.All())
	slices.SortFunc(out, byID)
	return out
}

func TestAll(t *testing.T) {
	clk := testkit.NewClock()
	s := newIndex(t, clk)
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
		if err := s.Delete(c.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if got := rangeAll(s); len(got) != 0 {
		t.Fatalf("%d cookies left after deleting from All", len(got))
	}
}

func TestPurgeExpiredAndClockBackwards(t *testing.T) {
	clk := testkit.NewClock()
	s := newIndex(t, clk)
	for i := range 10 {
		createLoggedIn(t, s, cookie(fmt.Sprintf("id%04d", i), t0, time.Duration(i+1)*time.Minute), alice)
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
		name                 string
		created, maxAge, now int64
		expired              bool
	}{
		{"before expiry", 100, 10, 109, false},
		{"at expiry", 100, 10, 110, true},
		{"lifetime past the end of time", 1 << 62, 1<<63 - 1, 1<<63 - 1, false},
		{"negative lifetime before the beginning", -1 << 62, -1 << 63, -1 << 63, true},
		{"zero lifetime", 100, 0, 100, true},
		{"zero lifetime, clock behind", 100, 0, 99, false},
	}
	for _, tt := range tests {
		if got := expired(tt.created, tt.maxAge, tt.now); got != tt.expired {
			t.Errorf("%s: expired = %v, want %v", tt.name, got, tt.expired)
		}
	}
	// Lifetimes that no slot holds in seconds are kept whole.
	s := New(Options{Clock: testkit.NewClock().Now})
	for i, maxAge := range []time.Duration{1<<63 - 1, -time.Hour, time.Nanosecond, time.Duration(lifeOdd) * time.Second, time.Duration(lifeOdd-1) * time.Second} {
		d := dg(fmt.Sprint("limit", i))
		apply(t, s, record.Create(d, t0.Add(-time.Minute), maxAge))
		sh, tag := s.shard(d)
		sh.mu.RLock()
		pos, _ := sh.find(tag, d)
		got := sh.lifetime(&sh.slots[pos])
		sh.mu.RUnlock()
		if got != int64(maxAge) {
			t.Errorf("lifetime %d stored as %d", maxAge, got)
		}
	}
	checkIndex(t, s)
}

func TestDefaultClock(t *testing.T) {
	s := New(Options{})
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

func TestDictEntrySize(t *testing.T) {
	if size := unsafe.Sizeof(dictEntry{}); size != 64 {
		t.Fatalf("a dict entry is %d bytes, not a cache line", size)
	}
}

func TestShardPadding(t *testing.T) {
	if size := reflect.TypeFor[paddedShard]().Size(); size%128 != 0 {
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
	one, all := newIndex(t, clk), newIndex(t, clk)
	apply(t, one, evs...)
	all.ApplyAll(viewsOf(t, evs))
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

func TestReserve(t *testing.T) {
	clk := testkit.NewClock()
	s := newIndex(t, clk)
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
		s.Reserve(Size{Cookies: n, Logins: n / 2, ExtraBytes: 20 * n})
		if got := rangeAll(s); len(got) != len(before) || s.Len() != 500 {
			t.Fatalf("Reserve(%d) changed the index: %d live, Len %d", n, len(got), s.Len())
		}
		checkIndex(t, s)
	}
	if got := len(s.DigestsByAuthID("alice")); got != 167 {
		t.Fatalf("alice has %d cookies after Reserve, want 167", got)
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
	s := newIndex(t, clk)
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
	s := newIndex(t, clk)
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

func sortDigests(ds []record.Digest) {
	slices.SortFunc(ds, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
}
