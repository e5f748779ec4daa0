package memstore

import "cookiestore/record"

// ExpiredDigests returns the digests of the entries that have expired but
// are still in the index. The file backend journals a Delete for each before it
// removes them, so that a replay under a clock that has jumped backwards
// cannot revive them.
func (s *Store) ExpiredDigests() []record.Digest {
	now := s.now()
	var ids []record.Digest
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for pos, tag := range sh.ids.tags {
			if tag != 0 && sh.ids.entryAt(pos).expiredAt(now) {
				ids = append(ids, sh.ids.digestAt(pos))
			}
		}
		sh.mu.RUnlock()
	}
	return ids
}
