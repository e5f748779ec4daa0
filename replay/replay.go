// Package replay turns a journal back into an index: it reads every frame of a
// journal, decodes the events in each payload, and applies them in order to a
// [memstore.Store], counting what it saw.
//
//	idx := memstore.New(memstore.Options{})
//	j, stats, err := replay.Open(path, idx, journal.Options{})
//	if err != nil {
//		return err
//	}
//	log.Printf("%d cookies from %d events in %v", stats.Cookies, stats.Events, stats.Duration)
//
// # Payloads
//
// A journal payload is one msgpack array whose first element is its kind:
// a single event, encoded as package record describes, or a batch (kind 4)
// of many events compressed together, as a compaction writes them. The
// format version in the journal's header says how the events name their
// cookies. docs/FORMAT.md specifies both encodings byte by byte; this package
// writes batches ([AppendBatch], [Batcher]) and reads any payload
// ([DecodePayload], [ParsePayload]).
//
// Events in a batch apply in order, exactly as if each had its own frame.
//
// # Errors
//
// Every decoding error wraps record.ErrMalformed. The journal's checksums make
// a malformed payload in an intact frame the sign of a bug or of a file
// written by something else, never of a crash, so [Open] stops at it and
// names the file and the frame's offset instead of guessing.
package replay

import (
	"os"
	"time"

	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/record"
)

// Stats describes one replay.
type Stats struct {
	Version      int           // the journal's format version (see journal.Version)
	Events       int64         // events applied, counting each one inside a batch
	Creates      int64         // Create events among them
	Updates      int64         // Update events among them
	Deletes      int64         // Delete events among them
	States       int64         // Cookie events (the whole state of a cookie) among them
	Batches      int64         // batch payloads read
	Cookies      int           // entries in the index afterwards (expired ones included)
	Bytes        int64         // valid bytes of the journal, header included
	DroppedBytes int64         // bytes of a torn tail that the journal cut off
	Duration     time.Duration // wall time of the whole Open
}

// replayer decodes payloads and applies their events to an index, counting
// them. Decoding runs on the journal's reading goroutine, applying on one of
// the replayer's own, so that the two share the work on two cores. Events go
// from one to the other in runs of applyRun, and are applied through
// memstore's ApplyAll, which is several times faster than one Apply per event
// on an index too big for the processor's caches.
type replayer struct {
	idx     *memstore.Store
	dec     decoder
	raw     []byte         // decompression buffer, kept across batches
	pending []record.Event // decoded, not yet handed over; nil until needed
	stats   Stats
	add     func(v *record.View) error // bound once, so that visit allocates no closure per frame

	fileSize int64 // size of the journal file, to presize the index; 0 if unknown
	sized    bool  // whether the index has been presized

	runs int                 // runs allocated so far, at most maxRuns
	work chan []record.Event // full runs, in order, for the applier
	free chan []record.Event // runs the applier is done with
	done chan struct{}       // closed once the applier has applied every run
}

// applyRun is how many events make a run: some sixty per shard of the
// index, enough for ApplyAll's look-ahead to pay, and half a megabyte of
// events.
// maxRuns bounds the runs in flight: one being filled, one being applied,
// one waiting.
const (
	applyRun = 4096
	maxRuns  = 3
)

// newReplayer returns a replayer applying to idx. Its finish method must be
// called once, to apply the last events and end its goroutine.
func newReplayer(idx *memstore.Store) *replayer {
	r := &replayer{
		idx:  idx,
		work: make(chan []record.Event, maxRuns),
		free: make(chan []record.Event, maxRuns),
		done: make(chan struct{}),
	}
	r.dec.raw = &r.raw
	r.add = r.addEvent
	go r.applier()
	return r
}

func (r *replayer) applier() {
	defer close(r.done)
	for run := range r.work {
		r.idx.ApplyAll(run)
		clear(run) // drop references to IDs and authextra maps
		r.free <- run[:0]
	}
}

