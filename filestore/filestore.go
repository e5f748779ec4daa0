// Package filestore is cookiestore's file backend: the in-memory index of
// package memstore, fed by an append-only journal (package journal) and
// rebuilt from it at open (package replay).
//
// Every mutation is encoded as a record.Event, appended to the journal, made
// durable as the sync mode says, and only then applied to the index (the very
// event the journal holds, as a replay would apply it) and returned to the
// caller. The checks (does the cookie exist, is it live) happen before the
// append, under a per-ID lock, so the index need not repeat them. With the
// default mode, journal.SyncAlways, a call that returned is on disk: a crash
// afterwards cannot forget it. Concurrent callers share one write and one
// fdatasync (group commit).
//
// The journal only grows, so the store compacts it: it writes the live,
// unexpired cookies as compressed batch frames into a temporary file beside
// the journal, then holds the writers just long enough to copy the frames
// appended meanwhile, fsync, and rename the new file over the old one. A crash
// at any step leaves the whole old file or the whole new one. Compaction runs
// by itself once dead bytes pass Options.CompactRatio of a journal of at least
// Options.CompactMinBytes, at open when Options.PurgeOnStartup is set, and on
// demand through [Store.Compact].
//
// Expired cookies are invisible to every read at once. A janitor deletes them
// for good by appending a Delete event for each, so that a clock that later
// jumps backwards cannot bring them back.
//
// Example:
//
//	s, err := filestore.Open(".cookiestore/cookies.dat", filestore.Options{})
//	if err != nil {
//		return err // errors.Is(err, journal.ErrLocked), journal.ErrCorrupt, ...
//	}
//	defer s.Close()
//	id, _ := record.NewID(nil, record.DefaultIDLength)
//	err = s.Create(record.Cookie{ID: id, Created: time.Now(), MaxAge: 24 * time.Hour})
package filestore

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/record"
	"cookiestore/replay"
)

// Defaults of the Options that are zero.
const (
	DefaultCompactRatio    = 0.5
	DefaultCompactMinBytes = 4 << 20
	DefaultJanitorInterval = time.Minute
)

// stripes is the number of locks that order mutations of the same cookie.
// Two calls on one ID must reach the index in journal order, or a replay
// would disagree with the live store; calls on different IDs run in
// parallel and share fsyncs. A call whose ID shares a stripe with another
// in flight waits out that call's fdatasync before joining a group, so
// there are many: with 256, a fifth of 64 concurrent writers waited each
// round (48 events per fdatasync against 55 with 4096), for 32 KiB.
const stripes = 4096

// Options tune a Store. The zero value is durable and sane.
type Options struct {
	Sync            journal.SyncMode           // when a mutation is on disk; zero = SyncAlways
	SyncInterval    time.Duration              // fdatasync period for SyncInterval; zero = journal default
	Clock           func() time.Time           // the time for expiry; nil = time.Now
	PurgeOnStartup  bool                       // compact at open, dropping expired cookies
	CompactRatio    float64                    // dead/total bytes that starts a compaction; zero = 0.5
	CompactMinBytes int64                      // no automatic compaction below this size; zero = 4 MiB; < 0 = never
	JanitorInterval time.Duration              // how often expired cookies are deleted; zero = 1 minute; < 0 = never
	Logger          *slog.Logger               // nil = discard
	FS              journal.FS                 // the file layer; nil = the OS
	OnSync          func(time.Duration, error) // called after each fdatasync, for metrics
	OnCompact       func(CompactStats, error)  // called after each compaction, automatic or not
}

// CompactStats describes one compaction.
type CompactStats struct {
	Before   int64         // journal bytes before
	After    int64         // journal bytes after
	Cookies  int           // live cookies written
	Duration time.Duration // wall time, including the wait for writers
}

// Stats is a snapshot of a Store's counters.
type Stats struct {
	Journal     journal.Stats // appends, bytes, fsyncs and their latency
	Replay      replay.Stats  // what the open replayed
	Cookies     int           // entries in the index
	Compactions int64         // compactions that completed since open
	LastCompact CompactStats  // the latest of them
	DeadRatio   float64       // share of journal bytes that no live cookie needs, as last measured
	Err         error         // non-nil once the store is read-only
}

