// Package filestore is cookiestore's file backend: the in-memory index of
// package index, fed by an append-only journal (package journal) and
// rebuilt from it at open (package replay).
//
// A cookie is known by the digest of its ID (record.Digest); the journal
// never holds an ID. Every mutation is encoded as a record.Event, appended to
// the journal, made durable as the sync mode says, and only then applied to
// the index (the very event the journal holds, as a replay would apply it)
// and returned to the caller. The checks (does the cookie exist, is it live) happen before the
// append, under a per-ID lock, so the index need not repeat them. With the
// default mode, journal.SyncAlways, a call that returned is on disk: a crash
// afterwards cannot forget it. Concurrent callers share one write and one
// fdatasync (group commit).
//
// The journal only grows, so the store compacts it: it writes one Cookie
// event per live, unexpired cookie, in compressed batch frames, into a
// temporary file beside
// the journal, then holds the writers just long enough to copy the frames
// appended meanwhile, fsync, and rename the new file over the old one. A crash
// at any step leaves the whole old file or the whole new one. Compaction runs
// by itself once dead bytes pass Options.CompactRatio of a journal of at least
// Options.CompactMinBytes, at open when Options.PurgeOnStartup is set, and on
// demand through [Store.Compact]. A journal of format version 1, whose
// events name cookies by their IDs, is compacted at open: the new file is
// version 2, and the IDs are gone from it.
//
// Expired cookies are invisible to every read at once. A janitor deletes them
// for good by appending a Delete event for each, so that a clock that later
// jumps backwards cannot bring them back.
//
// Example:
//
//	s, err := filestore.Open(".cookiestore/cookies.dat", filestore.Options{})
//	if err != nil {
//		return err // errors.Is(err, filestore.ErrLocked), filestore.ErrCorrupt, ...
//	}
//	defer s.Close()
//	id, _ := record.NewID(nil, record.DefaultIDLength) // goes to the browser
//	err = s.Create(record.Cookie{Digest: record.DigestOf(id), Created: time.Now(), MaxAge: 24 * time.Hour})
package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"cookiestore/index"
	"cookiestore/journal"
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
	idx *index.Index

	// stripes order the mutations of each cookie: a mutation holds its
	// cookie's stripe from its check to its apply, append and fdatasync
	// included. Holding all of them (lockAll) freezes the journal's end at
	// a point where every event before it has reached the index.
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

// Errors that callers test with errors.Is. They are the values of the
// packages that produce them, so that one import serves: a Store's
// ErrNotFound is the index's (and so memstore's), and its ErrLocked the
// journal's.
var (
	// ErrClosed is returned by calls on a closed Store.
	ErrClosed = errors.New("filestore: closed")
	// ErrNotFound: no live cookie has the digest.
	ErrNotFound = index.ErrNotFound
	// ErrExists: a live cookie has the digest already.
	ErrExists = index.ErrExists
	// ErrLocked: another process holds the journal.
	ErrLocked = journal.ErrLocked
	// ErrCorrupt: the journal is damaged in the middle and needs repair.
	ErrCorrupt = journal.ErrCorrupt
	// ErrReadOnly: a write or fdatasync failed, and the store refuses writes.
	ErrReadOnly = journal.ErrReadOnly
)

