// Package index is cookiestore's index of cookies: what the memory backend
// is (package memstore), what the file backend keeps in front of its
// journal (package filestore), and what a replay rebuilds (package replay).
//
// An [Index] maps cookie digests ([record.Digest]: an index never holds a
// cookie ID) to their creation time, lifetime and auth tuple, and
// principals (authids) to the cookies they are logged in on, so that a
// principal can be revoked everywhere at once. It offers two sets of
// methods:
//
//   - the operations of a store, which check before they change anything
//     and see the clock: [Index.Get], [Index.Live], [Index.Create],
//     [Index.Rotate], [Index.SetAuth], [Index.Delete],
//     [Index.DeleteByAuthID], [Index.DigestsByAuthID], [Index.All],
//     [Index.Len], [Index.PurgeExpired], [Index.ExpiredDigests];
//   - the application of events, which a journal's writer does after each
//     append and a replay for every event, without checks and without the
//     clock: [Index.Apply] for a [record.View] as a payload holds it,
//     [Index.ApplyEvent] for a decoded [record.Event], [Index.ApplyShard]
//     and [Index.ApplyAll] for many at once, [Index.Reserve] to size the
//     index first, and [Index.Views] to write its state back out.
//
// # Memory
//
// The index is split into [Shards] shards by digest, each a hash table
// whose arrays hold no Go pointers (see shard.go): 36 bytes per position,
// 64% to 80% full, for a cookie nobody is logged in on. A logged-in
// cookie adds a 20-byte auth record, a 12-byte member in its authid's list
// (the reverse index from a principal to its cookies), and its authextra,
// kept as the msgpack bytes of its event in an arena of the shard and
// decoded only when a caller asks for it; its authid and its
// role/method/realm tuple are each stored once for the whole index (see
// dict.go), counted, and freed with their last cookie. The garbage
// collector has next to nothing to scan, and opening a journal allocates a
// handful of arrays per shard, not objects per cookie.
//
// Freed space is reused or reclaimed: the table's positions, the auth
// records, the members and the dicts' entries are reused at once (records
// and members through free lists); the dead bytes of the extras arenas,
// and of the dicts' chunks of strings, are reclaimed by copying the live
// ones into new memory once the dead ones outweigh them, never by writing
// over bytes that a reader may hold. Neither a table nor an array of
// records shrinks while its shard holds anything; a shard that empties
// keeps only its table's positions.
//
// # Expiry
//
// A cookie whose created + max_age is at or before the clock's now is absent
// for every read and every write at once, whether or not it has been purged:
// [Index.Get] and [Index.All] skip it, [Index.SetAuth] and [Index.Delete]
// report [ErrNotFound], and [Index.Create] may reuse its digest. A removed or
// deleted cookie never comes back, even if the clock later steps backwards.
// (An expired entry that has not been purged yet reappears if the clock steps
// back before its expiry: the index holds what the events say, and the clock
// only decides what is visible.)
//
// # Concurrency
//
// All methods are safe for concurrent use. Each shard has its own
// read-write lock, so lookups on different cookies rarely meet and reads
// scale across cores. Operations that span principals or the whole index
// visit the shards one after another: each shard is seen consistently, but
// changes made meanwhile to shards already visited are not. The strings and
// bytes a read returns are never written again, so callers may keep them.
package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"
	"unsafe"

	"cookiestore/record"
)

// ErrExists is returned by [Index.Create] and [Index.Rotate] when a live
// cookie already has the digest. Every backend returns it (memstore and
// filestore export this value), so that callers test for it with errors.Is
// whatever the backend.
var ErrExists = errors.New("a live cookie with this digest exists")

// ErrNotFound is returned when no live cookie has the digest. Every backend
// returns it.
var ErrNotFound = errors.New("no such cookie")

// Shards is the number of shards; [ShardOf] says which one holds a cookie.
// 64 keep lock contention negligible on machines with dozens of cores while
// costing only a few kilobytes.
const Shards = 1 << shardBits

const shardBits = 6

// Options configure an [Index]. The zero value is ready to use.
type Options struct {
	// Clock returns the current time; nil means time.Now. It decides which
	// cookies have expired.
	Clock func() time.Time
}

