// Package memstore is cookiestore's index of cookies, and its memory backend.
//
// A [Store] maps cookie digests ([record.Digest]: a store never holds a
// cookie ID) to their creation time, lifetime and auth tuple, and principals
// (authids) to the cookies they are logged in on, so that a principal can be
// revoked everywhere at once. The file backend keeps the
// same index in front of its journal and rebuilds it at startup by applying
// the journal's events ([Store.Apply], [Store.ApplyAll], with [Store.Grow] to
// size it first); used on its own, a Store is the memory backend and forgets
// everything when the process ends.
//
// # Memory
//
// Each shard keeps its entries in a hash table of its own (see table.go)
// whose arrays hold no pointers: per cookie, a 4-byte tag and a 40-byte
// slot (digest, creation time, lifetime, which auth tuple), at a load of
// 3/8 to 3/4 (BenchmarkIndexMemory in package bench measures the bytes per
// cookie), and the garbage collector has nothing in it to scan but the auth
// tuples of logged-in cookies.
//
// # Expiry
//
// A cookie whose created + max_age is at or before the clock's now is absent
// for every read and every write at once, whether or not it has been purged:
// [Store.Get] and [Store.All] skip it, [Store.SetAuth] and [Store.Delete]
// report [ErrNotFound], and [Store.Create] may reuse its ID. A janitor
// goroutine removes such entries from memory every [Options.JanitorInterval];
// a removed or deleted cookie never comes back, even if the clock later steps
// backwards. (An expired entry that has not been purged yet reappears if the
// clock steps back before its expiry: the index holds what the events say,
// and the clock only decides what is visible.)
//
// # Concurrency
//
// All methods are safe for concurrent use. The index is split into shards by
// the cookie's digest, each behind its own read-write lock, so
// lookups on different cookies rarely meet and reads scale across cores.
// Operations that span principals or the whole index ([Store.DeleteByAuthID],
// [Store.DigestsByAuthID], [Store.All], [Store.PurgeExpired], [Store.Len]) visit
// the shards one after another: each shard is seen consistently, but changes
// made meanwhile to shards already visited are not.
//
// # Sharing
//
// A returned [record.Cookie] is a copy, except for its Auth.AuthExtra map,
// which is shared with the index to keep lookups free of allocations. Callers
// must treat AuthExtra maps as read-only, both the ones they get and the ones
// they hand to [Store.SetAuth] or [Store.Apply].
package memstore

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

// ErrExists is returned by [Store.Create] when a live cookie already has the
// digest. The other backends return it too (filestore.ErrExists is this
// value), so that callers test for it with errors.Is whatever the backend.
var ErrExists = errors.New("a live cookie with this digest exists")

// ErrNotFound is returned when no live cookie has the digest. The other
// backends return it too.
var ErrNotFound = errors.New("no such cookie")

// DefaultJanitorInterval is how often expired entries are purged when
// [Options.JanitorInterval] is zero.
const DefaultJanitorInterval = time.Minute

// shardCount is a power of two, so that a shard is picked by the top
// shardBits bits of a digest's hash. 64 shards keep lock contention negligible
// on machines with dozens of cores while costing only a few kilobytes.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
)

// Options configure a [Store]. The zero value is ready to use.
type Options struct {
	// Clock returns the current time; nil means time.Now. Tests inject a
	// fake clock to step through expiry.
	Clock func() time.Time
	// JanitorInterval is how often a background goroutine purges expired
	// entries: 0 means DefaultJanitorInterval, and a negative value starts no
	// janitor (call PurgeExpired yourself).
	JanitorInterval time.Duration
}

// entry is what the index knows of a cookie, as its table hands it out.
type entry struct {
	created int64        // issue time, Unix nanoseconds
	maxAge  int64        // lifetime, nanoseconds
	auth    *record.Auth // nil when nobody is logged in; never mutated once stored
}

