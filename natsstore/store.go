package natsstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cookiestore/index"
	"cookiestore/record"
)

// Defaults of Options.
const (
	DefaultStream           = "COOKIES"
	DefaultSubjectPrefix    = "cookies"
	DefaultTimeout          = 8 * time.Second
	DefaultLookupTimeout    = 2 * time.Second
	DefaultTombstoneGrace   = time.Hour
	DefaultMarkerTTL        = 15 * time.Minute
	DefaultSnapshotInterval = 5 * time.Minute
)

// ErrUnavailable is wrapped by the errors of writes that JetStream did not
// acknowledge within Options.Timeout: no server reachable, or an election
// that took longer.
var ErrUnavailable = errors.New("the NATS stream did not acknowledge in time")

// ErrStreamSettings is wrapped by the error of Open when the stream exists
// with settings that this store cannot use; the message names each.
var ErrStreamSettings = errors.New("the stream exists with other settings")

// Options configure Open. URLs is required; zero values elsewhere are the
// defaults.
type Options struct {
	URLs          []string // NATS server URLs; at least one, unless Conn is given
	Stream        string   // the stream's name; "" = DefaultStream
	Replicas      int      // the stream's replicas when Open creates it; 0 = 1
	SubjectPrefix string   // subjects are PREFIX.<digest hex>; "" = DefaultSubjectPrefix
	Creds         string   // a NATS credentials file; "" = none
	Name          string   // the connection's name, shown by the servers; "" = "cookiestore"

	// Conn is an open connection to use instead of dialling URLs. The
	// store does not close it.
	Conn *nats.Conn

	Clock  func() time.Time // cookie expiry; nil = time.Now
	Logger *slog.Logger     // nil discards

	// Timeout bounds one write, its retries included: a handshake waits
	// this long at most for a new cookie. 0 = DefaultTimeout.
	Timeout time.Duration
	// LookupTimeout bounds the stream lookup of a cookie that the index
	// lacks. 0 = DefaultLookupTimeout.
	LookupTimeout time.Duration
	// TombstoneGrace is how long a tombstone outlives the cookie it
	// deletes; it must exceed the clock skew between nodes. 0 =
	// DefaultTombstoneGrace.
	TombstoneGrace time.Duration
	// MarkerTTL is how long the stream keeps a subject delete marker when
	// Open creates it. 0 = DefaultMarkerTTL.
	MarkerTTL time.Duration

	// Snapshot is a file in which the node keeps its index between runs;
	// "" = none: every open replays the stream.
	Snapshot string
	// SnapshotInterval is how often the snapshot is written while open;
	// 0 = DefaultSnapshotInterval, < 0 = only at Close.
	SnapshotInterval time.Duration
}

// Store is a cookie store on a JetStream stream. It satisfies the Store
// interface of package httpd, and its Notifier and Readiness. All methods are
// safe for concurrent use.
type Store struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	nc      *nats.Conn
	send    *sender
	ownConn bool
	js      jetstream.JetStream
	stream  jetstream.Stream
	created time.Time // the stream's creation time, which names this incarnation of it
	prefix  string    // SubjectPrefix + "."

	idx *index.Index

	// The follower's position.
	applied   atomic.Uint64 // the last stream sequence applied to idx
	pending   atomic.Uint64 // messages after it, as the last one delivered said
	lastSeq   atomic.Uint64 // the highest sequence this node has seen acknowledged or delivered
	ready     atomic.Bool
	readyCh   chan struct{} // closed once ready
	readyOnce sync.Once
	lastMsgAt atomic.Int64 // unix nanoseconds of the last delivered message

	waitMu   sync.Mutex
	waitList []waiter     // changes waiting for the follower
	waiters  atomic.Int32 // len(waitList), read without the lock

	subMu  sync.Mutex
	subs   map[int]func(record.Event)
	nextID int

	stats stats

	cons       jetstream.Consumer
	consumer   jetstream.ConsumeContext
	cancel     context.CancelFunc
	done       chan struct{} // closed when the background goroutines have returned
	closeOnce  sync.Once
	closeErr   error
	snapMu     sync.Mutex
	snapSeq    uint64 // the sequence of the last snapshot written or loaded
	snapLoaded int    // cookies loaded from a snapshot at open
	replayFrom uint64 // the first sequence followed at open
}

