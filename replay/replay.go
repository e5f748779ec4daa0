// Package replay turns a journal back into an index: it reads every frame of a
// journal, decodes the events in each payload, and applies them in order to an
// [index.Index], counting what it saw.
//
//	idx := index.New(index.Options{})
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
// # Replay
//
// [Open] parses each event where it lies (a record.View) on the goroutine
// that reads the journal, and hands runs of them to a goroutine per core,
// each of which applies the events of its own shards of the index
// (index.ApplyShard): events on one cookie stay in order, and events on
// different cookies, which commute, are applied in parallel. Nothing is
// allocated per event: a run keeps the frames' bytes, or a batch's
// decompressed content, and the index copies what it keeps. Before the
// first run is applied, the index is sized for the cookies that the run's
// density of new cookies per journal byte predicts for the whole file.
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
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"cookiestore/index"
	"cookiestore/journal"
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

// A run is events that the reading goroutine parsed and hands to the
// appliers together.
type run struct {
	views   []record.View         // the events, in journal order
	buf     []byte                // the single-event payloads that views point into
	raw     []byte                // the content of the batch that views point into
	byShard [index.Shards][]int32 // indexes in views of each shard's events, in order
	pending atomic.Int32          // appliers that have not finished the run
	sample  sample                // what the run holds, for sizing the index
}

// sample counts what a stretch of journal holds, to predict the whole
// file from its start.
type sample struct {
	bytes      int64 // journal bytes: frame headers and payloads
	cookies    int64 // Create and Cookie events, less Deletes
	logins     int64 // events that set an auth tuple
	extraBytes int64 // bytes of their authextras
}

// Sizes of a run: applyRun events are some hundred per shard, enough for
// ApplyShard's look-ahead to pay; runBuf holds their payloads at a typical
// size. A batch is a run of its own, whatever its count. maxRuns bounds the
// runs in flight: one being filled, one per applier, one waiting.
const (
	applyRun = 8192
	runBuf   = 1 << 20
)

// replayer decodes payloads into runs and hands each run to its appliers.
type replayer struct {
	idx     *index.Index
	dec     decoder
	cur     *run // being filled; nil until the next event
	stats   Stats
	addView func(v *record.View) error // bound once, so that visit allocates no closure per frame

	fileSize int64 // size of the journal file, to size the index; 0 if unknown
	firstOff int64 // offset of the first frame
	sized    bool  // whether the index has been sized

	appliers []chan *run
	free     chan *run
	runs     int // runs made so far, at most cap(free)
	wg       sync.WaitGroup
}

// newReplayer returns a replayer applying to idx with n appliers. Its
// finish method must be called once, to apply the last events and end its
// goroutines.
func newReplayer(idx *index.Index, n int) *replayer {
	r := &replayer{idx: idx, free: make(chan *run, n+2)}
	r.addView = r.add
	r.dec.into = r.nextView
	for w := range n {
		ch := make(chan *run, n+2)
		r.appliers = append(r.appliers, ch)
		r.wg.Add(1)
		go r.applier(w, ch)
	}
	return r
}

// applier applies, run after run, the events of the shards k with
// k mod len(appliers) = w; no other applier touches those shards.
func (r *replayer) applier(w int, work chan *run) {
	defer r.wg.Done()
	for ru := range work {
		for k := w; k < index.Shards; k += len(r.appliers) {
			if pick := ru.byShard[k]; len(pick) > 0 {
				r.idx.ApplyShard(k, ru.views, pick)
			}
		}
		if ru.pending.Add(-1) == 0 {
			r.recycle(ru)
		}
	}
}

func (r *replayer) recycle(ru *run) {
	clear(ru.views) // drop the views' references into buf and raw
	ru.views, ru.buf, ru.raw = ru.views[:0], ru.buf[:0], ru.raw[:0]
	if cap(ru.raw) > 4*runBuf {
		ru.raw = nil // one huge batch does not pin its memory
	}
	for k := range ru.byShard {
		ru.byShard[k] = ru.byShard[k][:0]
	}
	ru.sample = sample{}
	r.free <- ru
}

// next returns the run being filled, starting one if there is none: a
// free one, a new one while fewer than cap(free) exist, or else the next
// one an applier frees.
func (r *replayer) next() *run {
	if r.cur != nil {
		return r.cur
	}
	select {
	case r.cur = <-r.free:
	default:
		if r.runs < cap(r.free) {
			r.runs++
			r.cur = &run{views: make([]record.View, 0, applyRun), buf: make([]byte, 0, runBuf)}
		} else {
			r.cur = <-r.free
		}
	}
	return r.cur
}

// seal hands the run being filled, if any, to the appliers.
func (r *replayer) seal() {
	ru := r.cur
	if ru == nil {
		return
	}
	r.cur = nil
	if len(ru.views) == 0 {
		r.free <- ru
		return
	}
	if !r.sized {
		r.sized = true
		r.idx.Reserve(sizeHint(r.fileSize-r.firstOff, ru.sample))
	}
	ru.pending.Store(int32(len(r.appliers)))
	for _, ch := range r.appliers {
		ch <- ru
	}
}