// expiredAt reports created + maxAge <= now, saturating instead of wrapping
// around for lifetimes near the limits of int64 (which only a hostile or
// damaged journal could hold).
func (e entry) expiredAt(now int64) bool {
	exp := e.created + e.maxAge
	switch {
	case e.maxAge > 0 && exp < e.created:
		return false // beyond the end of time
	case e.maxAge < 0 && exp > e.created:
		return true // before its beginning
	}
	return exp <= now
}

func (e entry) cookie(d record.Digest) record.Cookie {
	c := record.Cookie{Digest: d, Created: time.Unix(0, e.created), MaxAge: time.Duration(e.maxAge)}
	if e.auth != nil {
		c.Auth = *e.auth
	}
	return c
}

func (e entry) authID() string {
	if e.auth == nil {
		return ""
	}
	return e.auth.AuthID
}

// shardState is one lock's worth of the index.
type shardState struct {
	mu     sync.RWMutex
	ids    table               // cookie digest -> entry
	byAuth map[string]*authSet // authid -> digests of the cookies it is logged in on
}

// shard pads shardState to two cache lines so that neighbouring locks do not
// share one (adjacent-line prefetch makes 64 bytes not quite enough).
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

// put stores e under d, whose hash is h, and keeps byAuth in step. The
// caller holds mu.
func (sh *shard) put(h uint64, d record.Digest, e entry) {
	old, pos, had := sh.ids.lookup(h, d)
	sh.putAt(pos, had, old, h, d, e)
}

// putAt is put for a caller that has looked d up already, and changed
// nothing in the shard since: pos, had and old are what lookup returned.
// It saves probing the table twice.
func (sh *shard) putAt(pos int, had bool, old entry, h uint64, d record.Digest, e entry) {
	if had {
		sh.ids.set(pos, e)
	} else {
		sh.ids.insert(pos, h, d, e)
	}
	if oldAuth, newAuth := old.authID(), e.authID(); !had || oldAuth != newAuth {
		if had {
			sh.unlink(oldAuth, d)
		}
		sh.link(newAuth, d)
	}
}

// setAuthAt replaces the auth tuple of the entry old, which lookup found at
// position pos for d, and keeps byAuth in step: SetAuth and an applied
// Update both end here. The caller holds mu.
func (sh *shard) setAuthAt(pos int, old entry, h uint64, d record.Digest, auth *record.Auth) {
	e := old
	e.auth = auth
	sh.putAt(pos, true, old, h, d, e)
}

// removeAt removes the entry at position pos, whose digest is d, and its
// byAuth link. The caller holds mu.
func (sh *shard) removeAt(pos int, d record.Digest, e entry) {
	sh.ids.removeAt(pos)
	sh.unlink(e.authID(), d)
}

func (sh *shard) link(authid string, d record.Digest) {
	if authid == "" {
		return
	}
	set := sh.byAuth[authid]
	if set == nil {
		set = &authSet{}
		sh.byAuth[authid] = set
	}
	set.add(d)
}

func (sh *shard) unlink(authid string, d record.Digest) {
	if authid == "" {
		return
	}
	set := sh.byAuth[authid]
	if set == nil {
		return
	}
	set.remove(d)
	if set.len() == 0 {
		delete(sh.byAuth, authid)
	}
}

// Store is the cookie index. Create one with [New]; the zero value is not
// usable.
type Store struct {
	shards [shardCount]shard
	clock  func() time.Time

	closeOnce sync.Once
	stop      chan struct{} // closed by Close to stop the janitor
	done      chan struct{} // closed by the janitor when it has stopped; nil without one
}

// New returns an empty Store and, unless opts.JanitorInterval is negative,
// starts its janitor. Call [Store.Close] to stop the janitor.
func New(opts Options) *Store {
	s := &Store{clock: opts.Clock, stop: make(chan struct{})}
	if s.clock == nil {
		s.clock = time.Now
	}
	for i := range s.shards {
		s.shards[i].byAuth = make(map[string]*authSet)
	}
	interval := opts.JanitorInterval
	if interval == 0 {
		interval = DefaultJanitorInterval
	}
	if interval > 0 {
		s.done = make(chan struct{})
		go s.janitor(interval)
	}
	return s
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.PurgeExpired()
		}
	}
}

