package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cookiestore/index"
	"cookiestore/internal/testkit"
	"cookiestore/record"
	"cookiestore/replay"
)

// indexIDs are the cookies most operations of the index fuzzer work on:
// few, so that operations meet on the same cookies.
var indexIDs = func() []record.Digest {
	var ids []record.Digest
	for i := range 24 {
		ids = append(ids, record.DigestOf(strings.Repeat(string(rune('a'+i)), 6+i*3)))
	}
	return ids
}()

// crowdIDs are the cookies of "crowd", a principal logged in on thousands
// of browsers: each crowd operation logs it in on the next crowdBatch.
const crowdBatch = 256

// maxCrowd bounds the crowd's logins per input: thousands, but few enough
// that an input stays fast.
const maxCrowd = 8 * crowdBatch

var crowdIDs = func() []record.Digest {
	ids := make([]record.Digest, maxCrowd)
	for i := range ids {
		ids[i] = record.DigestOf(fmt.Sprintf("crowd%08d", i))
	}
	return ids
}()

// fuzzNames are the principals of the index fuzzer: a name that does not
// fit in a dict's map key among them, and none.
var fuzzNames = []string{"alice", "bob", "crowd", "", "a-principal-whose-name-is-longer-than-the-36-bytes-a-dict-entry-holds"}

// fuzzAuth returns the auth tuple that arg selects: the zero tuple, or one
// of several principals (one without an authid), roles and authextras,
// so that tuples and authextras are set, replaced, shared and cleared.
func fuzzAuth(arg byte) record.Auth {
	if arg&0x40 == 0 {
		return record.Auth{}
	}
	a := record.Auth{
		AuthID:     fuzzNames[int(arg>>7|(arg&1)<<1)+int(arg>>2&1)*int(arg>>7)],
		AuthRole:   []string{"user", "admin", ""}[int(arg>>1)%3],
		AuthMethod: "ticket",
		AuthRealm:  []string{"realm1", "realm2"}[arg>>3&1],
	}
	switch arg >> 4 & 3 {
	case 1:
		a.AuthExtra = map[string]any{"tenant": "t7"}
	case 2:
		a.AuthExtra = map[string]any{"n": int64(arg), "list": []any{"x", int64(-1)}, "blob": strings.Repeat("b", int(arg))}
	case 3:
		a.AuthExtra = map[string]any{} // stored as none
	}
	return a
}

// FuzzIndex runs an operation sequence that the input spells out, two bytes
// per operation, on an index.Index and on a plain map, and compares them.
// Properties:
//   - every call returns what the map says it must: ErrExists, ErrNotFound,
//     the revoked and purged cookies, Rotate's outcome;
//   - Get (the whole cookie, auth tuple and authextra included), Len, All
//     and DigestsByAuthID agree with the map, on the operation's cookie
//     after each operation and on every cookie now and then;
//   - the events of the successful calls, encoded as a journal holds them,
//     some in batches, and replayed through Apply, and through ApplyShard
//     on two goroutines (as replay does), give the same live cookies.
//
// Operations: create, set or clear the auth (several principals, tuples
// and authextras), delete, revoke a principal, purge, let time pass, rotate
// to a new cookie with a login, create a cookie with its login, and, for
// one argument in eight of that operation, log "crowd" in on the next 256
// of 2048 cookies, so that a principal gets thousands of cookies. The index's
// table, its growth, the removal that moves entries back, the auth records'
// free list and lists by authid, the reclaiming of its arenas and the
// counting of its interned strings all run under this.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 2, 1, 0, 2, 0, 0, 0})
	f.Add([]byte{0, 5, 0, 6, 1, 0x45, 1, 0x56, 3, 1, 2, 5, 4, 0, 0, 5, 6, 5})
	// Fill, empty and fill again, so that removals move entries back.
	fill := []byte{}
	for i := range byte(24) {
		fill = append(fill, 0, i, 1, 0x40|i*11)
	}
	for i := range byte(24) {
		fill = append(fill, 2, i)
	}
	f.Add(slices.Concat(fill, fill, fill))
	// A crowd of thousands, some revoked, some expiring.
	f.Add([]byte{7, 0, 7, 8, 5, 1, 7, 16, 7, 24, 1, 0xc1, 3, 0, 7, 32, 5, 3, 4, 0, 7, 40, 3, 2, 7, 48, 7, 56, 3, 2})
	f.Fuzz(runIndexOps)
}