// Index is the cookie index. Create one with [New]; the zero value is not
// usable.
type Index struct {
	shards [Shards]paddedShard
	names  dict // authids
	tuples dict // role/method/realm tuples (see joinTuple)
	clock  func() time.Time
	bufs   sync.Pool // *[]byte, where authextra maps are encoded
}

// paddedShard pads a shard to whole pairs of cache lines, so that
// neighbouring locks do not share one (adjacent-line prefetch makes 64
// bytes not quite enough).
type paddedShard struct {
	shard
	_ [128 - unsafe.Sizeof(shard{})%128]byte
}

// New returns an empty Index.
func New(opts Options) *Index {
	x := &Index{clock: opts.Clock}
	if x.clock == nil {
		x.clock = time.Now
	}
	x.names.init()
	x.tuples.init()
	for i := range x.shards {
		x.shards[i].x, x.shards[i].k = x, uint32(i)
	}
	x.bufs.New = func() any { return new([]byte) }
	return x
}

// hash returns the hash of digest d. Its top bits pick the shard and its
// low 32 bits, with the lowest set so that it is never 0, are the tag in the
// shard's table. A digest is already uniformly distributed, and only the
// holder of a cookie ID can place one (see record.Digest), so its first
// bytes serve as they are: no seed is needed against collisions that an
// attacker cannot choose.
func hash(d record.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) | 1 }

func tagOf(h uint64) uint32 { return uint32(h) }

// ShardOf returns the shard that holds cookie d, from 0 to Shards-1.
// Events on cookies of different shards commute, so they may be applied
// concurrently (see [Index.ApplyShard]); those of one shard are applied in
// their order.
func ShardOf(d record.Digest) int { return int(hash(d) >> (64 - shardBits)) }

func (x *Index) shard(d record.Digest) (*shard, uint32) {
	h := hash(d)
	return &x.shards[h>>(64-shardBits)].shard, tagOf(h)
}

func (x *Index) now() int64 { return x.clock().UnixNano() }

// expired reports created + maxAge <= now, saturating instead of wrapping
// around for lifetimes near the limits of int64 (which only a hostile or
// damaged journal could hold).
func expired(created, maxAge, now int64) bool {
	exp := created + maxAge
	switch {
	case maxAge > 0 && exp < created:
		return false // beyond the end of time
	case maxAge < 0 && exp > created:
		return true // before its beginning
	}
	return exp <= now
}

// found is what a read copies out of a shard under its lock: everything it
// needs to build the cookie after unlocking.
type found struct {
	digest              record.Digest
	created, maxAge     int64
	id                  string
	role, method, realm string
	extra               []byte // in the shard's arena, which is never written again
}

// at copies out the entry at position pos. The caller holds mu, read or
// write.
func (sh *shard) at(pos int) found {
	s := &sh.slots[pos]
	f := found{digest: s.digest, created: s.created, maxAge: sh.lifetime(s)}
	if s.auth != 0 {
		rec := &sh.auths[s.auth-1]
		if rec.name != 0 {
			f.id = sh.x.names.str(rec.name)
		}
		if rec.tuple != 0 {
			tp := &sh.tuples[rec.tuple-1]
			f.role, f.method, f.realm = tp.role, tp.method, tp.realm
		}
		if rec.extra != 0 {
			f.extra = sh.extra(rec.extra - 1)
		}
	}
	return f
}

// cookie returns the cookie, with its authextra decoded.
func (f *found) cookie() record.Cookie {
	c := record.Cookie{Digest: f.digest, Created: time.Unix(0, f.created), MaxAge: time.Duration(f.maxAge),
		Auth: record.Auth{AuthID: f.id, AuthRole: f.role, AuthMethod: f.method, AuthRealm: f.realm}}
	if len(f.extra) > 0 {
		// The bytes were checked when they were stored, as an event's.
		c.Auth.AuthExtra, _ = record.DecodeExtra(f.extra)
	}
	return c
}

// view fills v with the Cookie event of the entry.
func (f *found) view(v *record.View) {
	*v = record.View{Kind: record.KindCookie, Digest: f.digest, Created: f.created, MaxAge: f.maxAge,
		AuthID: nonEmpty(f.id), AuthRole: nonEmpty(f.role), AuthMethod: nonEmpty(f.method), AuthRealm: nonEmpty(f.realm), Extra: f.extra}
}