// Store is the file backend. It is safe for concurrent use.
type Store struct {
	path string
	opts Options
	log  *slog.Logger
	now  func() time.Time

	j   *journal.Journal
	idx *memstore.Store

	// stripes order the mutations of each cookie: a mutation holds its
	// cookie's stripe from its check to its apply, append and fdatasync
	// included. Holding all of them (lockAll) freezes the journal's end at
	// a point where every event before it has reached the index.
	seed    maphash.Seed
	stripes [stripes]sync.Mutex
	bufs    sync.Pool

	replayStats replay.Stats
	compactMu   sync.Mutex // one compaction at a time
	compactions atomic.Int64
	lastCompact atomic.Pointer[CompactStats]
	deadRatio   atomic.Uint64 // math.Float64bits of the last measurement
	nextCheck   atomic.Int64  // journal size at which the dead ratio is measured again
	compacting  atomic.Bool

	stop     chan struct{}  // closed by Close to stop the background goroutines
	bg       sync.WaitGroup // the janitor and a running compaction check
	bgMu     sync.Mutex     // guards bgClosed, so that no goroutine starts after Close waits
	bgClosed bool
	closeMu  sync.Mutex // serialises Close
	closed   bool
	closeErr error
}

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("filestore: closed")

// Open replays the journal at path into a fresh index and returns a Store that
// appends to it. The journal is created (0600, its folder 0700) if missing and
// locked against other processes; a torn tail from a crash is truncated and
// logged; corruption in the middle is refused with an error that says to run
// `cookiestore repair`.
func Open(path string, opts Options) (*Store, error) {
	if opts.CompactRatio == 0 {
		opts.CompactRatio = DefaultCompactRatio
	}
	if opts.CompactRatio <= 0 || opts.CompactRatio >= 1 {
		return nil, fmt.Errorf("filestore: compact ratio must be between 0 and 1, got %v", opts.CompactRatio)
	}
	if opts.CompactMinBytes == 0 {
		opts.CompactMinBytes = DefaultCompactMinBytes
	}
	if opts.JanitorInterval == 0 {
		opts.JanitorInterval = DefaultJanitorInterval
	}
	s := &Store{
		path: path,
		opts: opts,
		log:  opts.Logger,
		now:  opts.Clock,
		seed: maphash.MakeSeed(),
		stop: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	// The store runs its own janitor, which journals each purge.
	s.idx = memstore.New(memstore.Options{Clock: s.now, JanitorInterval: -1})
	j, st, err := replay.Open(path, s.idx, journal.Options{
		Sync:         opts.Sync,
		SyncInterval: opts.SyncInterval,
		Logger:       s.log,
		FS:           opts.FS,
		OnSync:       opts.OnSync,
	})
	if err != nil {
		s.idx.Close()
		return nil, err
	}
	s.j = j
	s.replayStats = st
	s.log.Info("cookie journal opened", "path", path, "events", st.Events, "cookies", st.Cookies,
		"bytes", st.Bytes, "dropped_bytes", st.DroppedBytes, "duration", st.Duration)
	s.nextCheck.Store(max(opts.CompactMinBytes, j.Size()+j.Size()/4))
	if opts.PurgeOnStartup {
		if _, err := s.Compact(); err != nil {
			s.j.Close()
			s.idx.Close()
			return nil, fmt.Errorf("filestore: purge on startup: %w", err)
		}
	}
	if opts.JanitorInterval > 0 {
		s.bg.Add(1)
		go s.janitor(opts.JanitorInterval)
	}
	return s, nil
}

// Path returns the journal's file name.
func (s *Store) Path() string { return s.path }

// Get returns the live cookie id. An expired cookie is absent.
func (s *Store) Get(id string) (record.Cookie, bool) { return s.idx.Get(id) }

// Len returns the number of cookies in the index, including expired ones that
// the janitor has not deleted yet.
func (s *Store) Len() int { return s.idx.Len() }

// Range calls fn for each live cookie until fn returns false.
func (s *Store) Range(fn func(c record.Cookie) bool) { s.idx.Range(fn) }

// IDsByAuthID returns the live cookies on which authid is logged in.
func (s *Store) IDsByAuthID(authid string) []string { return s.idx.IDsByAuthID(authid) }

// Create stores a new cookie, without auth: logins go through SetAuth. It
// returns memstore.ErrExists if a live cookie already has the ID, and returns
// only once the cookie is durable.
func (s *Store) Create(c record.Cookie) error {
	if err := memstore.ValidateNew(c); err != nil {
		return err
	}
	m := s.lock(c.ID)
	defer s.unlock(m)
	if _, ok := s.idx.Get(c.ID); ok {
		return memstore.ErrExists
	}
	ev := record.Create(c.ID, c.Created, c.MaxAge)
	return s.commit(&ev)
}

// SetAuth replaces the auth tuple of cookie id; the zero Auth logs it out
// without deleting it. It returns memstore.ErrNotFound for an unknown or
// expired cookie.
func (s *Store) SetAuth(id string, a record.Auth) error {
	m := s.lock(id)
	defer s.unlock(m)
	if _, ok := s.idx.Get(id); !ok {
		return memstore.ErrNotFound
	}
	ev := record.Update(id, a)
	return s.commit(&ev)
}

// Delete removes cookie id for good: logout, or revoke. It returns
// memstore.ErrNotFound for an unknown or expired cookie.
func (s *Store) Delete(id string) error {
	m := s.lock(id)
	defer s.unlock(m)
	if _, ok := s.idx.Get(id); !ok {
		return memstore.ErrNotFound
	}
	ev := record.Delete(id)
	return s.commit(&ev)
}

// DeleteByAuthID deletes every live cookie on which authid is logged in and
// returns their IDs. On an error, the IDs deleted so far are returned with it.
func (s *Store) DeleteByAuthID(authid string) ([]string, error) {
	var deleted []string
	for _, id := range s.idx.IDsByAuthID(authid) {
		err := s.deleteIfAuthID(id, authid)
		if errors.Is(err, memstore.ErrNotFound) {
			continue // logged out or expired meanwhile
		}
		if err != nil {
			return deleted, err
		}
		deleted = append(deleted, id)
	}
	return deleted, nil
}

func (s *Store) deleteIfAuthID(id, authid string) error {
	m := s.lock(id)
	defer s.unlock(m)
	c, ok := s.idx.Get(id)
	if !ok || c.Auth.AuthID != authid {
		return memstore.ErrNotFound
	}
	ev := record.Delete(id)
	return s.commit(&ev)
}

// Err returns nil while the store accepts writes, and the reason once it has
// turned read-only after a failed write or fdatasync.
func (s *Store) Err() error { return s.j.Err() }

// Sync forces everything appended so far to disk, whatever the sync mode.
func (s *Store) Sync() error { return s.j.Sync() }

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Journal:     s.j.Stats(),
		Replay:      s.replayStats,
		Cookies:     s.idx.Len(),
		Compactions: s.compactions.Load(),
		DeadRatio:   s.lastDeadRatio(),
		Err:         s.j.Err(),
	}
	if lc := s.lastCompact.Load(); lc != nil {
		st.LastCompact = *lc
	}
	return st
}

