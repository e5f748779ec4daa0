package index

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// dict stores each distinct string once, for the whole index: the authids,
// and the role/method/realm tuples. A cookie's auth record refers to them
// by a 32-bit reference, and each entry counts the references to it, so
// that it is freed when its last one goes.
//
// The strings are kept in chunks of bytes that are never written again
// once a string is in them, and handed out as Go strings that point into
// them: a caller may keep one as long as it likes. Freed strings leave dead
// bytes behind; once a shard has more dead bytes than live ones, it copies
// the live strings into a new chunk and lets the old chunks go to the
// garbage collector, which frees each once no string handed out points
// into it any more.
//
// The authids' dict also keeps, for each authid, the list of its members:
// where the auth records of the cookies it is logged in on lie (shard and
// record). That is the index's reverse index from a principal to its
// cookies, without a set per principal: a login adds a member in the same
// step, and under the same lock, that counts the reference, and a logout
// takes it out in O(1).
//
// A dict is split into shards by the hash of the string, each behind its
// own lock, so that two goroutines replaying different cookies rarely meet.
type dict struct {
	seed   maphash.Seed
	shards [dictShards]dictShard
}

const (
	dictBits   = 6
	dictShards = 1 << dictBits
	// dictChunk is the size of a chunk of string bytes; a longer string
	// gets a chunk of its own.
	dictChunk = 4 << 10
)

type dictShard struct {
	mu         sync.Mutex // not a RWMutex: every read is short, and most uses write
	tab        []uint64   // a hash table of entries: tag<<32 | (1 + index in ents); 0 for an empty position
	ents       []dictEntry
	pub        atomic.Pointer[[]dictEntry] // ents to its capacity, for str, which reads it without the lock
	free       []uint32                    // indexes of free entries
	members    []member
	freeMember uint32   // 1 + index of the first free member, linked through next; 0 for none
	chunk      []byte   // where new strings go, up to its capacity
	live       int      // bytes of the strings in use
	dead       int      // bytes of freed strings still in chunks
	_          [64]byte // keeps neighbouring shards' locks off one cache line
}

type dictEntry struct {
	s    string // points into a chunk
	refs uint32 // references to the entry, members included; 0 for a free entry
	head uint32 // 1 + index in members of the entry's first member; 0 for none
	tag  uint32 // the high 32 bits of the string's hash
	// short holds the first bytes of the string (all of them, for most
	// authids and tuples), so that finding an entry compares bytes in the
	// entry's own cache line instead of following s to its chunk: a
	// lookup per login is most of a replay of logins.
	short [dictShort]byte
}

// dictShort is how many bytes of its string an entry holds itself; it
// makes an entry 64 bytes, one cache line.
const dictShort = 36

// is reports whether the entry's string is b.
func (e *dictEntry) is(b []byte) bool {
	if len(b) != len(e.s) {
		return false
	}
	if len(b) <= dictShort {
		return string(e.short[:len(b)]) == string(b)
	}
	return string(e.short[:]) == string(b[:dictShort]) && e.s == string(b)
}

// The table of a dict shard is probed linearly from a home position that
// fast range picks from the tag, the high half of the string's hash (the
// low bits pick the shard). A position holds the tag next to the entry's
// index, so that a probe compares strings only where the tags match.

func dictHome(tag uint32, n int) int { return int(uint64(tag) * uint64(n) >> 32) }

// find returns the position of the entry of b, whose tag is tag, and 1 +
// the entry's index; or the empty position where it would go, and 0. The
// caller holds mu.
func (sh *dictShard) find(tag uint32, b []byte) (int, uint32) {
	n := len(sh.tab)
	if n == 0 {
		return 0, 0
	}
	for i := dictHome(tag, n); ; {
		t := sh.tab[i]
		if t == 0 {
			return i, 0
		}
		if e := uint32(t); uint32(t>>32) == tag && sh.ents[e-1].is(b) {
			return i, e
		}
		if i++; i == n {
			i = 0
		}
	}
}

// file puts entry i, whose tag is tag, at pos, where find said it would
// go, growing the table first if it is 3/4 full. The caller holds mu.
func (sh *dictShard) file(pos int, tag uint32, i int) {
	if 4*(len(sh.ents)-len(sh.free)) > 3*len(sh.tab) {
		old := sh.tab
		sh.tab = make([]uint64, max(16, 2*len(old)))
		for _, t := range old {
			if t != 0 {
				sh.tab[sh.emptyFor(uint32(t>>32))] = t
			}
		}
		pos = sh.emptyFor(tag)
	}
	sh.tab[pos] = uint64(tag)<<32 | uint64(i+1)
}

