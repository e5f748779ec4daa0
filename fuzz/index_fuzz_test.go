package fuzz

import (
	"bytes"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/memstore"
	"cookiestore/record"
)

// indexIDs are the cookies the index fuzzer works on: few, so that
// operations meet on the same cookies.
var indexIDs = func() []record.Digest {
	var ids []record.Digest
	for i := range 24 {
		ids = append(ids, record.DigestOf(strings.Repeat(string(rune('a'+i)), 6+i*3)))
	}
	return ids
}()

// FuzzIndex runs an operation sequence that the input spells out, two bytes
// per operation, on a memstore.Store and on a plain map, and compares them
// after every operation. Properties:
//   - every call returns what the map says it must: ErrExists, ErrNotFound,
//     the revoked and purged cookies;
//   - Get, Len, Range and DigestsByAuthID agree with the map (Get on the
//     operation's cookie each time, and on all of them now and then);
//   - replaying the events of the successful calls through Apply and
//     ApplyAll gives the same live cookies.
//
// The index's hash table, its growth, the removal that moves entries back
// and the compaction of its key buffer all run under this.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 2, 1, 0, 2, 0, 0, 0})
	f.Add([]byte{0, 5, 0, 6, 1, 5, 1, 0x46, 3, 1, 2, 5, 4, 0, 0, 5})
	// Fill, empty and fill again, so that removals move entries back and
	// the key buffer is compacted.
	fill := []byte{}
	for i := range byte(24) {
		fill = append(fill, 0, i)
	}
	for i := range byte(24) {
		fill = append(fill, 2, i)
	}
	f.Add(slices.Concat(fill, fill, fill))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4000 {
			return // long inputs add nothing but time
		}
		clk := testkit.NewClock()
		now, clock := clk.Now(), clk.Now
		s := memstore.New(memstore.Options{Clock: clock, JanitorInterval: -1})
		defer s.Close()
		m := map[record.Digest]record.Cookie{}
		var events []record.Event
		live := func(id record.Digest) (record.Cookie, bool) {
			c, ok := m[id]
			if !ok || c.ExpiredAt(now) {
				return record.Cookie{}, false
			}
			return c, true
		}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%6, ops[i+1]
			id := indexIDs[int(arg)%len(indexIDs)]
			switch op {
			case 0: // create
				c := record.Cookie{Digest: id, Created: now, MaxAge: time.Duration(arg%5+1) * time.Second}
				err := s.Create(c)
				if _, ok := live(id); ok {
					if !errors.Is(err, memstore.ErrExists) {
						t.Fatalf("op %d: Create over a live cookie = %v", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("op %d: Create = %v", i, err)
				}
				m[id] = c
				events = append(events, record.Create(id, c.Created, c.MaxAge))
			case 1: // log in or out
				a := record.Auth{}
				if arg&0x40 != 0 {
					a = record.Auth{AuthID: []string{"alice", "bob"}[arg>>7], AuthRole: "user"}
				}
				err := s.SetAuth(id, a)
				c, ok := live(id)
				if !ok {
					if !errors.Is(err, memstore.ErrNotFound) {
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
				err := s.Delete(id, record.ReasonLogout)
				_, wasLive := live(id)
				_, present := m[id]
				switch {
				case wasLive && err != nil:
					t.Fatalf("op %d: Delete = %v", i, err)
				case !wasLive && !errors.Is(err, memstore.ErrNotFound):
					t.Fatalf("op %d: Delete of a missing cookie = %v", i, err)
				}
				if present {
					delete(m, id)
					events = append(events, record.Delete(id, record.ReasonUnspecified))
				}
			case 3: // revoke a principal
				authid := []string{"alice", "bob"}[arg&1]
				got, err := s.DeleteByAuthID(authid)
				if err != nil {
					t.Fatalf("op %d: DeleteByAuthID = %v", i, err)
				}
				var want []record.Digest
				for mid, c := range m {
					if c.Auth.AuthID == authid {
						if !c.ExpiredAt(now) {
							want = append(want, mid)
						}
						delete(m, mid)
						events = append(events, record.Delete(mid, record.ReasonUnspecified))
					}
				}
				sortDigests(want)
				if !slices.Equal(got, want) {
					t.Fatalf("op %d: DeleteByAuthID(%q) = %v, want %v", i, authid, got, want)
				}
			case 4: // purge
				want := 0
				for mid, c := range m {
					if c.ExpiredAt(now) {
						delete(m, mid)
						events = append(events, record.Delete(mid, record.ReasonUnspecified))
						want++
					}
				}
				if got := s.PurgeExpired(); got != want {
					t.Fatalf("op %d: PurgeExpired = %d, want %d", i, got, want)
				}
			case 5: // time passes
				clk.Add(time.Duration(arg%4) * time.Second)
				now = clk.Now()
			}
			if s.Len() != len(m) {
				t.Fatalf("op %d: Len = %d, want %d", i, s.Len(), len(m))
			}
			check := []record.Digest{id}
			if i%32 == 0 || i+3 >= len(ops) {
				check = indexIDs
			}
			for _, id := range check {
				got, gotOK := s.Get(id)
				want, wantOK := live(id)
				if gotOK != wantOK || !sameCookie(got, want) {
					t.Fatalf("op %d: Get(%s) = %+v, %v; want %+v, %v", i, id, got, gotOK, want, wantOK)
				}
			}
		}
		want := liveIDs(func(yield func(record.Cookie) bool) {
			for _, c := range m {
				if !c.ExpiredAt(now) && !yield(c) {
					return
				}
			}
		})
		if got := liveIDs(s.All()); !slices.Equal(got, want) {
			t.Fatalf("All = %v, want %v", got, want)
		}
		for _, authid := range []string{"alice", "bob"} {
			var w []record.Digest
			for id, c := range m {
				if c.Auth.AuthID == authid && !c.ExpiredAt(now) {
					w = append(w, id)
				}
			}
			sortDigests(w)
			if got := s.DigestsByAuthID(authid); !slices.Equal(got, w) {
				t.Fatalf("DigestsByAuthID(%q) = %v, want %v", authid, got, w)
			}
		}
		one := memstore.New(memstore.Options{Clock: clock, JanitorInterval: -1})
		defer one.Close()
		for i := range events {
			one.Apply(&events[i])
		}
		all := memstore.New(memstore.Options{Clock: clock, JanitorInterval: -1})
		defer all.Close()
		all.ApplyAll(events)
		for name, r := range map[string]*memstore.Store{"Apply": one, "ApplyAll": all} {
			if got := liveIDs(r.All()); !slices.Equal(got, want) {
				t.Fatalf("replayed through %s: live cookies %v, want %v", name, got, want)
			}
		}
	})
}

// liveIDs returns the sorted digests of the cookies that seq yields.
func liveIDs(seq iter.Seq[record.Cookie]) []record.Digest {
	var ids []record.Digest
	for c := range seq {
		ids = append(ids, c.Digest)
	}
	sortDigests(ids)
	return ids
}

func sortDigests(ds []record.Digest) {
	slices.SortFunc(ds, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
}

// sameCookie compares two cookies as the index returns them.
func sameCookie(a, b record.Cookie) bool {
	return a.Digest == b.Digest && a.Created.Equal(b.Created) && a.MaxAge == b.MaxAge &&
		a.Auth.AuthID == b.Auth.AuthID && a.Auth.AuthRole == b.Auth.AuthRole
}