// Close stops the janitor and waits for it to return. The index stays
// usable; Close exists so that a Store ends like the file backend does.
// Calling Close again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		if s.done != nil {
			<-s.done
		}
	})
	return nil
}

// hash returns the hash of digest d, with its low bit set for the table
// (see tagOf). Its top bits pick the shard. A digest is already uniformly
// distributed, and only the holder of a cookie ID can place one (see
// record.Digest), so its first bytes serve as is: no seed is needed against
// collisions that an attacker cannot choose.
func hash(d record.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) | 1 }

func (s *Store) shard(h uint64) *shard { return &s.shards[h>>(64-shardBits)] }

func (s *Store) now() int64 { return s.clock().UnixNano() }

// Get returns the live cookie d. An expired cookie is absent.
func (s *Store) Get(d record.Digest) (record.Cookie, bool) {
	h := hash(d)
	sh := s.shard(h)
	sh.mu.RLock()
	e, _, ok := sh.ids.lookup(h, d)
	sh.mu.RUnlock()
	// Reading the clock outside the lock keeps the critical section short;
	// e is a copy, and the Auth it points to is never mutated.
	if !ok || e.expiredAt(s.now()) {
		return record.Cookie{}, false
	}
	return e.cookie(d), true
}

// Create adds cookie c, with its auth if it carries one. It fails with
// [ErrExists] if a live cookie has the same digest; an expired one is
// replaced. The digest must not be zero, Created must be set and
// representable in Unix nanoseconds (years 1678 to 2262), and MaxAge must
// be positive.
func (s *Store) Create(c record.Cookie) error {
	if err := ValidateNew(c); err != nil {
		return err
	}
	e := entry{created: c.Created.UnixNano(), maxAge: int64(c.MaxAge), auth: normalize(c.Auth)}
	now := s.now()
	h := hash(c.Digest)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, pos, had := sh.ids.lookup(h, c.Digest)
	if had && !old.expiredAt(now) {
		return ErrExists
	}
	sh.putAt(pos, had, old, h, c.Digest, e)
	return nil
}

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: next is created and old deleted, as one step. It fails with
// [ErrNotFound], changing nothing, if old is not live, and with [ErrExists]
// if next is.
func (s *Store) Rotate(old record.Digest, next record.Cookie) error {
	if err := ValidateNew(next); err != nil {
		return err
	}
	if old == next.Digest {
		return ErrExists
	}
	now := s.now()
	// Both shards' locks, in shard order, so that no reader sees both
	// cookies or neither.
	ho, hn := hash(old), hash(next.Digest)
	so, sn := s.shard(ho), s.shard(hn)
	first, second := so, sn
	if ho>>(64-shardBits) > hn>>(64-shardBits) {
		first, second = sn, so
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	e, opos, ok := so.ids.lookup(ho, old)
	if !ok || e.expiredAt(now) {
		return ErrNotFound
	}
	prev, npos, had := sn.ids.lookup(hn, next.Digest)
	if had && !prev.expiredAt(now) {
		return ErrExists
	}
	sn.putAt(npos, had, prev, hn, next.Digest, entry{created: next.Created.UnixNano(), maxAge: int64(next.MaxAge), auth: normalize(next.Auth)})
	if so == sn {
		// The insert may have moved entries: find old again.
		e, opos, _ = so.ids.lookup(ho, old)
	}
	so.removeAt(opos, old, e)
	return nil
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

// normalize returns what the index stores for a: nil for nobody, else a
// private copy of the tuple with an empty AuthExtra made nil, as the
// encoding does, so that the live and the replayed index compare equal.
func normalize(a record.Auth) *record.Auth {
	if a.IsZero() {
		return nil
	}
	if len(a.AuthExtra) == 0 {
		a.AuthExtra = nil
	}
	return &a
}

// SetAuth replaces the auth tuple of the live cookie d; the zero Auth
// clears it. It fails with [ErrNotFound] if no live cookie has the digest.
func (s *Store) SetAuth(d record.Digest, a record.Auth) error {
	auth := normalize(a)
	now := s.now()
	h := hash(d)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, pos, ok := sh.ids.lookup(h, d)
	if !ok || old.expiredAt(now) {
		return ErrNotFound
	}
	sh.setAuthAt(pos, old, h, d, auth)
	return nil
}

// Delete removes the live cookie d. It fails with [ErrNotFound] if no live
// cookie has the digest; an expired entry is removed all the same. The
// reason is what a journal would record; the memory backend keeps none.
func (s *Store) Delete(d record.Digest, _ record.DeleteReason) error {
	now := s.now()
	h := hash(d)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, pos, ok := sh.ids.lookup(h, d)
	if !ok {
		return ErrNotFound
	}
	sh.removeAt(pos, d, e)
	if e.expiredAt(now) {
		return ErrNotFound
	}
	return nil
}

// DeleteByAuthID removes every cookie that authid is logged in on and
// returns the digests of those that were live, sorted. Expired ones are
// removed too but not reported. The error is always nil; it is there for
// backends that can fail.
func (s *Store) DeleteByAuthID(authid string) ([]record.Digest, error) {
	if authid == "" {
		return nil, nil
	}
	now := s.now()
	var out []record.Digest
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		var owned []record.Digest
		if set := sh.byAuth[authid]; set != nil {
			owned = set.list() // remove changes the set
		}
		for _, d := range owned {
			e, pos, _ := sh.ids.lookup(hash(d), d) // byAuth lists only digests in the table
			if !e.expiredAt(now) {
				out = append(out, d)
			}
			sh.removeAt(pos, d, e)
		}
		sh.mu.Unlock()
	}
	sortDigests(out)
	return out, nil
}

// DigestsByAuthID returns the digests of the live cookies that authid is
// logged in on, sorted.
func (s *Store) DigestsByAuthID(authid string) []record.Digest {
	if authid == "" {
		return nil
	}
	now := s.now()
	var out []record.Digest
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if set := sh.byAuth[authid]; set != nil {
			for _, d := range set.list() {
				if e, _, _ := sh.ids.lookup(hash(d), d); !e.expiredAt(now) {
					out = append(out, d)
				}
			}
		}
		sh.mu.RUnlock()
	}
	sortDigests(out)
	return out
}

