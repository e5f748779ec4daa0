package filestore

import (
	"fmt"
	"math"
	"time"

	"cookiestore/index"
	"cookiestore/journal"
	"cookiestore/record"
	"cookiestore/replay"
)

// batchEvents is how many deletes go into one compressed batch frame when a
// purge writes many at once: 4096 of about 40 bytes stay far below the
// size at which a replay.Batcher would cut a batch.
const batchEvents = 4096

// Compact rewrites the journal so that it holds only the live, unexpired
// cookies, and returns the sizes before and after. Writers wait only while
// the frames they appended during the rewrite are copied over.
func (s *Store) Compact() (CompactStats, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	st, err := s.compact()
	if err == nil {
		s.compactions.Add(1)
		s.lastCompact.Store(&st)
		s.deadRatio.Store(math.Float64bits(0))
		s.nextCheck.Store(max(s.opts.CompactMinBytes, 2*st.After))
		s.log.Info("cookie journal compacted", "path", s.path, "before", st.Before, "after", st.After,
			"cookies", st.Cookies, "duration", st.Duration)
	} else {
		s.log.Error("cookie journal compaction failed", "path", s.path, "err", err)
	}
	if s.opts.OnCompact != nil {
		s.opts.OnCompact(st, err)
	}
	return st, err
}

func (s *Store) compact() (CompactStats, error) {
	start := time.Now()
	// Expired cookies leave the index through journaled deletes first, so
	// that the index and the new file agree on what was dropped. Not in an
	// older version's journal, which must not get events it cannot read:
	// the snapshot leaves them out all the same, and the janitor deletes
	// them from the index later.
	if s.j.Version() == journal.Version {
		if _, err := s.PurgeExpired(); err != nil {
			return CompactStats{}, err
		}
	}
	// With every stripe held no mutation is between its append and its
	// apply, so every event before the rewrite's starting offset is in the
	// index that the snapshot below reads. Events after that offset may
	// show in the snapshot too; they are copied after it and replayed in
	// order, and each event sets whole fields, so the result is the same.
	s.lockAll()
	rw, err := s.j.BeginRewrite()
	s.unlockAll()
	if err != nil {
		return CompactStats{}, fmt.Errorf("filestore: compact %s: %w", s.path, err)
	}
	cookies, err := s.writeSnapshot(rw.Append)
	if err != nil {
		if aerr := rw.Abort(); aerr != nil {
			s.log.Error("removing a compaction's temporary file failed", "path", s.path, "err", aerr)
		}
		return CompactStats{}, fmt.Errorf("filestore: compact %s: %w", s.path, err)
	}
	before, after, err := rw.Commit()
	if err != nil {
		return CompactStats{}, fmt.Errorf("filestore: compact %s: %w", s.path, err)
	}
	return CompactStats{Before: before, After: after, Cookies: cookies, Duration: time.Since(start)}, nil
}

// writeSnapshot writes every live cookie as one Cookie event, its creation,
// lifetime and auth together, in batch frames, and returns how many cookies
// it wrote. The events are encoded from the index's bytes as they are: an
// authextra is never decoded.
func (s *Store) writeSnapshot(appendFrame func([]byte) error) (int, error) {
	return replay.WriteIndex(s.idx, appendFrame)
}

// startCompactionCheck measures the dead-byte ratio in the background, and
// compacts if it has passed Options.CompactRatio. Only one check runs at a
// time; appends that cross the threshold meanwhile do nothing.
func (s *Store) startCompactionCheck() {
	if !s.compacting.CompareAndSwap(false, true) {
		return
	}
	// Not closeMu: Close holds that while it waits for this goroutine, which
	// may wait for the stripe lock that the caller of this function holds.
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		s.compacting.Store(false)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.compacting.Store(false)
		s.checkCompaction()
	}()
}

func (s *Store) checkCompaction() {
	size := s.j.Size()
	live := liveFrameBytes(s.idx)
	ratio := 0.0
	if size > 0 {
		ratio = max(0, 1-float64(live)/float64(size))
	}
	s.deadRatio.Store(math.Float64bits(ratio))
	if ratio >= s.opts.CompactRatio && size >= s.opts.CompactMinBytes {
		_, _ = s.Compact() // logged and reported through OnCompact
		return
	}
	// The ratio cannot reach the threshold before the file is at least
	// live/(1-ratio) long; measure again then, or after another eighth.
	next := max(size+size/8, int64(float64(live)/(1-s.opts.CompactRatio)), s.opts.CompactMinBytes)
	s.nextCheck.Store(next)
}

// liveFrameBytes is the size that the live cookies of idx would take as
// single frames, a Create for each or a Cookie event for each one logged in:
// what a journal would hold, its header aside, if nothing in it were dead.
// It is an upper bound of what a compaction writes (in compressed batch
// frames), cheap enough to decide when to compact.
func liveFrameBytes(idx *index.Index) int64 {
	var total int64
	var buf []byte
	for v := range idx.Views() {
		if !v.HasAuth() {
			v.Kind = record.KindCreate
		}
		buf, _ = record.AppendView(buf[:0], v)
		total += int64(journal.FrameHeaderSize + len(buf))
	}
	return total
}

func (s *Store) lastDeadRatio() float64 { return math.Float64frombits(s.deadRatio.Load()) }

// janitor deletes expired cookies every interval until the store closes.
func (s *Store) janitor(interval time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.PurgeExpired(); err != nil {
				s.log.Error("purging expired cookies failed", "path", s.path, "err", err)
			}
		}
	}
}

// PurgeExpired deletes every expired cookie from the index and journals a
// Delete for each, in batch frames, so that a replay cannot bring them back
// even under a clock that has jumped backwards. It returns how many it
// deleted.
func (s *Store) PurgeExpired() (int, error) {
	ids := s.idx.ExpiredDigests()
	purged := 0
	for len(ids) > 0 {
		n := min(len(ids), batchEvents)
		done, err := s.purge(ids[:n])
		purged += done
		if err != nil {
			return purged, err
		}
		ids = ids[n:]
	}
	return purged, nil
}

// purge deletes one batch of expired IDs under every stripe lock, so that no
// call on those cookies can slip between the check and the delete.
func (s *Store) purge(ids []record.Digest) (int, error) {
	s.lockAll()
	defer s.unlockAll()
	events := make([]record.Event, 0, len(ids))
	for _, id := range ids {
		if !s.idx.Live(id) {
			events = append(events, record.Delete(id, record.ReasonExpired))
		}
	}
	if len(events) == 0 {
		return 0, nil
	}
	payload, err := replay.AppendBatch(nil, events)
	if err != nil {
		return 0, fmt.Errorf("filestore: purge: %w", err)
	}
	if _, err := s.j.Append(payload); err != nil {
		return 0, fmt.Errorf("filestore: purge expired cookies: %w", err)
	}
	for i := range events {
		v := record.View{Kind: record.KindDelete, Digest: events[i].Digest, Reason: record.ReasonExpired}
		s.idx.Apply(&v)
	}
	return len(events), nil
}
