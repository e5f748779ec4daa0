package memstore

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"cookiestore/record"
)

// The set must behave the same on both sides of its switch from a slice to
// a map.
func TestAuthSetAcrossTheSwitch(t *testing.T) {
	var s authSet
	want := map[record.Digest]bool{}
	byBytes := func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) }
	check := func(step string) {
		t.Helper()
		got := s.list()
		slices.SortFunc(got, byBytes)
		var w []record.Digest
		for d := range want {
			w = append(w, d)
		}
		slices.SortFunc(w, byBytes)
		if !slices.Equal(got, w) || s.len() != len(w) {
			t.Fatalf("%s: set holds %v (len %d), want %v", step, got, s.len(), w)
		}
		for d := range want {
			if !s.has(d) {
				t.Fatalf("%s: has(%s) = false", step, d)
			}
		}
	}
	for i := range 3 * fewAuthIDs {
		d := dg(fmt.Sprint("id", i))
		s.add(d)
		s.add(d) // adding twice keeps one
		want[d] = true
		check(fmt.Sprint("add ", i))
	}
	if s.many == nil {
		t.Fatal("a set past fewAuthIDs did not switch to a map")
	}
	for i := 0; i < 3*fewAuthIDs; i += 2 {
		d := dg(fmt.Sprint("id", i))
		s.remove(d)
		s.remove(d)
		delete(want, d)
		check(fmt.Sprint("remove ", i))
	}
	var small authSet
	small.add(dg("a"))
	small.add(dg("b"))
	small.remove(dg("a"))
	if small.has(dg("a")) || !small.has(dg("b")) || small.len() != 1 || small.many != nil {
		t.Fatalf("small set after remove: %+v", small)
	}
	small.remove(dg("missing"))
	if small.len() != 1 {
		t.Fatal("removing a missing digest changed the set")
	}
}