// Open connects to NATS, creates the stream if it is missing (or checks the
// settings of the one that exists), and starts following it. It returns
// before the node has caught up: see Store.Ready and Store.WaitReady.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.SubjectPrefix == "" {
		opts.SubjectPrefix = DefaultSubjectPrefix
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = DefaultLookupTimeout
	}
	if opts.TombstoneGrace <= 0 {
		opts.TombstoneGrace = DefaultTombstoneGrace
	}
	if opts.MarkerTTL <= 0 {
		opts.MarkerTTL = DefaultMarkerTTL
	}
	if opts.SnapshotInterval == 0 {
		opts.SnapshotInterval = DefaultSnapshotInterval
	}
	if opts.Name == "" {
		opts.Name = "cookiestore"
	}
	s := &Store{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Clock,
		prefix:  opts.SubjectPrefix + ".",
		readyCh: make(chan struct{}),
		subs:    make(map[int]func(record.Event)),
		done:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.nc = opts.Conn
	if s.nc == nil {
		if len(opts.URLs) == 0 {
			return nil, errors.New("nats store: no server URL")
		}
		nopts := []nats.Option{
			nats.Name(opts.Name),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(250 * time.Millisecond),
			nats.Timeout(5 * time.Second),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					s.log.Warn("nats store: disconnected", "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				s.log.Info("nats store: reconnected", "server", nc.ConnectedUrlRedacted())
			}),
		}
		if opts.Creds != "" {
			nopts = append(nopts, nats.UserCredentials(opts.Creds))
		}
		nc, err := nats.Connect(strings.Join(opts.URLs, ","), nopts...)
		if err != nil {
			return nil, fmt.Errorf("nats store: connect to %s: %w", strings.Join(opts.URLs, ","), err)
		}
		s.nc, s.ownConn = nc, true
	}
	fail := func(err error) (*Store, error) {
		if s.send != nil {
			s.send.close() // its subscription would outlive us on a borrowed connection
		}
		if s.ownConn {
			s.nc.Close()
		}
		return nil, err
	}
	send, err := newSender(s.nc)
	if err != nil {
		return fail(fmt.Errorf("nats store: %w", err))
	}
	s.send = send
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fail(fmt.Errorf("nats store: %w", err))
	}
	s.js = js
	info, err := s.ensureStream(ctx)
	if err != nil {
		return fail(err)
	}
	s.created = info.Created
	s.idx = index.New(index.Options{Clock: s.now})
	s.lastSeq.Store(info.State.LastSeq)

	start := uint64(0)
	if opts.Snapshot != "" {
		start = s.loadSnapshot(info)
	}
	s.replayFrom = start + 1
	if info.State.Msgs == 0 || info.State.LastSeq <= start {
		s.setReady()
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.follow(ctx, start); err != nil {
		cancel()
		return fail(err)
	}
	go s.background(runCtx)
	return s, nil
}

// Ready reports whether the node has caught up with the stream since it
// opened. Until then a server answers handshakes with 503.
func (s *Store) Ready() bool { return s.ready.Load() }

// WaitReady waits until the node has caught up, or ctx ends.
func (s *Store) WaitReady(ctx context.Context) error {
	select {
	case <-s.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats store: catching up with stream %s: %w", s.opts.Stream, ctx.Err())
	}
}

func (s *Store) setReady() {
	s.readyOnce.Do(func() {
		s.ready.Store(true)
		close(s.readyCh)
	})
}