func sortDigests(ds []record.Digest) {
	slices.SortFunc(ds, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
}

// Apply applies one decoded event to the index, without looking at the
// clock: Create and Cookie store the whole cookie (Create with no auth),
// replacing any entry with its digest; Update replaces the auth tuple of an
// entry, and is ignored if there is none; Delete removes the entry. Other
// kinds are ignored.
//
// Apply is what replay and the file backend use. Applying the events of a
// Store's successful calls in order, one Create or Cookie per Create, one
// Update per SetAuth, one Cookie and one Delete per Rotate, and one Delete
// per Delete and per digest that DeleteByAuthID returned, gives an index
// whose live cookies are those of the original at any time from the latest
// clock reading on. Applying an event twice in a row is the same as
// applying it once. e is not retained, but its AuthExtra map is.
func (s *Store) Apply(e *record.Event) {
	h := hash(e.Digest)
	sh := s.shard(h)
	sh.mu.Lock()
	sh.apply(h, e)
	sh.mu.Unlock()
}

// apply applies e, whose digest's hash is h, to the shard; the caller holds
// mu.
func (sh *shard) apply(h uint64, e *record.Event) {
	switch e.Kind {
	case record.KindCreate:
		sh.put(h, e.Digest, entry{created: e.Created.UnixNano(), maxAge: int64(e.MaxAge)})
	case record.KindCookie:
		sh.put(h, e.Digest, entry{created: e.Created.UnixNano(), maxAge: int64(e.MaxAge), auth: normalize(e.Auth)})
	case record.KindUpdate:
		if old, pos, ok := sh.ids.lookup(h, e.Digest); ok {
			sh.setAuthAt(pos, old, h, e.Digest, normalize(e.Auth))
		}
	case record.KindDelete:
		if ent, pos, ok := sh.ids.lookup(h, e.Digest); ok {
			sh.removeAt(pos, e.Digest, ent)
		}
	}
}

// ApplyAll applies evs in order; the result is the same as calling Apply for
// each. It is several times faster for thousands of events, which is why
// replay uses it: it takes each shard's lock once per call, and it looks up
// a run of a shard's digests before changing any, so that the processor
// fetches their slots from memory together instead of one cache miss after
// another. Events on one cookie keep their order; only events on different
// cookies, which commute, are reordered.
func (s *Store) ApplyAll(evs []record.Event) {
	if len(evs) < 2*shardCount {
		for i := range evs {
			s.Apply(&evs[i])
		}
		return
	}
	// A counting sort of event indexes by shard, stable so that each
	// cookie's events stay in order.
	var start [shardCount + 1]int32
	hashes, order := make([]uint64, len(evs)), make([]int32, len(evs))
	for i := range evs {
		hashes[i] = hash(evs[i].Digest)
		start[hashes[i]>>(64-shardBits)+1]++
	}
	for k := 1; k <= shardCount; k++ {
		start[k] += start[k-1]
	}
	next := start
	for i, h := range hashes {
		k := h >> (64 - shardBits)
		order[next[k]] = int32(i)
		next[k]++
	}
	for k := range shardCount {
		group := order[start[k]:start[k+1]]
		if len(group) == 0 {
			continue
		}
		sh := &s.shards[k]
		sh.mu.Lock()
		for len(group) > 0 {
			// Reading the run's home positions first carries no
			// dependency from one to the next, so their misses overlap;
			// the window keeps what they fetched in cache until the
			// second loop uses it.
			run := group[:min(len(group), applyWindow)]
			group = group[len(run):]
			_ = sh.ids.touch(hashes, run)
			for _, i := range run {
				sh.apply(hashes[i], &evs[i])
			}
		}
		sh.mu.Unlock()
	}
}

// applyWindow is how many digests ApplyAll looks up ahead: enough to keep many
// memory fetches in flight, few enough that their cache lines stay in L1.
const applyWindow = 64

// Grow makes room for n more cookies, so that loading many of them, as
// replay does, does not rehash the index step by step along the way; that
// rehashing, not decoding, is most of the cost of a replay. A presized index
// is somewhat less dense than a grown one, so n should be an estimate, not a
// generous bound.
func (s *Store) Grow(n int) {
	if n <= 0 {
		return
	}
	per := n/shardCount + 1
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.ids.reserve(per)
		sh.mu.Unlock()
	}
}

