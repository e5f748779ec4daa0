package index

import (
	"iter"
	"time"

	"cookiestore/record"
)

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
