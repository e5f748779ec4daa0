package index

import (
	"encoding/binary"
	"math"
	"sync"

	"cookiestore/record"
)

// shard is one lock's worth of the index: a hash table of cookies, the auth
// records of the logged-in ones, and what those records refer to. Its
// arrays hold no Go pointers per cookie.
//
// # The table
//
// Open addressing with linear probing, in two arrays: tags, 4 bytes per
// position, which probing reads sixteen to a cache line, and slots, 32
// bytes per position, which it reads only where a tag matches in full. A
// tag is 32 bits of the cookie's digest, never 0, which marks an empty
// position. A tag's home position is tag×size/2³² ("fast range"), so the
// table may have any size, not only a power of two: it grows by a quarter
// when it is 4/5 full, so that it stays between 64% and 80% full, and the
// homes keep the order of the tags, so that growing moves the entries in
// order, through memory front to back. Removing an entry moves back the
// entries after it that probing would no longer reach, rather than leaving
// a marker, so that probe sequences stay as short as if it had never been
// there. The table never shrinks, except to nothing when it empties.
//
// # Auth records
//
// A logged-in cookie's slot refers to an authRec, 20 bytes in the auths
// array: its authid and its role/method/realm tuple, as references into
// the index's dicts, where each is stored once; its member in the authid's
// list of members (see dict), the reverse index from a principal to its
// cookies; the offset of its authextra in the shard's arena of extras,
// kept as the msgpack bytes of the events; and the position of its slot,
// which the table updates when it moves the entry. Freed records are
// reused through a free list. The extras arena is written only at its end;
// freed extras are dead bytes until they outnumber the live ones, and then
// the live ones are copied into a new arena. So the bytes a reader was
// given are never written again, and it may read them after it unlocks.
type shard struct {
	mu sync.RWMutex
	x  *Index // for the dicts
	k  uint32 // which shard of x this is

	tags  []uint32
	slots []slot
	live  int                     // entries in the table
	odd   map[record.Digest]int64 // lifetimes that slot.life cannot hold, by digest

	auths      []authRec
	freeAuth   uint32 // 1 + index of the first free record, linked through pos; 0 for none
	tuples     []tuple
	tupleIDs   map[string]uint32 // tuple.key → 1 + index in tuples
	freeTuples []uint32
	lastTuple  uint32 // 1 + index of the tuple used last, tried first
	extras     []byte // the arena of authextras: each a uvarint length and the bytes
	extraDead  int    // bytes of extras that no record uses
	scratch    []byte // where tuple keys are joined
}

// slot is what the table keeps per entry, beside its tag.
type slot struct {
	digest  record.Digest // the cookie
	created int64         // issue time, Unix nanoseconds
	life    uint32        // lifetime in whole seconds, or lifeOdd
	auth    uint32        // 1 + index in shard.auths; 0 when nobody is logged in
}

// lifeOdd marks a lifetime that is not a whole number of seconds below
// lifeOdd, which the shard keeps in its odd map. Servers give lifetimes in
// seconds; only a hand-made event has another.
const lifeOdd = math.MaxUint32

// authRec is the auth tuple of one logged-in cookie.
type authRec struct {
	name   uint32 // the authid's reference in Index.names; 0 for none
	member uint32 // 1 + index of the record's member of the authid in Index.names
	tuple  uint32 // 1 + index in shard.tuples; 0 when role, method and realm are empty
	extra  uint32 // 1 + offset in shard.extras; 0 for no authextra
	pos    uint32 // position of the cookie's slot; for a free record, 1 + index of the next free one
}

// maxRecs bounds the auth records of a shard, which a member names in
// recBits bits.
const maxRecs = 1 << recBits

// tuple is a role/method/realm tuple that records of the shard use. The
// shard counts its own uses, and holds one reference to the tuple in
// Index.tuples while it has any.
type tuple struct {
	key                 string // the tuple as Index.tuples stores it (see joinTuple)
	role, method, realm string // parts of key
	ref                 uint32 // the reference in Index.tuples
	uses                uint32 // records of this shard that use the tuple; 0 for a free one
}

// auth is an auth tuple as the index takes it in: bytes, which it copies,
// and the authextra as its msgpack encoding.
type auth struct{ id, role, method, realm, extra []byte }

func (a *auth) isZero() bool {
	return len(a.id) == 0 && len(a.role) == 0 && len(a.method) == 0 && len(a.realm) == 0 && len(a.extra) == 0
}