// nonEmpty returns the bytes of s, nil for "", as a View holds them.
func nonEmpty(s string) []byte {
	if s == "" {
		return nil
	}
	return bytesOf(s)
}

// Get returns the live cookie d, with its authextra decoded into a map of
// its own. An expired cookie is absent.
func (x *Index) Get(d record.Digest) (record.Cookie, bool) {
	sh, tag := x.shard(d)
	sh.mu.RLock()
	pos, ok := sh.find(tag, d)
	if !ok {
		sh.mu.RUnlock()
		return record.Cookie{}, false
	}
	s := &sh.slots[pos]
	if s.auth != 0 {
		f := sh.at(pos)
		sh.mu.RUnlock()
		if expired(f.created, f.maxAge, x.now()) {
			return record.Cookie{}, false
		}
		return f.cookie(), true
	}
	// Nobody is logged in on most cookies: the short way, whose few
	// instructions let a caller's lookups overlap their cache misses.
	created, maxAge := s.created, sh.lifetime(s)
	sh.mu.RUnlock()
	// Reading the clock outside the lock keeps the critical section short.
	if expired(created, maxAge, x.now()) {
		return record.Cookie{}, false
	}
	return record.Cookie{Digest: d, Created: time.Unix(0, created), MaxAge: time.Duration(maxAge)}, true
}

// Live reports whether a live cookie has digest d: Get without building
// the cookie.
func (x *Index) Live(d record.Digest) bool {
	sh, tag := x.shard(d)
	sh.mu.RLock()
	pos, ok := sh.find(tag, d)
	var created, maxAge int64
	if ok {
		s := &sh.slots[pos]
		created, maxAge = s.created, sh.lifetime(s)
	} else if pos < len(sh.slots) {
		// The file backend checks that a cookie is new, appends its
		// creation to the journal, and then inserts it here: fetching
		// the slot it will go in now lets that fetch overlap the append.
		touchSlot(&sh.slots[pos])
	}
	sh.mu.RUnlock()
	return ok && !expired(created, maxAge, x.now())
}

// ValidateNew reports what makes c unfit to be created: a zero digest, a
// creation time that is unset or outside what int64 nanoseconds hold (the
// journal's encoding), or a lifetime that is not positive. Every backend
// checks it before it stores anything.
func ValidateNew(c record.Cookie) error {
	switch {
	case c.Digest.IsZero():
		return errors.New("create cookie: zero digest")
	case c.Created.IsZero():
		return errors.New("create cookie: creation time not set")
	case !time.Unix(0, c.Created.UnixNano()).Equal(c.Created):
		return fmt.Errorf("create cookie: creation time %v is outside the years 1678 to 2262", c.Created)
	case c.MaxAge <= 0:
		return fmt.Errorf("create cookie: max age must be positive, got %v", c.MaxAge)
	}
	return nil
}

// authOfView returns the auth tuple of v.
func authOfView(v *record.View) auth {
	return auth{id: v.AuthID, role: v.AuthRole, method: v.AuthMethod, realm: v.AuthRealm, extra: v.Extra}
}

// encodeAuth returns a as the index takes it in, and the pooled buffer
// that holds its authextra, if it has one, for putBuf once the index has
// copied it.
// The strings' bytes are only read.
func (x *Index) encodeAuth(a *record.Auth) (auth, *[]byte, error) {
	in := auth{id: bytesOf(a.AuthID), role: bytesOf(a.AuthRole), method: bytesOf(a.AuthMethod), realm: bytesOf(a.AuthRealm)}
	if len(a.AuthExtra) == 0 {
		return in, nil, nil
	}
	bp := x.bufs.Get().(*[]byte)
	b, err := record.AppendExtra((*bp)[:0], a.AuthExtra)
	if err != nil {
		x.putBuf(bp)
		return auth{}, nil, err
	}
	*bp, in.extra = b, b
	return in, bp, nil
}

// putBuf returns a buffer of encodeAuth to the pool; nil is none.
func (x *Index) putBuf(bp *[]byte) {
	if bp != nil && cap(*bp) <= 64<<10 {
		x.bufs.Put(bp)
	}
}