// runIndexOps is FuzzIndex's property check of one input.
func runIndexOps(t *testing.T, ops []byte) {
	if len(ops) > 4000 {
		return // long inputs add nothing but time
	}
	clk := testkit.NewClock()
	now := clk.Now()
	x := index.New(index.Options{Clock: clk.Now})
	m := map[record.Digest]record.Cookie{}
	var events []record.Event
	crowd := 0 // next crowd cookie
	live := func(id record.Digest) (record.Cookie, bool) {
		c, ok := m[id]
		if !ok || c.ExpiredAt(now) {
			return record.Cookie{}, false
		}
		return c, true
	}
	checkOne := func(i int, id record.Digest) {
		got, gotOK := x.Get(id)
		want, wantOK := live(id)
		if gotOK != wantOK || (gotOK && !sameCookie(got, want)) {
			t.Fatalf("op %d: Get(%s) = %+v, %v; want %+v, %v", i, id, got, gotOK, want, wantOK)
		}
		if x.Live(id) != wantOK {
			t.Fatalf("op %d: Live(%s) = %v, want %v", i, id, !wantOK, wantOK)
		}
	}
	// create creates c in the index and the map, and records ev as the
	// journal would, unless a live cookie has c's digest: then Create must
	// fail with ErrExists. It reports whether c was created.
	create := func(i int, c record.Cookie, ev record.Event) bool {
		err := x.Create(c)
		if _, ok := live(c.Digest); ok {
			if !errors.Is(err, index.ErrExists) {
				t.Fatalf("op %d: Create over the live cookie %s = %v", i, c.Digest, err)
			}
			return false
		}
		if err != nil {
			t.Fatalf("op %d: Create = %v", i, err)
		}
		m[c.Digest] = c
		events = append(events, ev)
		return true
	}
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i]%8, ops[i+1]
		id := indexIDs[int(arg)%len(indexIDs)]
		switch op {
		case 0: // create
			c := record.Cookie{Digest: id, Created: now, MaxAge: time.Duration(arg%5+1) * time.Second}
			if !create(i, c, record.Create(id, c.Created, c.MaxAge)) {
				continue
			}
		case 1: // log in, switch, or log out
			a := fuzzAuth(arg)
			err := x.SetAuth(id, a)
			c, ok := live(id)
			if !ok {
				if !errors.Is(err, index.ErrNotFound) {
					t.Fatalf("op %d: SetAuth on a missing cookie = %v", i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("op %d: SetAuth = %v", i, err)
			}
			c.Auth = a
			m[id] = c
			events = append(events, record.Update(id, a))
		case 2: // delete
			err := x.Delete(id)
			_, wasLive := live(id)
			_, present := m[id]
			switch {
			case wasLive && err != nil:
				t.Fatalf("op %d: Delete = %v", i, err)
			case !wasLive && !errors.Is(err, index.ErrNotFound):
				t.Fatalf("op %d: Delete of a missing cookie = %v", i, err)
			}
			if present {
				delete(m, id)
				events = append(events, record.Delete(id, record.ReasonLogout))
			}
		case 3: // revoke a principal
			authid := []string{"alice", "bob", "crowd", "nobody", fuzzNames[4]}[int(arg&3)+int(arg>>2&1)*int(arg&3)/3]
			got := x.DeleteByAuthID(authid)
			var want []record.Digest
			for mid, c := range m {
				if c.Auth.AuthID == authid {
					if !c.ExpiredAt(now) {
						want = append(want, mid)
					}
					delete(m, mid)
					events = append(events, record.Delete(mid, record.ReasonRevoke))
				}
			}
			sortDigests(want)
			if !slices.Equal(got, want) {
				t.Fatalf("op %d: DeleteByAuthID(%q) = %d cookies, want %d", i, authid, len(got), len(want))
			}
		case 4: // purge
			want := 0
			for mid, c := range m {
				if c.ExpiredAt(now) {
					delete(m, mid)
					events = append(events, record.Delete(mid, record.ReasonExpired))
					want++
				}
			}
			if got := x.PurgeExpired(); got != want {
				t.Fatalf("op %d: PurgeExpired = %d, want %d", i, got, want)
			}
		case 5: // time passes
			clk.Add(time.Duration(arg%4) * time.Second)
			now = clk.Now()
		case 6: // rotate to a new cookie that carries a login
			next := record.Cookie{Digest: indexIDs[int(arg/24)%len(indexIDs)], Created: now, MaxAge: 3 * time.Second, Auth: fuzzAuth(arg | 0x40)}
			err := x.Rotate(id, next)
			_, oldLive := live(id)
			_, nextLive := live(next.Digest)
			switch {
			case id == next.Digest || (oldLive && nextLive):
				if !errors.Is(err, index.ErrExists) {
					t.Fatalf("op %d: Rotate onto a live cookie = %v", i, err)
				}
				continue
			case !oldLive:
				if !errors.Is(err, index.ErrNotFound) {
					t.Fatalf("op %d: Rotate of a missing cookie = %v", i, err)
				}
				continue
			case err != nil:
				t.Fatalf("op %d: Rotate = %v", i, err)
			}
			m[next.Digest] = next
			delete(m, id)
			events = append(events, record.State(next), record.Rotated(id, next.Digest))
		case 7: // a cookie created with its login, as a rotation creates it; or the crowd
			if arg%8 != 0 {
				c := record.Cookie{Digest: id, Created: now, MaxAge: time.Duration(arg%5+1) * time.Second, Auth: fuzzAuth(arg | 0x40)}
				if !create(i, c, record.State(c)) {
					continue
				}
				break
			}
			// The crowd logs in on the next batch of cookies: now and then,
			// as each time costs thousands of calls.
			if crowd >= maxCrowd {
				continue // enough for thousands of cookies, few enough to stay fast
			}
			for range crowdBatch {
				d := crowdIDs[crowd%len(crowdIDs)]
				crowd++
				a := record.Auth{AuthID: "crowd", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
					AuthExtra: map[string]any{"i": int64(crowd % 7)}}
				c := record.Cookie{Digest: d, Created: now, MaxAge: time.Duration(arg%3+1) * time.Second, Auth: a}
				create(i, c, record.State(c))
			}
		}
		if x.Len() != len(m) {
			t.Fatalf("op %d: Len = %d, want %d", i, x.Len(), len(m))
		}
		checkOne(i, id)
		if i%64 == 0 || i+3 >= len(ops) {
			for _, id := range indexIDs {
				checkOne(i, id)
			}
		}
	}
	want := liveCookies(maps(m, now))
	if got := liveCookies(x.All()); !sameCookies(got, want) {
		t.Fatalf("All = %d cookies, want %d", len(got), len(want))
	}
	for _, authid := range fuzzNames {
		var w []record.Digest
		for id, c := range m {
			if authid != "" && c.Auth.AuthID == authid && !c.ExpiredAt(now) {
				w = append(w, id)
			}
		}
		sortDigests(w)
		if got := x.DigestsByAuthID(authid); !slices.Equal(got, w) {
			t.Fatalf("DigestsByAuthID(%q) = %d cookies, want %d", authid, len(got), len(w))
		}
	}
	checkReplays(t, events, clk, want)
}