// home returns the position at which probing for tag starts in a table of
// n positions.
func home(tag uint32, n int) int { return int(uint64(tag) * uint64(n) >> 32) }

// capacity is how many entries a table of n positions may hold: 4/5 keeps
// the probe for an absent digest, which every new cookie makes, to a
// cache line or two of tags on average.
func capacity(n int) int { return n * 4 / 5 }

// minTableSize is the fewest positions of a table that holds anything.
const minTableSize = 8

func (sh *shard) next(i int) int {
	if i++; i == len(sh.tags) {
		return 0
	}
	return i
}

// find returns the position of d, whose tag is tag, or, if the table does
// not hold d, the empty position where it would go (0 for an empty table).
func (sh *shard) find(tag uint32, d record.Digest) (int, bool) {
	n := len(sh.tags)
	if n == 0 {
		return 0, false
	}
	i := home(tag, n)
	// The slot at the home position is read along with its tag, not after
	// it: the two loads do not depend on each other, so their cache misses
	// overlap, and that slot is nearly always the entry's, or where a new
	// one goes.
	touchSlot(&sh.slots[i])
	for {
		switch sh.tags[i] {
		case 0:
			return i, false
		case tag:
			if sh.slots[i].digest == d {
				return i, true
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// touchSlot reads s, so that the processor fetches it. It is not inlined,
// or the read would go away with the result that nobody uses.
//
//go:noinline
func touchSlot(s *slot) uint32 { return s.life }

// emptyFor returns the first empty position on tag's probe sequence.
func (sh *shard) emptyFor(tag uint32) int {
	i := home(tag, len(sh.tags))
	for sh.tags[i] != 0 {
		i = sh.next(i)
	}
	return i
}

// insert adds s, whose digest the table does not hold, at pos, where find
// said it would go, and returns its position: another one if the table had
// to grow.
func (sh *shard) insert(pos int, tag uint32, s slot) int {
	if sh.live >= capacity(len(sh.tags)) {
		sh.resize(max(minTableSize, len(sh.tags)+len(sh.tags)/4))
		pos = sh.emptyFor(tag)
	}
	sh.tags[pos], sh.slots[pos] = tag, s
	sh.live++
	return pos
}

// resize rebuilds the table with n positions, which must hold every entry.
func (sh *shard) resize(n int) {
	oldTags, oldSlots := sh.tags, sh.slots
	sh.tags, sh.slots = make([]uint32, n), make([]slot, n)
	// From an empty position on, the entries come in the order of their
	// homes, the ones that wrapped around the end included, so that they
	// land in the new arrays front to back.
	start := 0
	for start < len(oldTags) && oldTags[start] != 0 {
		start++
	}
	for k := range oldTags {
		i := start + k
		if i >= len(oldTags) {
			i -= len(oldTags)
		}
		if oldTags[i] == 0 {
			continue
		}
		j := sh.emptyFor(oldTags[i])
		sh.tags[j], sh.slots[j] = oldTags[i], oldSlots[i]
		if a := oldSlots[i].auth; a != 0 {
			sh.auths[a-1].pos = uint32(j)
		}
	}
}

// reserve makes room for n more entries without growing on the way.
func (sh *shard) reserve(n int) {
	want := sh.live + n
	if want <= capacity(len(sh.tags)) {
		return
	}
	size := max(minTableSize, want+want/4)
	for capacity(size) < want {
		size++
	}
	sh.resize(size)
}

// removeAt removes the entry at position i, which must be in use, with its
// auth record. An entry after i may move to i: a loop that removes while it
// walks the positions looks at i again.
func (sh *shard) removeAt(i int) {
	s := &sh.slots[i]
	if s.auth != 0 {
		sh.freeRec(s.auth - 1)
	}
	if s.life == lifeOdd {
		delete(sh.odd, s.digest)
	}
	n := len(sh.tags)
	for j := sh.next(i); sh.tags[j] != 0; j = sh.next(j) {
		// The entry at j may move to i only if its home does not lie
		// cyclically in (i, j]: probing for it starts at or before i.
		if h := home(sh.tags[j], n); dist(h, j, n) >= dist(i, j, n) {
			sh.tags[i], sh.slots[i] = sh.tags[j], sh.slots[j]
			if a := sh.slots[i].auth; a != 0 {
				sh.auths[a-1].pos = uint32(i)
			}
			i = j
		}
	}
	sh.tags[i], sh.slots[i] = 0, slot{}
	sh.live--
	if sh.live == 0 {
		// Keep the positions; let everything else go.
		sh.odd, sh.auths, sh.freeAuth = nil, nil, 0
		sh.tuples, sh.tupleIDs, sh.freeTuples, sh.lastTuple = nil, nil, nil, 0
		sh.extras, sh.extraDead = nil, 0
	}
}

// dist is how many positions lie from a forward to b in a table of n.
func dist(a, b, n int) int {
	if d := b - a; d >= 0 {
		return d
	}
	return b - a + n
}

// lifetime returns the lifetime of the entry in s, in nanoseconds.
func (sh *shard) lifetime(s *slot) int64 {
	if s.life != lifeOdd {
		return int64(s.life) * int64(1e9)
	}
	return sh.odd[s.digest]
}

func (sh *shard) setLifetime(s *slot, maxAge int64) {
	if s.life == lifeOdd {
		delete(sh.odd, s.digest)
	}
	s.life = sh.life(s.digest, maxAge)
}

// life returns what a slot holds of the lifetime maxAge of cookie d,
// keeping the lifetime in odd if a slot cannot hold it.
func (sh *shard) life(d record.Digest, maxAge int64) uint32 {
	if maxAge >= 0 && maxAge%1e9 == 0 && maxAge/1e9 < lifeOdd {
		return uint32(maxAge / 1e9)
	}
	if sh.odd == nil {
		sh.odd = make(map[record.Digest]int64)
	}
	sh.odd[d] = maxAge
	return lifeOdd
}

// put stores the whole state of cookie d, whose tag is tag: a Create or a
// Cookie event, or a created cookie. a may be nil for no auth.
func (sh *shard) put(tag uint32, d record.Digest, created, maxAge int64, a *auth) {
	pos, ok := sh.find(tag, d)
	if !ok {
		// A new entry's slot is written whole and never read here: in a
		// table larger than the caches it is a miss, which a store leaves
		// to the store buffer while a load would wait for it.
		pos = sh.insert(pos, tag, slot{digest: d, created: created, life: sh.life(d, maxAge)})
		if a != nil && !a.isZero() {
			sh.slots[pos].auth = sh.newRec(pos, a) + 1
		}
		return
	}
	s := &sh.slots[pos]
	s.created = created
	sh.setLifetime(s, maxAge)
	sh.setAuth(pos, a)
}

// setAuth replaces the auth record of the entry at pos by a; nil or the
// zero tuple clears it.
func (sh *shard) setAuth(pos int, a *auth) {
	old := sh.slots[pos].auth
	sh.slots[pos].auth = 0
	if a != nil && !a.isZero() {
		// The new record before the old one goes, so that a tuple or an
		// authid that both use is not freed and stored again.
		sh.slots[pos].auth = sh.newRec(pos, a) + 1
	}
	if old != 0 {
		sh.freeRec(old - 1)
	}
}

// newRec stores a as the auth record of the entry at pos and returns its
// index.
func (sh *shard) newRec(pos int, a *auth) uint32 {
	var i uint32
	if sh.freeAuth != 0 {
		i = sh.freeAuth - 1
		sh.freeAuth = sh.auths[i].pos
	} else {
		if len(sh.auths) == maxRecs {
			panic("index: over 2^26 logged-in cookies in one shard")
		}
		i = uint32(len(sh.auths))
		sh.auths = append(sh.auths, authRec{})
	}
	rec := authRec{pos: uint32(pos)}
	if len(a.id) > 0 {
		rec.name, rec.member = sh.x.names.join(a.id, sh.k<<recBits|i)
	}
	if len(a.role) > 0 || len(a.method) > 0 || len(a.realm) > 0 {
		rec.tuple = sh.useTuple(a.role, a.method, a.realm)
	}
	if len(a.extra) > 0 {
		rec.extra = sh.storeExtra(a.extra)
	}
	sh.auths[i] = rec
	return i
}

// freeRec frees auth record i and what only it used.
func (sh *shard) freeRec(i uint32) {
	rec := sh.auths[i]
	sh.auths[i] = authRec{pos: sh.freeAuth}
	sh.freeAuth = i + 1
	if rec.name != 0 {
		sh.x.names.leave(rec.name, rec.member)
	}
	if rec.tuple != 0 {
		sh.dropTuple(rec.tuple - 1)
	}
	if rec.extra != 0 {
		sh.dropExtra(rec.extra - 1)
	}
}

// useTuple counts a use of the tuple and returns 1 + its index in tuples.
func (sh *shard) useTuple(role, method, realm []byte) uint32 {
	// Nearly every login of a shard has the tuple of the one before.
	if t := sh.lastTuple; t != 0 {
		if tp := &sh.tuples[t-1]; tp.role == string(role) && tp.method == string(method) && tp.realm == string(realm) {
			tp.uses++
			return t
		}
	}
	key := joinTuple(sh.scratch[:0], role, method, realm)
	sh.scratch = key
	if t, ok := sh.tupleIDs[string(key)]; ok {
		sh.tuples[t-1].uses++
		sh.lastTuple = t
		return t
	}
	r, s := sh.x.tuples.intern(key)
	tp := tuple{key: s, ref: r, uses: 1}
	tp.role, tp.method, tp.realm = splitTuple(s)
	var i uint32
	if n := len(sh.freeTuples); n > 0 {
		i = sh.freeTuples[n-1]
		sh.freeTuples = sh.freeTuples[:n-1]
		sh.tuples[i] = tp
	} else {
		i = uint32(len(sh.tuples))
		sh.tuples = append(sh.tuples, tp)
	}
	if sh.tupleIDs == nil {
		sh.tupleIDs = make(map[string]uint32)
	}
	sh.tupleIDs[s] = i + 1
	sh.lastTuple = i + 1
	return i + 1
}

func (sh *shard) dropTuple(i uint32) {
	tp := &sh.tuples[i]
	if tp.uses--; tp.uses > 0 {
		return
	}
	delete(sh.tupleIDs, tp.key)
	sh.x.tuples.release(tp.ref)
	*tp = tuple{}
	sh.freeTuples = append(sh.freeTuples, i)
	if sh.lastTuple == i+1 {
		sh.lastTuple = 0
	}
}

// joinTuple appends the key of a tuple to dst: the length of the role as a
// uvarint, the role, the length of the method, the method, and the realm.
func joinTuple(dst, role, method, realm []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(role)))
	dst = append(dst, role...)
	dst = binary.AppendUvarint(dst, uint64(len(method)))
	dst = append(dst, method...)
	return append(dst, realm...)
}

// splitTuple returns the parts of a key that joinTuple made.
func splitTuple(key string) (role, method, realm string) {
	n, k := binary.Uvarint(bytesOf(key))
	role, key = key[k:k+int(n)], key[k+int(n):]
	n, k = binary.Uvarint(bytesOf(key))
	return role, key[k : k+int(n)], key[k+int(n):]
}

// minExtraCompaction is the fewest dead bytes for which the extras arena
// is copied.
const minExtraCompaction = 16 << 10

// storeExtra appends an authextra to the arena and returns 1 + its offset.
func (sh *shard) storeExtra(b []byte) uint32 {
	if len(sh.extras)+len(b)+binary.MaxVarintLen32 > math.MaxUint32 {
		sh.compactExtras()
		if len(sh.extras)+len(b)+binary.MaxVarintLen32 > math.MaxUint32 {
			panic("index: over 4 GiB of authextra in one shard")
		}
	}
	off := len(sh.extras)
	sh.extras = binary.AppendUvarint(sh.extras, uint64(len(b)))
	sh.extras = append(sh.extras, b...)
	return uint32(off) + 1
}

// extra returns the authextra stored at offset off, up to its end (the
// slice's capacity stops there too).
func (sh *shard) extra(off uint32) []byte {
	n, k := binary.Uvarint(sh.extras[off:])
	start := int(off) + k
	return sh.extras[start : start+int(n) : start+int(n)]
}

func (sh *shard) dropExtra(off uint32) {
	n, k := binary.Uvarint(sh.extras[off:])
	sh.extraDead += k + int(n)
	if sh.extraDead >= minExtraCompaction && 2*sh.extraDead > len(sh.extras) {
		sh.compactExtras()
	}
}

// compactExtras copies the live extras into a new arena. The old one is
// never written again: a reader that was handed a slice of it may still be
// reading it, and the garbage collector frees it once none is.
func (sh *shard) compactExtras() {
	arena := make([]byte, 0, len(sh.extras)-sh.extraDead)
	for i := range sh.auths {
		rec := &sh.auths[i]
		if rec.extra == 0 {
			continue
		}
		b := sh.extra(rec.extra - 1)
		rec.extra = uint32(len(arena)) + 1
		arena = binary.AppendUvarint(arena, uint64(len(b)))
		arena = append(arena, b...)
	}
	sh.extras, sh.extraDead = arena, 0
}
