package memstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"cookiestore/record"
)

// checkTable verifies a table's invariants: each entry is reachable by
// probing from its home, the counts match, and the auth slice holds exactly
// what the slots refer to.
func checkTable(t testing.TB, tb *table) {
	t.Helper()
	if len(tb.tags) != len(tb.slots) || len(tb.tags)&(len(tb.tags)-1) != 0 {
		t.Fatalf("table: %d tags and %d slots; want one power of two", len(tb.tags), len(tb.slots))
	}
	live := 0
	authRefs := make(map[uint32]bool)
	for i, tag := range tb.tags {
		if tag == 0 {
			if tb.slots[i] != (slot{}) {
				t.Errorf("table: empty position %d holds %+v", i, tb.slots[i])
			}
			continue
		}
		live++
		for j := tb.home(tag); j != i; j = tb.next(j) {
			if tb.tags[j] == 0 {
				t.Errorf("table: entry at %d is cut off from its home %d by the empty position %d", i, tb.home(tag), j)
				break
			}
		}
		if ref := tb.slots[i].auth; ref != 0 {
			if authRefs[ref] {
				t.Errorf("table: auth %d used twice", ref)
			}
			authRefs[ref] = true
			if int(ref) > len(tb.auths) || tb.auths[ref-1] == nil {
				t.Errorf("table: entry at %d refers to missing auth %d", i, ref)
			}
		}
	}
	if live != tb.live {
		t.Errorf("table: live = %d, but %d positions are in use", tb.live, live)
	}
	if len(authRefs)+len(tb.freeAuths) != len(tb.auths) {
		t.Errorf("table: %d auths in use and %d free, of %d", len(authRefs), len(tb.freeAuths), len(tb.auths))
	}
	for _, f := range tb.freeAuths {
		if tb.auths[f] != nil || authRefs[f+1] {
			t.Errorf("table: free auth %d is in use", f)
		}
	}
}

// TestTableModel runs random operations on a table and on a Go map, with
// tags drawn from a few values so that unrelated IDs share probe
// sequences, and compares them after every step.
func TestTableModel(t *testing.T) {
	for _, tagValues := range []int{1, 3, 64, 1 << 30} {
		t.Run(fmt.Sprintf("tags=%d", tagValues), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tagValues), 7))
			var tb table
			model := map[record.Digest]entry{}
			hashOf := func(d record.Digest) uint64 {
				return hash(d)%uint64(tagValues)*0x9E3779B97F4A7C15 | 1
			}
			auths := []*record.Auth{{AuthID: "alice"}, {AuthID: "bob"}}
			steps := 4000
			if testing.Short() {
				steps = 1000
			}
			for step := range steps {
				id := dg(fmt.Sprintf("id-%d", rng.IntN(300)))
				h := hashOf(id)
				e := entry{created: int64(step), maxAge: rng.Int64N(100)}
				if rng.IntN(3) == 0 {
					e.auth = auths[rng.IntN(len(auths))]
				}
				switch op := rng.IntN(10); {
				case op < 5:
					if pos, found := tb.find(h, id); found {
						tb.set(pos, e)
					} else {
						tb.insert(pos, h, id, e)
					}
					model[id] = e
				case op < 8:
					if _, pos, ok := tb.lookup(h, id); ok {
						tb.removeAt(pos)
					}
					delete(model, id)
				case op < 9:
					// Remove while walking, as PurgeExpired does;
					// now and then everything, so that the table
					// empties and fills again.
					limit := int64(20)
					if rng.IntN(8) == 0 {
						limit = 100
					}
					for pos := 0; pos < len(tb.tags); {
						if tb.tags[pos] != 0 && tb.slots[pos].maxAge < limit {
							delete(model, tb.digestAt(pos))
							tb.removeAt(pos)
							continue
						}
						pos++
					}
				default:
					tb.reserve(rng.IntN(50))
				}
				checkTable(t, &tb)
				if tb.live != len(model) {
					t.Fatalf("step %d: %d entries, model has %d", step, tb.live, len(model))
				}
				for mid, me := range model {
					got, _, ok := tb.lookup(hashOf(mid), mid)
					if !ok || got != me {
						t.Fatalf("step %d: %q = %+v, %v; model has %+v", step, mid, got, ok, me)
					}
				}
				if t.Failed() {
					t.Fatalf("step %d: table invariants broken", step)
				}
			}
		})
	}
}

// TestTableEmptyAgain checks that removing the last entry drops the auths
// but keeps the table usable.
func TestTableEmptyAgain(t *testing.T) {
	var tb table
	if _, _, ok := tb.lookup(1, dg("x")); ok {
		t.Fatal("empty table found an entry")
	}
	tb.insert(0, 5, dg("abc"), entry{auth: &record.Auth{AuthID: "a"}})
	_, pos, ok := tb.lookup(5, dg("abc"))
	if !ok {
		t.Fatal("inserted entry not found")
	}
	tb.removeAt(pos)
	if tb.live != 0 || len(tb.auths) != 0 || len(tb.freeAuths) != 0 {
		t.Fatalf("empty table keeps %+v", tb)
	}
	checkTable(t, &tb)
	tb.insert(tb.emptyFor(tagOf(5)), 5, dg("abc"), entry{created: 1})
	if e, _, ok := tb.lookup(5, dg("abc")); !ok || e.created != 1 {
		t.Fatalf("reinserted entry = %+v, %v", e, ok)
	}
}