// Len returns the number of entries in the index, including expired ones
// that have not been purged yet.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += sh.ids.live
		sh.mu.RUnlock()
	}
	return n
}

// All returns the live cookies, in no particular order. The loop body runs
// without any lock held, so it may call the Store; changes made meanwhile
// may or may not show, as described in the package documentation.
func (s *Store) All() iter.Seq[record.Cookie] {
	return func(yield func(record.Cookie) bool) {
		type item struct {
			d record.Digest
			e entry
		}
		now := s.now()
		var buf []item
		for i := range s.shards {
			sh := &s.shards[i]
			buf = buf[:0]
			sh.mu.RLock()
			for pos, tag := range sh.ids.tags {
				if tag == 0 {
					continue
				}
				if e := sh.ids.entryAt(pos); !e.expiredAt(now) {
					buf = append(buf, item{sh.ids.digestAt(pos), e})
				}
			}
			sh.mu.RUnlock()
			for _, it := range buf {
				if !yield(it.e.cookie(it.d)) {
					return
				}
			}
		}
	}
}

// PurgeExpired removes every expired entry from the index and returns how
// many it removed.
func (s *Store) PurgeExpired() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for pos := 0; pos < len(sh.ids.tags); {
			if sh.ids.tags[pos] != 0 {
				if e := sh.ids.entryAt(pos); e.expiredAt(now) {
					sh.removeAt(pos, sh.ids.digestAt(pos), e)
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