// checkReplays encodes events as a journal holds them, a run of them in
// batches now and then, decodes them as replay does, and applies them to
// fresh indexes one by one and as replay does, by shard on two goroutines:
// each must end with the live cookies want. (index.TestModel covers
// ApplyAll.)
func checkReplays(t *testing.T, events []record.Event, clk *testkit.Clock, want []record.Cookie) {
	t.Helper()
	var payloads [][]byte
	rng := rand.New(rand.NewPCG(uint64(len(events)), 1))
	for rest := events; len(rest) > 0; {
		if rng.IntN(4) == 0 {
			n := min(len(rest), 1+rng.IntN(300))
			p, err := replay.AppendBatch(nil, rest[:n])
			if err != nil {
				t.Fatal(err)
			}
			payloads, rest = append(payloads, p), rest[n:]
			continue
		}
		p, err := record.AppendEvent(nil, &rest[0])
		if err != nil {
			t.Fatal(err)
		}
		payloads, rest = append(payloads, p), rest[1:]
	}
	// A batch's views point into a buffer that the next batch reuses, as
	// replay's do into a run's: each view's bytes are copied, once.
	var views []record.View
	for _, p := range payloads {
		if err := replay.ParsePayload(p, record.V2, func(v *record.View) error {
			c := *v
			for _, b := range []*[]byte{&c.AuthID, &c.AuthRole, &c.AuthMethod, &c.AuthRealm, &c.Extra} {
				*b = bytes.Clone(*b)
			}
			views = append(views, c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(views) != len(events) {
		t.Fatalf("%d events decoded from the journal's payloads, want %d", len(views), len(events))
	}
	one := index.New(index.Options{Clock: clk.Now})
	for i := range views {
		one.Apply(&views[i])
	}
	// Two appliers, each with half the shards, as replay runs them.
	par := index.New(index.Options{Clock: clk.Now})
	par.Reserve(index.Size{Cookies: len(views) / 2, Logins: len(views) / 4, ExtraBytes: len(views)})
	var byShard [index.Shards][]int32
	for i := range views {
		k := index.ShardOf(views[i].Digest)
		byShard[k] = append(byShard[k], int32(i))
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for k := w; k < index.Shards; k += 2 {
				par.ApplyShard(k, views, byShard[k])
			}
		})
	}
	wg.Wait()
	for name, r := range map[string]*index.Index{"Apply": one, "ApplyShard": par} {
		if got := liveCookies(r.All()); !sameCookies(got, want) {
			t.Fatalf("replayed through %s: %d live cookies, want %d", name, len(got), len(want))
		}
		for _, authid := range fuzzNames {
			var w []record.Digest
			for _, c := range want {
				if authid != "" && c.Auth.AuthID == authid {
					w = append(w, c.Digest)
				}
			}
			if got := r.DigestsByAuthID(authid); !slices.Equal(got, w) {
				t.Fatalf("replayed through %s: DigestsByAuthID(%q) = %d cookies, want %d", name, authid, len(got), len(w))
			}
		}
	}
}

// maps yields the cookies of m that are live at now.
func maps(m map[record.Digest]record.Cookie, now time.Time) iter.Seq[record.Cookie] {
	return func(yield func(record.Cookie) bool) {
		for _, c := range m {
			if !c.ExpiredAt(now) && !yield(c) {
				return
			}
		}
	}
}

// liveCookies returns the cookies that seq yields, sorted by digest.
func liveCookies(seq iter.Seq[record.Cookie]) []record.Cookie {
	out := slices.Collect(seq)
	slices.SortFunc(out, func(a, b record.Cookie) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	return out
}

func sameCookies(a, b []record.Cookie) bool {
	return slices.EqualFunc(a, b, sameCookie)
}

func sortDigests(ds []record.Digest) {
	slices.SortFunc(ds, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
}

// sameCookie compares two cookies as the index returns them: the instant
// of creation rather than its representation, and an empty authextra as
// none.
func sameCookie(a, b record.Cookie) bool {
	if len(a.Auth.AuthExtra) == 0 {
		a.Auth.AuthExtra = nil
	}
	if len(b.Auth.AuthExtra) == 0 {
		b.Auth.AuthExtra = nil
	}
	return a.Digest == b.Digest && a.Created.Equal(b.Created) && a.MaxAge == b.MaxAge && reflect.DeepEqual(a.Auth, b.Auth)
}