func (sh *dictShard) emptyFor(tag uint32) int {
	n := len(sh.tab)
	i := dictHome(tag, n)
	for sh.tab[i] != 0 {
		if i++; i == n {
			i = 0
		}
	}
	return i
}

// unfile takes the table's position i out, moving back the positions after
// it that probing would no longer reach (as shard.removeAt does).
func (sh *dictShard) unfile(i int) {
	n := len(sh.tab)
	for j := (i + 1) % n; sh.tab[j] != 0; j = (j + 1) % n {
		if h := dictHome(uint32(sh.tab[j]>>32), n); dist(h, j, n) >= dist(i, j, n) {
			sh.tab[i] = sh.tab[j]
			i = j
		}
	}
	sh.tab[i] = 0
}

// member is one place where an entry is used: an auth record.
type member struct {
	at   uint32 // the record: its shard<<recBits | its index in the shard's auths
	next uint32 // 1 + index of the next member of the entry, or of the next free member
	prev uint32 // 1 + index of the previous member of the entry
}

// recBits is how many bits of member.at name a record in its shard.
const recBits = 32 - shardBits

// ref packs a shard and an entry: (1+entry)<<dictBits | shard. 0 is no
// reference.
func ref(shard int, entry int) uint32 { return uint32(entry+1)<<dictBits | uint32(shard) }

func (d *dict) init() { d.seed = maphash.MakeSeed() }

// hash returns the shard of b and its tag in the shard's table.
func (d *dict) hash(b []byte) (int, uint32) {
	h := maphash.Bytes(d.seed, b)
	return int(h & (dictShards - 1)), uint32(h >> 32)
}

// entryOf returns the shard and the entry index of a reference, which must
// not be 0.
func (d *dict) entryOf(r uint32) (*dictShard, int) {
	return &d.shards[r&(dictShards-1)], int(r>>dictBits) - 1
}

