package memstore

import (
	"slices"

	"cookiestore/record"
)

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
	few  []record.Digest
	many map[record.Digest]struct{}
}

func (s *authSet) add(d record.Digest) {
	if s.many != nil {
		s.many[d] = struct{}{}
		return
	}
	if slices.Contains(s.few, d) {
		return
	}
	if len(s.few) < fewAuthIDs {
		s.few = append(s.few, d)
		return
	}
	s.many = make(map[record.Digest]struct{}, 2*fewAuthIDs)
	for _, x := range s.few {
		s.many[x] = struct{}{}
	}
	s.many[d] = struct{}{}
	s.few = nil
}

func (s *authSet) remove(d record.Digest) {
	if s.many != nil {
		delete(s.many, d)
		return
	}
	if i := slices.Index(s.few, d); i >= 0 {
		last := len(s.few) - 1
		s.few[i] = s.few[last]
		s.few[last] = record.Digest{}
		s.few = s.few[:last]
	}
}

func (s *authSet) has(d record.Digest) bool {
	if s.many != nil {
		_, ok := s.many[d]
		return ok
	}
	return slices.Contains(s.few, d)
}

func (s *authSet) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return len(s.few)
}

// list returns a copy of the IDs, which the caller may hold while it
// changes the set.
func (s *authSet) list() []record.Digest {
	if s.many != nil {
		out := make([]record.Digest, 0, len(s.many))
		for d := range s.many {
			out = append(out, d)
		}
		return out
	}
	return slices.Clone(s.few)
}