// Create adds cookie c, with its auth if it carries one. It fails with
// [ErrExists] if a live cookie has the same digest; an expired one is
// replaced. c must pass [ValidateNew], and its authextra must be
// encodable as an event's.
func (x *Index) Create(c record.Cookie) error {
	if err := ValidateNew(c); err != nil {
		return err
	}
	a, bp, err := x.encodeAuth(&c.Auth)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("create cookie: %w", err)
	}
	now := x.now()
	sh, tag := x.shard(c.Digest)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if pos, ok := sh.find(tag, c.Digest); ok {
		s := &sh.slots[pos]
		if !expired(s.created, sh.lifetime(s), now) {
			return ErrExists
		}
	}
	sh.put(tag, c.Digest, c.Created.UnixNano(), int64(c.MaxAge), &a)
	return nil
}

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: next is created and old deleted, as one step. It fails with
// [ErrNotFound], changing nothing, if old is not live, and with [ErrExists]
// if next is.
func (x *Index) Rotate(old record.Digest, next record.Cookie) error {
	if err := ValidateNew(next); err != nil {
		return err
	}
	if old == next.Digest {
		return ErrExists
	}
	a, bp, err := x.encodeAuth(&next.Auth)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("rotate cookie: %w", err)
	}
	now := x.now()
	so, to := x.shard(old)
	sn, tn := x.shard(next.Digest)
	// Both shards' locks, in shard order, so that no reader sees both
	// cookies or neither.
	first, second := so, sn
	if ShardOf(old) > ShardOf(next.Digest) {
		first, second = sn, so
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	opos, ok := so.find(to, old)
	if !ok || expired(so.slots[opos].created, so.lifetime(&so.slots[opos]), now) {
		return ErrNotFound
	}
	if npos, had := sn.find(tn, next.Digest); had && !expired(sn.slots[npos].created, sn.lifetime(&sn.slots[npos]), now) {
		return ErrExists
	}
	sn.put(tn, next.Digest, next.Created.UnixNano(), int64(next.MaxAge), &a)
	if so == sn {
		// The insert may have moved entries: find old again.
		opos, _ = so.find(to, old)
	}
	so.removeAt(opos)
	return nil
}

// SetAuth replaces the auth tuple of the live cookie d; the zero Auth
// clears it. It fails with [ErrNotFound] if no live cookie has the digest,
// and if the authextra cannot be encoded as an event's.
func (x *Index) SetAuth(d record.Digest, a record.Auth) error {
	in, bp, err := x.encodeAuth(&a)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("set auth: %w", err)
	}
	now := x.now()
	sh, tag := x.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pos, ok := sh.find(tag, d)
	if !ok || expired(sh.slots[pos].created, sh.lifetime(&sh.slots[pos]), now) {
		return ErrNotFound
	}
	sh.setAuth(pos, &in)
	return nil
}

// Delete removes the live cookie d. It fails with [ErrNotFound] if no live
// cookie has the digest; an expired entry is removed all the same.
func (x *Index) Delete(d record.Digest) error {
	now := x.now()
	sh, tag := x.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pos, ok := sh.find(tag, d)
	if !ok {
		return ErrNotFound
	}
	gone := expired(sh.slots[pos].created, sh.lifetime(&sh.slots[pos]), now)
	sh.removeAt(pos)
	if gone {
		return ErrNotFound
	}
	return nil
}

// DeleteByAuthID removes every cookie that authid is logged in on and
// returns the digests of those that were live, sorted. Expired ones are
// removed too but not reported.
func (x *Index) DeleteByAuthID(authid string) []record.Digest {
	return x.byAuthID(authid, true)
}

// DigestsByAuthID returns the digests of the live cookies that authid is
// logged in on, sorted.
func (x *Index) DigestsByAuthID(authid string) []record.Digest {
	return x.byAuthID(authid, false)
}