// subject returns the subject of cookie d.
func (s *Store) subject(d record.Digest) string {
	b := make([]byte, len(s.prefix)+2*record.DigestSize)
	copy(b, s.prefix)
	hex.Encode(b[len(s.prefix):], d[:])
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Get returns the live cookie d: from the index, or, when the index lacks
// it, from the stream, so that a cookie issued on another node a moment ago
// is found before the follower has applied it.
func (s *Store) Get(d record.Digest) (record.Cookie, bool) {
	if c, ok := s.idx.Get(d); ok {
		return c, true
	}
	st, err := s.current(time.Now().Add(s.opts.LookupTimeout), d)
	if err != nil {
		s.log.Warn("nats store: lookup of a cookie the index lacks failed", "cookie", d, "err", err)
		return record.Cookie{}, false
	}
	if !st.live {
		return record.Cookie{}, false
	}
	return st.cookie, true
}

// Create stores the new cookie c, with its auth if it carries one. It fails
// with an error wrapping index.ErrExists if the cookie's subject already
// has a message: a live cookie, or one deleted or expired, whose ID is not
// to be issued again.
func (s *Store) Create(c record.Cookie) error {
	if err := index.ValidateNew(c); err != nil {
		return err
	}
	if _, ok := s.idx.Get(c.Digest); ok {
		return fmt.Errorf("create cookie %s: %w", c.Digest, index.ErrExists)
	}
	if _, err := s.publishState(time.Now().Add(s.opts.Timeout), c, 0); err != nil {
		return fmt.Errorf("create cookie %s: %w", c.Digest, err)
	}
	return nil
}

// SetAuth replaces the auth tuple of the live cookie d; the zero Auth clears
// it. It fails with index.ErrNotFound if no live cookie has the digest.
func (s *Store) SetAuth(d record.Digest, a record.Auth) error {
	deadline := time.Now().Add(s.opts.Timeout)
	_, err := s.change(deadline, d, func(st state) (uint64, error) {
		c := st.cookie
		c.Auth = a
		return s.publishState(deadline, c, st.seq)
	})
	if err != nil {
		return fmt.Errorf("set auth of cookie %s: %w", d, err)
	}
	return nil
}

// Delete deletes the live cookie d for the reason why: a tombstone on its
// subject, which every node applies. It fails with index.ErrNotFound if
// no live cookie has the digest.
func (s *Store) Delete(d record.Digest, why record.DeleteReason) error {
	deadline := time.Now().Add(s.opts.Timeout)
	_, err := s.change(deadline, d, func(st state) (uint64, error) {
		return s.publishTombstone(deadline, st, record.Delete(d, why))
	})
	if err != nil {
		return fmt.Errorf("delete cookie %s: %w", d, err)
	}
	return nil
}

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: next is published (create-only), then old's Rotated tombstone. It
// fails with index.ErrNotFound, changing nothing, if old is not live, and
// with index.ErrExists if next's subject is taken. If old is deleted by
// someone else between the two publishes, next is deleted again and the
// error wraps index.ErrNotFound.
func (s *Store) Rotate(old record.Digest, next record.Cookie) error {
	if err := index.ValidateNew(next); err != nil {
		return err
	}
	deadline := time.Now().Add(s.opts.Timeout)
	st, err := s.current(deadline, old)
	if err != nil {
		return fmt.Errorf("rotate cookie %s: %w", old, err)
	}
	if !st.live {
		return fmt.Errorf("rotate cookie %s: %w", old, index.ErrNotFound)
	}
	nextSeq, err := s.publishState(deadline, next, 0)
	if err != nil {
		return fmt.Errorf("rotate cookie %s: new cookie %s: %w", old, next.Digest, err)
	}
	_, err = s.changeFrom(deadline, old, st, func(st state) (uint64, error) {
		return s.publishTombstone(deadline, st, record.Rotated(old, next.Digest))
	})
	if errors.Is(err, index.ErrNotFound) {
		// old went away meanwhile: the login must not outlive it.
		_, derr := s.publishTombstone(deadline, state{seq: nextSeq, cookie: next, live: true}, record.Delete(next.Digest, record.ReasonUnspecified))
		return errors.Join(fmt.Errorf("rotate cookie %s: %w", old, err), derr)
	}
	if err != nil {
		return fmt.Errorf("rotate cookie %s: %w", old, err)
	}
	return nil
}

// DeleteByAuthID tombstones, with record.ReasonRevoke, every cookie that the
// index knows authid to be logged in on, and returns the digests of those it
// deleted, sorted.
func (s *Store) DeleteByAuthID(authid string) ([]record.Digest, error) {
	var deleted []record.Digest
	var errs []error
	for _, d := range s.idx.DigestsByAuthID(authid) {
		err := s.Delete(d, record.ReasonRevoke)
		switch {
		case err == nil:
			deleted = append(deleted, d)
		case errors.Is(err, index.ErrNotFound):
		default:
			errs = append(errs, err)
		}
	}
	slices.SortFunc(deleted, func(a, b record.Digest) int { return strings.Compare(string(a[:]), string(b[:])) })
	return deleted, errors.Join(errs...)
}

// Len returns the number of cookies in this node's index.
func (s *Store) Len() int { return s.idx.Len() }

// All returns the live cookies of this node's index, in no particular order.
func (s *Store) All() func(yield func(record.Cookie) bool) { return s.idx.All() }

// Subscribe calls fn, on the follower's goroutine, with every deletion
// that this node applies from the stream, whoever made it: a tombstone
// (logout, revoke, rotation), or a delete marker, reported as
// record.ReasonExpired. fn must return quickly. cancel stops the calls.
func (s *Store) Subscribe(fn func(ev record.Event)) (cancel func()) {
	s.subMu.Lock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	s.subMu.Unlock()
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

func (s *Store) notify(ev record.Event) {
	s.subMu.Lock()
	fns := make([]func(record.Event), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// Close stops following the stream, writes the snapshot if one is
// configured, and closes the connection if the store opened it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.send.close()
		s.consumer.Stop()
		s.cancel()
		<-s.done
		if s.opts.Snapshot != "" {
			s.closeErr = s.writeSnapshot()
		}
		if s.ownConn {
			s.nc.Close()
		}
	})
	return s.closeErr
}

// background writes snapshots and watches readiness until the store closes.
func (s *Store) background(ctx context.Context) {
	defer close(s.done)
	snap := make(<-chan time.Time)
	if s.opts.Snapshot != "" && s.opts.SnapshotInterval > 0 {
		t := time.NewTicker(s.opts.SnapshotInterval)
		defer t.Stop()
		snap = t.C
	}
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-snap:
			if err := s.writeSnapshot(); err != nil {
				s.log.Warn("nats store: cannot write the snapshot", "file", s.opts.Snapshot, "err", err)
			}
		case <-poll.C:
			if !s.ready.Load() {
				s.checkCaughtUp(ctx)
			}
		}
	}
}