// nextRun returns an empty run: a free one, a new one while fewer than
// maxRuns exist, or else the next one the applier frees.
func (r *replayer) nextRun() []record.Event {
	select {
	case run := <-r.free:
		return run
	default:
	}
	if r.runs < maxRuns {
		r.runs++
		return make([]record.Event, 0, applyRun)
	}
	return <-r.free
}

func (r *replayer) addEvent(v *record.View) error {
	e, err := v.Event()
	if err != nil {
		return err
	}
	switch e.Kind {
	case record.KindCreate:
		r.stats.Creates++
	case record.KindUpdate:
		r.stats.Updates++
	case record.KindDelete:
		r.stats.Deletes++
	case record.KindCookie:
		r.stats.States++
	}
	r.stats.Events++
	if r.pending == nil {
		r.pending = r.nextRun()
	}
	r.pending = append(r.pending, e)
	if len(r.pending) == cap(r.pending) {
		r.work <- r.pending
		r.pending = nil
	}
	return nil
}

// visit is the visit function of journal.Open: it decodes one payload and
// queues its events. The journal adds the file and offset to its errors.
func (r *replayer) visit(version int, off int64, payload []byte) error {
	if !r.sized {
		r.sized = true
		r.idx.Grow(sizeHint(r.fileSize-off, payload))
	}
	batch, err := r.dec.decode(payload, version, r.add)
	if batch {
		r.stats.Batches++
	}
	return err
}

// finish hands over the last events and returns once all are applied.
func (r *replayer) finish() {
	if len(r.pending) > 0 {
		r.work <- r.pending
		r.pending = nil
	}
	close(r.work)
	<-r.done
}

// Open opens the journal at path with opts and applies every event in it to
// idx, which is normally empty. It returns the open journal, ready for
// appends, and what it found. A torn tail is cut off by the journal and
// reported in Stats.DroppedBytes; corruption in the middle of the file, and a
// payload that does not decode, are errors naming the file and the offset,
// and leave the journal closed. On error idx holds the events before the
// failure and should be thrown away.
//
// Open decodes on one goroutine and applies to idx on another, so that a
// replay uses two cores; nothing else may use idx until Open returns.
func Open(path string, idx *memstore.Store, opts journal.Options) (*journal.Journal, Stats, error) {
	start := time.Now()
	r := newReplayer(idx)
	if fi, err := os.Stat(path); err == nil {
		// Only a hint: a journal on a file system of its own (opts.FS) goes
		// without, and its index grows as it goes.
		r.fileSize = fi.Size()
	}
	j, err := journal.Open(path, opts, r.visit)
	r.finish()
	st := r.stats
	st.Cookies = idx.Len()
	st.Duration = time.Since(start)
	if err != nil {
		return nil, st, err
	}
	rec := j.Recovery()
	st.Version, st.Bytes, st.DroppedBytes = rec.Version, rec.Bytes, rec.DroppedBytes
	return j, st, nil
}

// Presizing the index for the cookies a journal probably holds spares replay
// the step-by-step growth of its maps, which would otherwise cost more than
// all the decoding. The first frame tells what the journal is made of: a
// compacted journal starts with batches, whose density in events per byte
// it gives; otherwise the file is taken for single Create frames, about 53
// bytes each for a default 24-character cookie. Updates and Deletes make
// the estimate high, as does the unwritten space (at most 1 MiB of zeros)
// that a crash leaves after a sync=always journal's frames; appended
// singles after batches make it low; the cap
// keeps a huge file from reserving gigabytes for cookies it may not hold.
const (
	hintBytesPerCookie    = 48
	minHintBytesPerCookie = 16
	maxSizeHint           = 1 << 24
)

// sizeHint estimates the cookies in the rest bytes of a journal that start
// with the frame holding first.
func sizeHint(rest int64, first []byte) int {
	if rest <= 0 {
		return 0
	}
	perCookie := float64(hintBytesPerCookie)
	if count, _, err := record.ParseBatch(first); err == nil && count > 0 {
		// Bounded below, so that a forged count cannot reserve much more
		// memory than the file's size.
		perCookie = max(float64(len(first)+journal.FrameHeaderSize)/float64(count), minHintBytesPerCookie)
	}
	return int(min(float64(rest)/perCookie, maxSizeHint))
}
