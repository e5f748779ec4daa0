package index

import (
	"hash/maphash"
	"sync"
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
	mu         sync.RWMutex
	short      map[shortKey]uint32 // a string of up to shortMax bytes → 1 + index in ents
	long       map[string]uint32   // a longer one → 1 + index in ents; the keys are the entries' strings
	ents       []dictEntry
	free       []uint32 // indexes of free entries
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
}

// shortKey holds a short string in a map's own memory, so that a lookup
// compares the bytes there instead of following a pointer to them: most
// authids and tuples are short, and a lookup per login is what a replay of
// logins spends most of its time on.
type shortKey struct {
	n uint8
	b [shortMax]byte
}

const shortMax = 23

func shortOf(b []byte) (k shortKey) {
	k.n = uint8(len(b))
	copy(k.b[:], b)
	return k
}

// find returns 1 + the index of the entry of b, or 0. The caller holds mu.
func (sh *dictShard) find(b []byte) uint32 {
	if len(b) <= shortMax {
		return sh.short[shortOf(b)]
	}
	return sh.long[string(b)]
}

// index files entry i under its string. The caller holds mu.
func (sh *dictShard) index(i int) {
	s := sh.ents[i].s
	if len(s) <= shortMax {
		if sh.short == nil {
			sh.short = make(map[shortKey]uint32)
		}
		sh.short[shortOf(bytesOf(s))] = uint32(i + 1)
		return
	}
	if sh.long == nil {
		sh.long = make(map[string]uint32)
	}
	sh.long[s] = uint32(i + 1)
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

func (d *dict) shardOf(b []byte) int { return int(maphash.Bytes(d.seed, b) & (dictShards - 1)) }

// entryOf returns the shard and the entry index of a reference, which must
// not be 0.
func (d *dict) entryOf(r uint32) (*dictShard, int) {
	return &d.shards[r&(dictShards-1)], int(r>>dictBits) - 1
}

// intern returns a reference to b, storing a copy of it if the dict does
// not hold it yet, and counts the reference; and the stored string. The
// caller releases the reference with release.
func (d *dict) intern(b []byte) (uint32, string) {
	k := d.shardOf(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.entry(b)
	return ref(k, i), sh.ents[i].s
}

// join is intern that also adds a member at at to the entry, and returns
// its reference and 1 + the member's index. The caller takes it out with
// leave, which also releases the reference.
func (d *dict) join(b []byte, at uint32) (uint32, uint32) {
	k := d.shardOf(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.entry(b)
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
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for m := sh.ents[i].head; m != 0; m = sh.members[m-1].next {
		dst = append(dst, sh.members[m-1].at)
	}
	return dst
}

// entry returns the index of the entry of b, storing a copy of b in a new
// one if there is none, and counts a reference. The caller holds mu.
func (sh *dictShard) entry(b []byte) int {
	if i := sh.find(b); i != 0 {
		sh.ents[i-1].refs++
		return int(i - 1)
	}
	s := sh.store(b)
	var i int
	if n := len(sh.free); n > 0 {
		i = int(sh.free[n-1])
		sh.free = sh.free[:n-1]
	} else {
		i = len(sh.ents)
		sh.ents = append(sh.ents, dictEntry{})
	}
	sh.ents[i] = dictEntry{s: s, refs: 1}
	sh.index(i)
	sh.live += len(s)
	return i
}

// pin returns a counted reference to b if the dict holds it, so that the
// entry outlives what the caller does with it; the caller releases it.
func (d *dict) pin(b []byte) (uint32, bool) {
	k := d.shardOf(b)
	sh := &d.shards[k]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(b)
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
	if len(e.s) <= shortMax {
		delete(sh.short, shortOf(bytesOf(e.s)))
	} else {
		delete(sh.long, e.s)
	}
	sh.live -= len(e.s)
	sh.dead += len(e.s)
	*e = dictEntry{}
	sh.free = append(sh.free, uint32(i))
	if len(sh.free) == len(sh.ents) {
		// Nothing left: start afresh, and let everything go.
		sh.short, sh.long, sh.ents, sh.free, sh.chunk, sh.live, sh.dead = nil, nil, nil, nil, nil, 0, 0
		sh.members, sh.freeMember = nil, 0
		return
	}
	if sh.dead > sh.live && sh.dead >= dictChunk {
		sh.compact()
	}
}

// str returns the string of a reference, which must be counted.
func (d *dict) str(r uint32) string {
	sh, i := d.entryOf(r)
	sh.mu.RLock()
	s := sh.ents[i].s
	sh.mu.RUnlock()
	return s
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
	clear(sh.long) // its keys point into the old chunks; the short ones hold their bytes
	for i := range sh.ents {
		e := &sh.ents[i]
		if e.refs == 0 {
			continue
		}
		e.s = sh.store(bytesOf(e.s))
		if len(e.s) > shortMax {
			sh.long[e.s] = uint32(i + 1)
		}
	}
}

// bytesOf returns the bytes of s without copying them; the caller must not
// write to them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