// Close stops the janitor, waits for a running compaction, syncs the journal
// and releases its lock. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	s.bgMu.Lock()
	s.bgClosed = true
	close(s.stop)
	s.bgMu.Unlock()
	s.bg.Wait()
	s.compactMu.Lock() // let a running compaction finish first
	s.closeErr = s.j.Close()
	s.compactMu.Unlock()
	s.idx.Close()
	return s.closeErr
}

// lock takes the stripe lock of id. It returns the stripe, for unlock; no
// closure, so the hot path stays allocation free.
func (s *Store) lock(id string) *sync.Mutex {
	m := &s.stripes[maphash.String(s.seed, id)%stripes]
	m.Lock()
	return m
}

func (s *Store) unlock(m *sync.Mutex) { m.Unlock() }

// lockAll takes every stripe lock, in order, and so waits for every
// mutation in flight and holds off new ones. Compaction and purges use it;
// they are rare, so that mutations need no lock shared by all of them,
// whose cache line two cores would pass back and forth at every call.
func (s *Store) lockAll() {
	for i := range s.stripes {
		s.stripes[i].Lock()
	}
}

func (s *Store) unlockAll() {
	for i := range s.stripes {
		s.stripes[i].Unlock()
	}
}

// commit encodes ev into a pooled buffer, appends it to the journal and,
// once it is as durable as the sync mode says, applies it to the index:
// the order every mutation keeps, under its stripe lock.
func (s *Store) commit(ev *record.Event) error {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	b, err := record.AppendEvent((*bp)[:0], ev)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	*bp = b
	if _, err := s.j.Append(b); err != nil {
		return fmt.Errorf("filestore: append %s of a cookie: %w", ev.Kind, err)
	}
	s.idx.Apply(ev)
	if s.opts.CompactMinBytes > 0 && s.j.Size() >= s.nextCheck.Load() {
		s.startCompactionCheck()
	}
	return nil
}
