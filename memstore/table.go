package memstore

import "cookiestore/record"

// table is one shard's map from cookie ID to entry: a hash table with open
// addressing and linear probing, in arrays that hold no pointers.
//
// A Go map[string]entry did this job before, and a stream of new cookies
// spent most of its time there (BenchmarkAppend/sync=none): the garbage
// collector scanned every key and auth pointer of the index at each cycle.
// Here each position keeps 32 bits of its digest as a tag and the digest
// itself in its slot, and auth tuples sit in a side slice that only
// logged-in cookies use; so the collector skips the index, and growing it
// moves tags and slots without reading anything else: on a virtual machine
// that backs memory only when it is first touched, the memory a growing
// index touches is a large part of its cost.
//
// Every method takes the digest's hash (see Store.hash), so that no
// operation computes it twice.
type table struct {
	// tags holds at each position the tag of the entry there, or 0 for an
	// empty position. Probing reads only tags, sixteen to a cache line, and
	// compares an ID only when its tag matches in full.
	tags []uint32
	// slots holds the entry at the same position as its tag.
	slots []slot
	// auths holds the auth tuples of logged-in entries, at slot.auth-1;
	// freeAuths lists the indexes of auths that are free for reuse.
	auths     []*record.Auth
	freeAuths []uint32
	live      int
}

// slot is what a table keeps per entry, beside its tag.
type slot struct {
	created int64         // issue time, Unix nanoseconds
	maxAge  int64         // lifetime, nanoseconds
	digest  record.Digest // the cookie
	auth    uint32        // 1 + index in table.auths; 0 when nobody is logged in
}

// tagOf returns the tag of an ID from its hash, which has its low bit set
// (Store.hash): never 0, which marks an empty position. The Store picks a
// shard from the hash's high bits, the table a position from the tag.
func tagOf(h uint64) uint32 { return uint32(h) }

// home returns the position at which probing for tag starts. It skips the
// low bit, which is always set.
func (t *table) home(tag uint32) int { return int(tag>>1) & (len(t.tags) - 1) }

// next returns the position after i, wrapping around.
func (t *table) next(i int) int { return (i + 1) & (len(t.tags) - 1) }

// maxLoad is how full a table may get, as a fraction: 3/4 keeps the probe
// for an absent ID, which every new cookie makes, to a cache line or two of
// tags on average.
const maxLoadNum, maxLoadDen = 3, 4

// capacity is how many entries a table of size positions may hold.
func capacity(size int) int { return size / maxLoadDen * maxLoadNum }

// minTableSize is the smallest number of positions a table has once it
// holds anything.
const minTableSize = 8

// find returns the position of d, whose hash is h, or, if the table does
// not hold d, the empty position at which it would go (0 while the table
// has none).
func (t *table) find(h uint64, d record.Digest) (pos int, found bool) {
	if len(t.tags) == 0 {
		return 0, false
	}
	tag := tagOf(h)
	for i := t.home(tag); ; i = t.next(i) {
		switch t.tags[i] {
		case 0:
			return i, false
		case tag:
			if t.slots[i].digest == d {
				return i, true
			}
		}
	}
}

// lookup returns the entry of d and its position, or, if the table does
// not hold d, the zero entry and the position find returns for it.
func (t *table) lookup(h uint64, d record.Digest) (entry, int, bool) {
	i, ok := t.find(h, d)
	if !ok {
		return entry{}, i, false
	}
	return t.entryAt(i), i, true
}

// digestAt returns the digest at position i, which must be in use.
func (t *table) digestAt(i int) record.Digest { return t.slots[i].digest }

// entryAt returns the entry at position i, which must be in use.
func (t *table) entryAt(i int) entry {
	s := &t.slots[i]
	e := entry{created: s.created, maxAge: s.maxAge}
	if s.auth != 0 {
		e.auth = t.auths[s.auth-1]
	}
	return e
}