// nextView returns a new view at the end of the run being filled, for the
// decoder to parse the next event of a batch into.
func (r *replayer) nextView() *record.View {
	ru := r.cur
	ru.views = append(ru.views, record.View{})
	return &ru.views[len(ru.views)-1]
}

// add queues the event that the decoder parsed into the last view of the
// run being filled (see nextView).
func (r *replayer) add(v *record.View) error {
	ru := r.cur
	r.count(v, &ru.sample)
	k := index.ShardOf(v.Digest)
	ru.byShard[k] = append(ru.byShard[k], int32(len(ru.views)-1))
	return nil
}

func (r *replayer) count(v *record.View, s *sample) {
	switch v.Kind {
	case record.KindCreate:
		r.stats.Creates++
		s.cookies++
	case record.KindUpdate:
		r.stats.Updates++
	case record.KindDelete:
		r.stats.Deletes++
		s.cookies--
	case record.KindCookie:
		r.stats.States++
		s.cookies++
	}
	if v.HasAuth() {
		s.logins++
		s.extraBytes += int64(len(v.Extra))
	}
	r.stats.Events++
}

// visit is the visit function of journal.Open: it decodes one payload and
// queues its events. The journal adds the file and offset to its errors.
func (r *replayer) visit(version int, off int64, payload []byte) error {
	if r.firstOff == 0 {
		r.firstOff = off
	}
	k, err := record.PeekKind(payload)
	if err != nil {
		return err
	}
	frame := int64(journal.FrameHeaderSize + len(payload))
	if k == record.KindBatch {
		// A batch is a run of its own: its views point into its content.
		r.seal()
		ru := r.next()
		r.stats.Batches++
		ru.sample.bytes += frame
		err := r.dec.decodeBatch(payload, version, &ru.raw, r.addView)
		if err != nil {
			return err
		}
		r.seal()
		return nil
	}
	ru := r.next()
	if len(ru.views) == applyRun || cap(ru.buf)-len(ru.buf) < len(payload) {
		r.seal()
		ru = r.next()
		if cap(ru.buf) < len(payload) {
			ru.buf = make([]byte, 0, len(payload)) // a frame larger than a run's buffer
		}
	}
	start := len(ru.buf)
	ru.buf = append(ru.buf, payload...)
	ru.views = append(ru.views, record.View{})
	v := &ru.views[len(ru.views)-1]
	if err := record.Parse(ru.buf[start:], version, v); err != nil {
		return err
	}
	ru.sample.bytes += frame
	r.count(v, &ru.sample)
	k2 := index.ShardOf(v.Digest)
	ru.byShard[k2] = append(ru.byShard[k2], int32(len(ru.views)-1))
	return nil
}

// finish hands over the last events and returns once all are applied.
func (r *replayer) finish() {
	r.seal()
	for _, ch := range r.appliers {
		close(ch)
	}
	r.wg.Wait()
}

// appliers is how many goroutines apply events: one per core, as many as
// the shards can share out evenly, and at least one.
func appliers() int { return min(max(1, runtime.GOMAXPROCS(0)), 8) }

// Open opens the journal at path with opts and applies every event in it to
// idx, which is normally empty. It returns the open journal, ready for
// appends, and what it found. A torn tail is cut off by the journal and
// reported in Stats.DroppedBytes; corruption in the middle of the file, and a
// payload that does not decode, are errors naming the file and the offset,
// and leave the journal closed. On error idx holds some of the events before
// the failure and should be thrown away.
//
// Open decodes on one goroutine and applies to idx on others; nothing else
// may use idx until Open returns.
func Open(path string, idx *index.Index, opts journal.Options) (*journal.Journal, Stats, error) {
	start := time.Now()
	r := newReplayer(idx, appliers())
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

// maxSizeHint bounds the cookies the index is sized for, whatever the file
// and its first run say; and minBytesPerCookie is the fewest journal bytes
// a cookie is taken to need, which bounds it by the file's size too (a
// compressed Cookie event without auth takes some 35).
const (
	maxSizeHint       = 1 << 26
	minBytesPerCookie = 16
)

// sizeHint estimates what the rest bytes of a journal hold, from the
// sample of its first run: the new cookies (Creates and Cookie events, less
// Deletes) per journal byte, and the logins and authextra bytes per new
// cookie. Never the events: a cookie may have many. Updates and Deletes
// of cookies created earlier make the estimate low, as the unwritten space
// that a crash leaves after a sync=always journal's frames makes it high;
// the index grows past a low estimate, at some cost.
func sizeHint(rest int64, s sample) index.Size {
	if rest <= 0 || s.bytes <= 0 || s.cookies <= 0 {
		return index.Size{}
	}
	scale := float64(rest) / float64(s.bytes)
	cookies := min(float64(s.cookies)*scale, float64(rest/minBytesPerCookie), maxSizeHint)
	logins := min(float64(s.logins)*scale, cookies)
	extra := min(float64(s.extraBytes)*scale, float64(rest))
	return index.Size{Cookies: int(cookies), Logins: int(logins), ExtraBytes: int(extra)}
}
