package natsstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cookiestore/record"
)

// maxApplyWait bounds how long a change waits for this node's follower to
// apply it; past that, the change is applied to the index directly, and the
// follower applies it again when it gets there.
const maxApplyWait = time.Second

// follow starts the ordered consumer after sequence start.
func (s *Store) follow(ctx context.Context, start uint64) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.prefix + "*"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if start > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start+1
	}
	cons, err := s.js.OrderedConsumer(ctx, s.opts.Stream, cfg)
	if err != nil {
		return fmt.Errorf("nats store: follow stream %s: %w", s.opts.Stream, err)
	}
	cc, err := cons.Consume(s.handle,
		jetstream.PullMaxMessages(1024),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Debug("nats store: follower", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("nats store: follow stream %s: %w", s.opts.Stream, err)
	}
	s.cons, s.consumer = cons, cc
	return nil
}

// handle applies one message of the stream to the index. The ordered
// consumer calls it on one goroutine, in stream order.
func (s *Store) handle(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		s.log.Warn("nats store: message without metadata", "err", err)
		return
	}
	seq := meta.Sequence.Stream
	if d, ok := s.digestOf(msg.Subject()); !ok {
		s.log.Warn("nats store: message on a subject that names no cookie", "seq", seq)
	} else if msg.Headers().Get(hdrMarkerReason) != "" {
		// The stream removed the subject's last message when its TTL ran
		// out: the cookie expired (or its tombstone did, and then nobody
		// is left to tell).
		ev := record.Delete(d, record.ReasonExpired)
		s.apply(&ev)
		s.notify(ev)
	} else {
		var ev record.Event
		err := record.DecodeEvent(msg.Data(), record.V2, &ev)
		switch {
		case err != nil:
			s.log.Warn("nats store: message is not a cookie event", "seq", seq, "err", err)
		case ev.Digest != d:
			s.log.Warn("nats store: message names another cookie than its subject", "seq", seq)
		case ev.Kind == record.KindCookie:
			s.apply(&ev)
		case ev.Kind == record.KindDelete:
			s.apply(&ev)
			s.notify(ev)
		default:
			s.log.Warn("nats store: unexpected event kind", "seq", seq, "kind", ev.Kind)
		}
	}
	s.applied.Store(seq)
	s.pending.Store(meta.NumPending)
	s.seen(seq + meta.NumPending)
	s.lastMsgAt.Store(time.Now().UnixNano())
	if meta.NumPending == 0 {
		s.setReady()
	}
	if s.waiters.Load() > 0 {
		s.wake(seq)
	}
}

// digestOf returns the digest that subject names.
func (s *Store) digestOf(subject string) (record.Digest, bool) {
	if len(subject) != len(s.prefix)+2*record.DigestSize || subject[:len(s.prefix)] != s.prefix {
		return record.Digest{}, false
	}
	d, err := record.ParseDigest(subject[len(s.prefix):])
	return d, err == nil
}

// seen raises the highest sequence known to be in the stream.
func atomicMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func (s *Store) seen(seq uint64) { atomicMax(&s.lastSeq, seq) }

// checkCaughtUp makes the store ready when the follower has nothing left
// to apply although no message said so: the messages that were pending
// when it started expired before they were delivered.
func (s *Store) checkCaughtUp(ctx context.Context) {
	if time.Since(time.Unix(0, s.lastMsgAt.Load())) < 500*time.Millisecond {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	info, err := s.cons.Info(ctx)
	if err != nil {
		return
	}
	if info.NumPending == 0 && info.Delivered.Stream <= s.applied.Load() {
		s.setReady()
	}
}

// waiter is a change waiting for the follower to reach its sequence.
type waiter struct {
	seq uint64
	ch  chan struct{}
}

// waitApplied waits until the follower has applied seq, for at most
// maxApplyWait or until the deadline, and reports whether it has.
func (s *Store) waitApplied(deadline time.Time, seq uint64) bool {
	if s.applied.Load() >= seq {
		return true
	}
	w := waiter{seq: seq, ch: make(chan struct{})}
	s.waiters.Add(1)
	s.waitMu.Lock()
	s.waitList = append(s.waitList, w)
	s.waitMu.Unlock()
	defer s.waiters.Add(-1)
	if s.applied.Load() >= seq {
		s.wake(s.applied.Load())
	}
	t := time.NewTimer(min(maxApplyWait, time.Until(deadline)))
	defer t.Stop()
	select {
	case <-w.ch:
		return true
	case <-t.C:
	}
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for i, o := range s.waitList {
		if o.ch == w.ch {
			s.waitList = append(s.waitList[:i], s.waitList[i+1:]...)
			return false
		}
	}
	return true // woken meanwhile
}

// wake releases the waiters whose sequence has been applied.
func (s *Store) wake(applied uint64) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	keep := s.waitList[:0]
	for _, w := range s.waitList {
		if w.seq <= applied {
			close(w.ch)
		} else {
			keep = append(keep, w)
		}
	}
	clear(s.waitList[len(keep):])
	s.waitList = keep
}

// applyLate makes a change at seq show in this node's index: it waits for
// the follower, and applies ev itself if the follower is slow.
func (s *Store) applyLate(deadline time.Time, seq uint64, ev *record.Event) {
	if !s.waitApplied(deadline, seq) {
		s.apply(ev)
	}
}

// apply applies ev to this node's index. Every event it gets was decoded
// from the stream or encoded for it, so the index can hold it; an error
// here is a bug, logged rather than lost.
func (s *Store) apply(ev *record.Event) {
	if err := s.idx.ApplyEvent(ev); err != nil {
		s.log.Error("nats store: cannot apply an event to the index", "cookie", ev.Digest, "err", err)
	}
}
