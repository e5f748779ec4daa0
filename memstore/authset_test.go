package memstore

import (
	"fmt"
	"slices"
	"testing"
)

// The set must behave the same on both sides of its switch from a slice to
// a map.
func TestAuthSetAcrossTheSwitch(t *testing.T) {
	var s authSet
	want := map[string]bool{}
	check := func(step string) {
		t.Helper()
		got := s.list()
		slices.Sort(got)
		var w []string
		for id := range want {
			w = append(w, id)
		}
		slices.Sort(w)
		if !slices.Equal(got, w) || s.len() != len(w) {
			t.Fatalf("%s: set holds %v (len %d), want %v", step, got, s.len(), w)
		}
		for id := range want {
			if !s.has(id) {
				t.Fatalf("%s: has(%s) = false", step, id)
			}
		}
	}
	for i := range 3 * fewAuthIDs {
		id := fmt.Sprint("id", i)
		s.add(id)
		s.add(id) // adding twice keeps one
		want[id] = true
		check(fmt.Sprint("add ", i))
	}
	if s.many == nil {
		t.Fatal("a set past fewAuthIDs did not switch to a map")
	}
	for i := 0; i < 3*fewAuthIDs; i += 2 {
		id := fmt.Sprint("id", i)
		s.remove(id)
		s.remove(id)
		delete(want, id)
		check(fmt.Sprint("remove ", i))
	}
	var small authSet
	small.add("a")
	small.add("b")
	small.remove("a")
	if small.has("a") || !small.has("b") || small.len() != 1 || small.many != nil {
		t.Fatalf("small set after remove: %+v", small)
	}
	small.remove("missing")
	if small.len() != 1 {
		t.Fatal("removing a missing ID changed the set")
	}
}