// set replaces the entry at position i, which must be in use.
func (t *table) set(i int, e entry) {
	s := &t.slots[i]
	s.created, s.maxAge = e.created, e.maxAge
	switch {
	case e.auth == nil && s.auth != 0:
		t.freeAuth(s)
	case e.auth != nil && s.auth != 0:
		t.auths[s.auth-1] = e.auth
	case e.auth != nil:
		if n := len(t.freeAuths); n > 0 {
			s.auth = t.freeAuths[n-1] + 1
			t.freeAuths = t.freeAuths[:n-1]
			t.auths[s.auth-1] = e.auth
		} else {
			t.auths = append(t.auths, e.auth)
			s.auth = uint32(len(t.auths))
		}
	}
}

// freeAuth drops the auth tuple of s, which has one.
func (t *table) freeAuth(s *slot) {
	t.auths[s.auth-1] = nil
	t.freeAuths = append(t.freeAuths, s.auth-1)
	s.auth = 0
}

// insert adds d, which the table does not hold, with entry e. pos is where
// find said it would go; insert grows the table first if it is full.
func (t *table) insert(pos int, h uint64, d record.Digest, e entry) {
	tag := tagOf(h)
	if t.live >= capacity(len(t.tags)) {
		t.resize(max(2*len(t.tags), minTableSize))
		pos = t.emptyFor(tag)
	}
	t.tags[pos] = tag
	t.slots[pos] = slot{digest: d}
	t.set(pos, e)
	t.live++
}

// emptyFor returns the first empty position on tag's probe sequence.
func (t *table) emptyFor(tag uint32) int {
	i := t.home(tag)
	for t.tags[i] != 0 {
		i = t.next(i)
	}
	return i
}

// removeAt removes the entry at position i, which must be in use. It fills
// the gap by moving back the entries after it that probing would no longer
// reach, rather than leaving a marker, so that probe sequences stay as short
// as if the entry had never been there. An entry after i may thus move to i:
// a loop that removes while it walks the positions looks at i again.
func (t *table) removeAt(i int) {
	if s := &t.slots[i]; s.auth != 0 {
		t.freeAuth(s)
	}
	for j := t.next(i); t.tags[j] != 0; j = t.next(j) {
		// The entry at j may move to i only if its home does not lie
		// cyclically in (i, j]: probing for it starts at or before i.
		if h := t.home(t.tags[j]); (j-h)&(len(t.tags)-1) >= (j-i)&(len(t.tags)-1) {
			t.tags[i], t.slots[i] = t.tags[j], t.slots[j]
			i = j
		}
	}
	t.tags[i], t.slots[i] = 0, slot{}
	t.live--
	if t.live == 0 {
		*t = table{tags: t.tags, slots: t.slots} // keep the positions, drop the auths
	}
}

// resize rebuilds the table with size positions, a power of two that holds
// every entry. Entries move with their tags.
func (t *table) resize(size int) {
	oldTags, oldSlots := t.tags, t.slots
	t.tags, t.slots = make([]uint32, size), make([]slot, size)
	for i, tag := range oldTags {
		if tag != 0 {
			j := t.emptyFor(tag)
			t.tags[j], t.slots[j] = tag, oldSlots[i]
		}
	}
}

// reserve makes room for n more entries without growing on the way.
func (t *table) reserve(n int) {
	want := t.live + n
	if want <= capacity(len(t.tags)) {
		return
	}
	size := minTableSize
	for capacity(size) < want {
		size *= 2
	}
	t.resize(size)
}

// touch reads the home position of the tags at the given indexes, so that
// the processor fetches them together (see Store.ApplyAll). The sum it
// returns keeps the reads from being optimized away, but only if touch is
// not inlined: inlined into a caller that drops the sum, the reads went away
// with it.
//
//go:noinline
func (t *table) touch(hashes []uint64, indexes []int32) uint32 {
	if len(t.tags) == 0 {
		return 0
	}
	var sum uint32
	for _, i := range indexes {
		sum += t.tags[t.home(tagOf(hashes[i]))]
	}
	return sum
}