// Open replays the journal at path into a fresh index and returns a Store that
// appends to it. The journal is created (0600, its folder 0700) if missing and
// locked against other processes (ErrLocked); a torn tail from a crash is
// truncated and logged; corruption in the middle is refused (ErrCorrupt) with
// an error that names the file and the offset. A version 1 journal is
// rewritten as version 2 before Open returns.
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
	s.idx = index.New(index.Options{Clock: s.now})
	j, st, err := replay.Open(path, s.idx, journal.Options{
		Sync:         opts.Sync,
		SyncInterval: opts.SyncInterval,
		Logger:       s.log,
		FS:           opts.FS,
		OnSync:       opts.OnSync,
	})
	if err != nil {
		return nil, err
	}
	s.j = j
	s.replayStats = st
	s.log.Info("cookie journal opened", "path", path, "events", st.Events, "cookies", st.Cookies,
		"bytes", st.Bytes, "dropped_bytes", st.DroppedBytes, "duration", st.Duration)
	s.nextCheck.Store(max(opts.CompactMinBytes, j.Size()+j.Size()/4))
	upgrade := j.Version() < journal.Version
	if upgrade || opts.PurgeOnStartup {
		why := "purge on startup"
		if upgrade {
			// Version 1 events hold cookie IDs, bearer secrets: the
			// rewrite keeps only their digests.
			why = fmt.Sprintf("upgrade from format version %d", j.Version())
		}
		if _, err := s.Compact(); err != nil {
			s.j.Close()
			return nil, fmt.Errorf("filestore: %s: %w", why, err)
		}
		if upgrade {
			s.log.Info("cookie journal upgraded", "path", path, "from_version", st.Version, "to_version", journal.Version)
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

// Get returns the live cookie d. An expired cookie is absent.
func (s *Store) Get(d record.Digest) (record.Cookie, bool) { return s.idx.Get(d) }

// Len returns the number of cookies in the index, including expired ones that
// the janitor has not deleted yet.
func (s *Store) Len() int { return s.idx.Len() }

// All returns the live cookies, in no particular order.
func (s *Store) All() iter.Seq[record.Cookie] { return s.idx.All() }

// DigestsByAuthID returns the live cookies on which authid is logged in.
func (s *Store) DigestsByAuthID(authid string) []record.Digest { return s.idx.DigestsByAuthID(authid) }

// Create stores a new cookie, with its auth if it carries one, and returns
// only once the cookie is durable. It returns ErrExists if a live cookie
// already has the digest.
func (s *Store) Create(c record.Cookie) error {
	if err := index.ValidateNew(c); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	m := s.lock(c.Digest)
	defer s.unlock(m)
	if s.idx.Live(c.Digest) {
		return ErrExists
	}
	ev := record.Create(c.Digest, c.Created, c.MaxAge)
	if !c.Auth.IsZero() {
		ev = record.State(c)
	}
	return s.commit(&ev)
}

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: the journal gets next's whole state, then the deletion of old as
// rotated into next, in one write and one fdatasync. A crash in between
// leaves next created and old live; that is safe, as old never carried the
// login. It returns ErrNotFound if old is not live, and ErrExists if next is.
func (s *Store) Rotate(old record.Digest, next record.Cookie) error {
	if err := index.ValidateNew(next); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if old == next.Digest {
		return ErrExists
	}
	unlock := s.lockTwo(old, next.Digest)
	defer unlock()
	if !s.idx.Live(old) {
		return ErrNotFound
	}
	if s.idx.Live(next.Digest) {
		return ErrExists
	}
	state, rotated := record.State(next), record.Rotated(old, next.Digest)
	return s.commit(&state, &rotated)
}

// SetAuth replaces the auth tuple of cookie d; the zero Auth logs it out
// without deleting it. It returns ErrNotFound for an unknown or expired
// cookie.
func (s *Store) SetAuth(d record.Digest, a record.Auth) error { return s.change(record.Update(d, a)) }

// Delete removes cookie d for good, for the given reason (logout, revoke).
// It returns ErrNotFound for an unknown or expired cookie.
func (s *Store) Delete(d record.Digest, why record.DeleteReason) error {
	return s.change(record.Delete(d, why))
}

// change commits ev if its cookie is live: the check and the append under
// the cookie's stripe lock, so that no other call on it comes between.
func (s *Store) change(ev record.Event) error {
	m := s.lock(ev.Digest)
	defer s.unlock(m)
	if !s.idx.Live(ev.Digest) {
		return ErrNotFound
	}
	return s.commit(&ev)
}

// DeleteByAuthID deletes every live cookie on which authid is logged in and
// returns their digests. On an error, the digests deleted so far are
// returned with it.
func (s *Store) DeleteByAuthID(authid string) ([]record.Digest, error) {
	var deleted []record.Digest
	for _, d := range s.idx.DigestsByAuthID(authid) {
		err := s.deleteIfAuthID(d, authid)
		if errors.Is(err, ErrNotFound) {
			continue // logged out or expired meanwhile
		}
		if err != nil {
			return deleted, err
		}
		deleted = append(deleted, d)
	}
	return deleted, nil
}

func (s *Store) deleteIfAuthID(d record.Digest, authid string) error {
	m := s.lock(d)
	defer s.unlock(m)
	c, ok := s.idx.Get(d)
	if !ok || c.Auth.AuthID != authid {
		return ErrNotFound
	}
	ev := record.Delete(d, record.ReasonRevoke)
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
	return s.closeErr
}

// stripe returns the stripe lock of cookie d. A digest is uniformly
// distributed already (see record.Digest), so its bytes pick the stripe.
func (s *Store) stripe(d record.Digest) *sync.Mutex {
	return &s.stripes[binary.LittleEndian.Uint64(d[8:])%stripes]
}

// lock takes the stripe lock of d. It returns the stripe, for unlock; no
// closure, so the hot path stays allocation free.
func (s *Store) lock(d record.Digest) *sync.Mutex {
	m := s.stripe(d)
	m.Lock()
	return m
}

// lockTwo takes the stripe locks of a and b, in stripe order so that two
// rotations cannot wait for each other, and returns the function that
// releases them.
func (s *Store) lockTwo(a, b record.Digest) (unlock func()) {
	ma, mb := s.stripe(a), s.stripe(b)
	if ma == mb {
		ma.Lock()
		return ma.Unlock
	}
	if uintptr(unsafe.Pointer(ma)) > uintptr(unsafe.Pointer(mb)) {
		ma, mb = mb, ma
	}
	ma.Lock()
	mb.Lock()
	return func() { mb.Unlock(); ma.Unlock() }
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

// commit encodes evs into a pooled buffer, appends them to the journal, one
// frame each, in one write and, once they are as durable as the sync mode
// says, applies them to the index: the order every mutation keeps, under its
// stripe locks. What the index gets is each payload the journal holds,
// parsed as a replay parses it.
func (s *Store) commit(evs ...*record.Event) error {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	var err error
	var frames [2][]byte
	b := (*bp)[:0]
	for i, ev := range evs {
		start := len(b)
		if b, err = record.AppendEvent(b, ev); err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
		frames[i] = b[start:len(b):len(b)]
	}
	*bp = b
	if len(evs) == 1 {
		_, err = s.j.Append(frames[0])
	} else {
		_, err = s.j.AppendBatch(frames[:len(evs)])
	}
	if err != nil {
		return fmt.Errorf("filestore: append %s of a cookie: %w", evs[0].Kind, err)
	}
	for _, p := range frames[:len(evs)] {
		var v record.View
		if err := record.Parse(p, record.V2, &v); err != nil {
			// AppendEvent wrote it: only a bug can bring us here.
			panic(fmt.Sprintf("filestore: an event it encoded does not parse: %v", err))
		}
		s.idx.Apply(&v)
	}
	if s.opts.CompactMinBytes > 0 && s.j.Size() >= s.nextCheck.Load() {
		s.startCompactionCheck()
	}
	return nil
}