// intern returns a reference to b, storing a copy of it if the dict does
// not hold it yet, and counts the reference; and the stored string. The
// caller releases the reference with release.
func (d *dict) intern(b []byte) (uint32, string) {
	k, tag := d.hash(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.entry(tag, b)
	return ref(k, i), sh.ents[i].s
}

// join is intern that also adds a member at at to the entry, and returns
// its reference and 1 + the member's index. The caller takes it out with
// leave, which also releases the reference.
func (d *dict) join(b []byte, at uint32) (uint32, uint32) {
	k, tag := d.hash(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.entry(tag, b)
	e := &sh.ents[i]
	var m uint32
	if sh.freeMember != 0 {
		m = sh.freeMember - 1
		sh.freeMember = sh.members[m].next
	} else {
		m = uint32(len(sh.members))
		sh.members = append(sh.members, member{})
	}
	sh.members[m] = member{at: at, next: e.head}
	if e.head != 0 {
		sh.members[e.head-1].prev = m + 1
	}
	e.head = m + 1
	return ref(k, i), m + 1
}

// leave takes out member m (1 + its index) of the entry of r, which join
// added, and releases the reference.
func (d *dict) leave(r, m uint32) {
	sh, i := d.entryOf(r)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := &sh.ents[i]
	mb := &sh.members[m-1]
	if mb.prev != 0 {
		sh.members[mb.prev-1].next = mb.next
	} else {
		e.head = mb.next
	}
	if mb.next != 0 {
		sh.members[mb.next-1].prev = mb.prev
	}
	*mb = member{next: sh.freeMember}
	sh.freeMember = m
	sh.drop(i)
}

// appendMembers appends where the members of the entry of r are to dst.
// r must be counted.
func (d *dict) appendMembers(dst []uint32, r uint32) []uint32 {
	sh, i := d.entryOf(r)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for m := sh.ents[i].head; m != 0; m = sh.members[m-1].next {
		dst = append(dst, sh.members[m-1].at)
	}
	return dst
}

// entry returns the index of the entry of b, whose tag is tag, storing a
// copy of b in a new one if there is none, and counts a reference. The
// caller holds mu.
func (sh *dictShard) entry(tag uint32, b []byte) int {
	pos, e := sh.find(tag, b)
	if e != 0 {
		sh.ents[e-1].refs++
		return int(e - 1)
	}
	s := sh.store(b)
	var i int
	if n := len(sh.free); n > 0 {
		i = int(sh.free[n-1])
		sh.free = sh.free[:n-1]
	} else {
		i = len(sh.ents)
		if len(sh.ents) == cap(sh.ents) {
			sh.ents = append(sh.ents, dictEntry{})
			sh.publish()
		} else {
			sh.ents = sh.ents[:i+1]
		}
	}
	sh.ents[i] = dictEntry{s: s, refs: 1, tag: tag}
	copy(sh.ents[i].short[:], b)
	sh.file(pos, tag, i)
	sh.live += len(s)
	return i
}

// pin returns a counted reference to b if the dict holds it, so that the
// entry outlives what the caller does with it; the caller releases it.
func (d *dict) pin(b []byte) (uint32, bool) {
	k, tag := d.hash(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, i := sh.find(tag, b)
	if i == 0 {
		return 0, false
	}
	sh.ents[i-1].refs++
	return ref(k, int(i-1)), true
}

// release drops one reference counted by intern or pin.
func (d *dict) release(r uint32) {
	sh, i := d.entryOf(r)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.drop(i)
}

// drop drops one reference to entry i, and frees the entry with the last.
// The caller holds mu.
func (sh *dictShard) drop(i int) {
	e := &sh.ents[i]
	if e.refs--; e.refs > 0 {
		return
	}
	pos, _ := sh.find(e.tag, bytesOf(e.s))
	sh.unfile(pos)
	sh.live -= len(e.s)
	sh.dead += len(e.s)
	*e = dictEntry{}
	sh.free = append(sh.free, uint32(i))
	if len(sh.free) == len(sh.ents) {
		// Nothing left: start afresh, and let everything go.
		sh.tab, sh.ents, sh.free, sh.chunk, sh.live, sh.dead = nil, nil, nil, nil, 0, 0
		sh.members, sh.freeMember = nil, 0
		return
	}
	if sh.dead > sh.live && sh.dead >= dictChunk {
		sh.compact()
	}
}

// reserve makes room for n more members, spread over the shards.
func (d *dict) reserve(n int) {
	per := n / dictShards * 33 / 32
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		sh.members = slices.Grow(sh.members, per)
		sh.mu.Unlock()
	}
}

// str returns the string of a reference, which the caller holds counted,
// without taking the shard's lock: a Get of a logged-in cookie reads its
// authid here, and two cores reading would otherwise pass the lock's cache
// line back and forth.
//
// It reads the entries through pub, which may be an array that ents has
// since moved out of; an entry's string there is still right, as its
// string is written only while nobody holds a reference to it (when it is
// made, or reused after its last reference went), and compact, which gives
// entries new strings, writes them into a new array.
func (d *dict) str(r uint32) string {
	sh, i := d.entryOf(r)
	return (*sh.pub.Load())[i].s
}

// publish makes ents, to its capacity, the array that str reads. The
// caller holds mu.
func (sh *dictShard) publish() {
	all := sh.ents[:cap(sh.ents)]
	sh.pub.Store(&all)
}

// store copies b into a chunk and returns it as a string. The caller holds
// mu.
func (sh *dictShard) store(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > dictChunk/4 {
		return string(b) // a chunk of its own
	}
	if cap(sh.chunk)-len(sh.chunk) < len(b) {
		sh.chunk = make([]byte, 0, dictChunk)
	}
	start := len(sh.chunk)
	sh.chunk = append(sh.chunk, b...)
	return unsafe.String(&sh.chunk[start], len(b))
}

// compact copies the live strings into fresh chunks, so that the old ones,
// which are mostly dead, can be freed. The caller holds mu.
func (sh *dictShard) compact() {
	sh.chunk, sh.dead = nil, 0
	ents := make([]dictEntry, len(sh.ents), cap(sh.ents))
	copy(ents, sh.ents)
	for i := range ents {
		if e := &ents[i]; e.refs != 0 {
			e.s = sh.store(bytesOf(e.s))
		}
	}
	sh.ents = ents
	sh.publish()
}

// bytesOf returns the bytes of s without copying them; the caller must not
// write to them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