func (x *Index) byAuthID(authid string, remove bool) []record.Digest {
	if authid == "" {
		return nil
	}
	// The reference stays counted while the shards are visited, so that
	// it cannot be freed and given to another authid meanwhile.
	name, ok := x.names.pin(bytesOf(authid))
	if !ok {
		return nil
	}
	defer x.names.release(name)
	// Where the authid's records are, by shard. A record may be freed, or
	// given to another cookie, before its shard is visited: it counts only
	// if it still has the authid then.
	at := x.names.appendMembers(nil, name)
	slices.Sort(at)
	now := x.now()
	var out []record.Digest
	for len(at) > 0 {
		k := at[0] >> recBits
		n := 1
		for n < len(at) && at[n]>>recBits == k {
			n++
		}
		recs := at[:n]
		at = at[n:]
		sh := &x.shards[k].shard
		if remove {
			sh.mu.Lock()
		} else {
			sh.mu.RLock()
		}
		for _, r := range recs {
			i := r & (maxRecs - 1)
			if int(i) >= len(sh.auths) || sh.auths[i].name != name {
				continue // freed meanwhile: a free record has no authid
			}
			pos := int(sh.auths[i].pos)
			if s := &sh.slots[pos]; !expired(s.created, sh.lifetime(s), now) {
				out = append(out, s.digest)
			}
			if remove {
				sh.removeAt(pos)
			}
		}
		if remove {
			sh.mu.Unlock()
		} else {
			sh.mu.RUnlock()
		}
	}
	slices.SortFunc(out, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// Len returns the number of entries in the index, including expired ones
// that have not been purged yet.
func (x *Index) Len() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.RLock()
		n += sh.live
		sh.mu.RUnlock()
	}
	return n
}

// entries yields what each live entry holds, a shard at a time: it copies
// a shard's entries out under its read lock, and yields them after
// unlocking it, so that the loop body may call the index.
func (x *Index) entries(yield func(*found) bool) {
	now := x.now()
	var buf []found
	for i := range x.shards {
		sh := &x.shards[i].shard
		buf = buf[:0]
		sh.mu.RLock()
		for pos, tag := range sh.tags {
			if tag == 0 {
				continue
			}
			if s := &sh.slots[pos]; !expired(s.created, sh.lifetime(s), now) {
				buf = append(buf, sh.at(pos))
			}
		}
		sh.mu.RUnlock()
		for j := range buf {
			if !yield(&buf[j]) {
				return
			}
		}
	}
}

// All returns the live cookies, in no particular order, each with its
// authextra decoded. The loop body runs without any lock held, so it may
// call the index; changes made meanwhile may or may not show, as described
// in the package documentation.
func (x *Index) All() iter.Seq[record.Cookie] {
	return func(yield func(record.Cookie) bool) {
		x.entries(func(f *found) bool { return yield(f.cookie()) })
	}
}

// Views returns the live cookies as the Cookie events that would recreate
// them, in no particular order, without decoding anything: what a
// compaction writes. The View is reused, and valid only during one
// iteration; its bytes are never written again, and may be kept. The loop
// body runs without any lock held, as for All.
func (x *Index) Views() iter.Seq[*record.View] {
	return func(yield func(*record.View) bool) {
		var v record.View
		x.entries(func(f *found) bool {
			f.view(&v)
			return yield(&v)
		})
	}
}

// PurgeExpired removes every expired entry from the index and returns how
// many it removed.
func (x *Index) PurgeExpired() int {
	now := x.now()
	n := 0
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.Lock()
		for pos := 0; pos < len(sh.tags); {
			if sh.tags[pos] != 0 {
				if s := &sh.slots[pos]; expired(s.created, sh.lifetime(s), now) {
					sh.removeAt(pos)
					n++
					continue // removeAt may have moved a later entry here
				}
			}
			pos++
		}
		sh.mu.Unlock()
	}
	return n
}

// ExpiredDigests returns the digests of the entries that have expired but
// are still in the index. The file backend journals a Delete for each
// before it removes them, so that a replay under a clock that has jumped
// backwards cannot revive them.
func (x *Index) ExpiredDigests() []record.Digest {
	now := x.now()
	var ds []record.Digest
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.RLock()
		for pos, tag := range sh.tags {
			if s := &sh.slots[pos]; tag != 0 && expired(s.created, sh.lifetime(s), now) {
				ds = append(ds, s.digest)
			}
		}
		sh.mu.RUnlock()
	}
	return ds
}
