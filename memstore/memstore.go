// Package memstore is cookiestore's memory backend: a cookie index (package
// index) with a janitor that purges expired cookies, behind the methods of a
// store. It forgets everything when the process ends; package filestore keeps
// the same index in front of a journal.
//
// A [Store] maps cookie digests ([record.Digest]: a store never holds a
// cookie ID) to their creation time, lifetime and auth tuple, and principals
// (authids) to the cookies they are logged in on, so that a principal can be
// revoked everywhere at once. Package index describes the memory it takes,
// expiry and concurrency; in short, a cookie whose created + max_age has
// passed is absent for every read and write at once, a removed cookie never
// comes back, and every method is safe for concurrent use.
//
// A returned [record.Cookie] is the caller's: its AuthExtra map is decoded
// afresh for each call, from the msgpack bytes the index keeps. An AuthExtra
// map handed to the Store must be encodable as an event's (nil, booleans,
// numbers, strings, binary, arrays and string-keyed maps), and comes back
// as package record decodes it: integers as int64, floats as float64.
package memstore

import (
	"iter"
	"sync"
	"time"

	"cookiestore/index"
	"cookiestore/record"
)

// ErrExists is returned by [Store.Create] and [Store.Rotate] when a live
// cookie already has the digest. It is index.ErrExists, which every backend
// returns, so that callers test for it with errors.Is whatever the backend.
var ErrExists = index.ErrExists

// ErrNotFound is returned when no live cookie has the digest. It is
// index.ErrNotFound, which every backend returns.
var ErrNotFound = index.ErrNotFound

// DefaultJanitorInterval is how often expired entries are purged when
// [Options.JanitorInterval] is zero.
const DefaultJanitorInterval = time.Minute

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

// Store is the memory backend. Create one with [New]; the zero value is not
// usable.
type Store struct {
	idx *index.Index

	closeOnce sync.Once
	stop      chan struct{} // closed by Close to stop the janitor
	done      chan struct{} // closed by the janitor when it has stopped; nil without one
}

// New returns an empty Store and, unless opts.JanitorInterval is negative,
// starts its janitor. Call [Store.Close] to stop the janitor.
func New(opts Options) *Store {
	s := &Store{idx: index.New(index.Options{Clock: opts.Clock}), stop: make(chan struct{})}
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
			s.idx.PurgeExpired()
		}
	}
}

// Close stops the janitor and waits for it to return. The store stays
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

// Get returns the live cookie d. An expired cookie is absent.
func (s *Store) Get(d record.Digest) (record.Cookie, bool) { return s.idx.Get(d) }

// Create adds cookie c, with its auth if it carries one. It fails with
// [ErrExists] if a live cookie has the same digest; an expired one is
// replaced. The digest must not be zero, Created must be set and
// representable in Unix nanoseconds (years 1678 to 2262), and MaxAge must
// be positive.
func (s *Store) Create(c record.Cookie) error { return s.idx.Create(c) }

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: next is created and old deleted, as one step. It fails with
// [ErrNotFound], changing nothing, if old is not live, and with [ErrExists]
// if next is.
func (s *Store) Rotate(old record.Digest, next record.Cookie) error { return s.idx.Rotate(old, next) }

// SetAuth replaces the auth tuple of the live cookie d; the zero Auth
// clears it. It fails with [ErrNotFound] if no live cookie has the digest.
func (s *Store) SetAuth(d record.Digest, a record.Auth) error { return s.idx.SetAuth(d, a) }

// Delete removes the live cookie d. It fails with [ErrNotFound] if no live
// cookie has the digest; an expired entry is removed all the same. The
// reason is what a journal would record; the memory backend keeps none.
func (s *Store) Delete(d record.Digest, _ record.DeleteReason) error { return s.idx.Delete(d) }

// DeleteByAuthID removes every cookie that authid is logged in on and
// returns the digests of those that were live, sorted. Expired ones are
// removed too but not reported. The error is always nil; it is there for
// backends that can fail.
func (s *Store) DeleteByAuthID(authid string) ([]record.Digest, error) {
	return s.idx.DeleteByAuthID(authid), nil
}

// DigestsByAuthID returns the digests of the live cookies that authid is
// logged in on, sorted.
func (s *Store) DigestsByAuthID(authid string) []record.Digest { return s.idx.DigestsByAuthID(authid) }

// Len returns the number of cookies in the store, including expired ones
// that have not been purged yet.
func (s *Store) Len() int { return s.idx.Len() }

// All returns the live cookies, in no particular order. The loop body runs
// without any lock held, so it may call the Store; changes made meanwhile
// may or may not show.
func (s *Store) All() iter.Seq[record.Cookie] { return s.idx.All() }

// PurgeExpired removes every expired cookie and returns how many it
// removed. The janitor calls it every Options.JanitorInterval.
func (s *Store) PurgeExpired() int { return s.idx.PurgeExpired() }
