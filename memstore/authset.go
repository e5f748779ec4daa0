package memstore

import "slices"

// fewAuthIDs is how many cookies a principal's set keeps in a slice before
// it switches to a map.
const fewAuthIDs = 16

// authSet holds the IDs of the cookies that one principal is logged in on.
// Nearly every principal has a handful, and a Go map per principal costs
// hundreds of bytes and an allocation at every first login, which at a
// million logged-in cookies dominated replay time and the index's memory;
// so a set is a slice while it is small, and a map once a principal has so
// many cookies that removing one from a slice would cost too much.
type authSet struct {
	few  []string
	many map[string]struct{}
}

func (s *authSet) add(id string) {
	if s.many != nil {
		s.many[id] = struct{}{}
		return
	}
	if slices.Contains(s.few, id) {
		return
	}
	if len(s.few) < fewAuthIDs {
		s.few = append(s.few, id)
		return
	}
	s.many = make(map[string]struct{}, 2*fewAuthIDs)
	for _, x := range s.few {
		s.many[x] = struct{}{}
	}
	s.many[id] = struct{}{}
	s.few = nil
}

func (s *authSet) remove(id string) {
	if s.many != nil {
		delete(s.many, id)
		return
	}
	if i := slices.Index(s.few, id); i >= 0 {
		last := len(s.few) - 1
		s.few[i] = s.few[last]
		s.few[last] = ""
		s.few = s.few[:last]
	}
}

func (s *authSet) has(id string) bool {
	if s.many != nil {
		_, ok := s.many[id]
		return ok
	}
	return slices.Contains(s.few, id)
}

func (s *authSet) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return len(s.few)
}

// list returns a copy of the IDs, which the caller may hold while it
// changes the set.
func (s *authSet) list() []string {
	if s.many != nil {
		out := make([]string, 0, len(s.many))
		for id := range s.many {
			out = append(out, id)
		}
		return out
	}
	return slices.Clone(s.few)
}
