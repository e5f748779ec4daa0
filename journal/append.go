package journal

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

const (
	// noneChunk is how much SyncNone gathers in memory before a write.
	noneChunk = 64 << 10
	// maxPending makes SyncNone appenders wait while a write is running
	// and this much is already queued behind it.
	maxPending = 1 << 20
	// maxSpare is the largest batch buffer kept for reuse: more than a
	// SyncNone queue grows to, so that steady appending allocates nothing.
	maxSpare = 4 * maxPending
)

// How a SyncAlways journal writes unwritten space ahead of its frames (see
// "Unwritten space" in the package documentation). Not part of the wire
// format, since a reader accepts any run of zeros after the last frame, but
// part of the documented behaviour: what a file left by a crash may end
// with, and what a benchmark of the disk must do to measure the fdatasyncs
// that a journal's appends cost.
const (
	// UnwrittenChunk is how many zero bytes a flush writes past its frames
	// when they would pass the end of the file: the most unwritten space a
	// file holds. Each chunk costs one fdatasync that commits metadata; a
	// 4 KiB group of frames fills it in 256 syncs.
	UnwrittenChunk = 1 << 20
	// UnwrittenPage is the size of each write of those zeros: one page, so
	// that the kernel caches them in single pages, not in large folios that
	// each later append would dirty, and its fdatasync write, whole.
	UnwrittenPage = 4096
)

// zeros is the source of the unwritten space. It is never written.
var zeros [UnwrittenPage]byte

// Append adds a frame holding a copy of payload and returns its offset,
// once the frame is as durable as the sync mode promises. An error means
// the frame may not be durable; after a failed write or sync it wraps
// ErrReadOnly. The offset is only meaningful until the next compaction.
func (j *Journal) Append(payload []byte) (off int64, err error) {
	if err := checkPayload(payload); err != nil {
		return 0, err
	}
	j.mu.Lock()
	if err := j.admitLocked(); err != nil {
		j.mu.Unlock()
		return 0, err
	}
	off = j.size
	j.buf = appendFrame(j.buf, payload)
	j.queuedAppends++
	n := int64(FrameHeaderSize + len(payload))
	j.size += n
	j.seq += n
	j.stats.Appends++
	j.stats.Frames++
	j.stats.Bytes += n
	return off, j.waitUnlock(j.seq)
}

// AppendBatch appends several frames at once, in order, and waits once for
// all of them. It returns the offset of the first. Either every payload is
// valid and all are appended, or none is.
func (j *Journal) AppendBatch(payloads [][]byte) (off int64, err error) {
	total := 0
	for _, p := range payloads {
		if err := checkPayload(p); err != nil {
			return 0, err
		}
		total += FrameHeaderSize + len(p)
	}
	j.mu.Lock()
	if err := j.admitLocked(); err != nil {
		j.mu.Unlock()
		return 0, err
	}
	off = j.size
	if len(payloads) == 0 {
		j.mu.Unlock()
		return off, nil
	}
	j.buf = slices.Grow(j.buf, total)
	j.queuedAppends++
	for _, p := range payloads {
		j.buf = appendFrame(j.buf, p)
	}
	j.size += int64(total)
	j.seq += int64(total)
	j.stats.Appends++
	j.stats.Frames += int64(len(payloads))
	j.stats.Bytes += int64(total)
	return off, j.waitUnlock(j.seq)
}

// admitLocked waits for a running commit and says whether an append may go on.
func (j *Journal) admitLocked() error {
	for j.committing {
		j.cond.Wait()
	}
	if j.closed {
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	return j.err
}

// commitGroup is the appenders that one SyncAlways flush carries.
//
// Its appenders wait on one channel, which carries two signals: a value
// is the lead token, which the flush before the group's own passes on when
// it ends with the group's frames queued, and which makes the appender who
// takes it flush them; the channel's close ends the wait of all. One
// channel rather than two lets each appender wait with a plain receive: a
// select would have each of the dozens of appenders that a close wakes lock
// both channels again, one after another, to leave the other's queue.
type commitGroup struct {
	// wake takes the lead token (it has room for one) and is closed,
	// after err is set, when the flush is over.
	wake chan struct{}
	err  error
}

func newCommitGroup() *commitGroup {
	return &commitGroup{wake: make(chan struct{}, 1)}
}

// release ends the group's wait with err.
func (g *commitGroup) release(err error) {
	g.err = err
	close(g.wake)
}

// waitUnlock returns once the bytes up to stream position end are as
// durable as the mode promises, releasing j.mu, which the caller holds.
func (j *Journal) waitUnlock(end int64) error {
	if j.mode != SyncAlways {
		err := j.waitLocked(end)
		j.mu.Unlock()
		return err
	}
	// Group commit. An appender that finds no flush running leads: it
	// flushes everything queued, its own frames and those of everyone
	// who queued while the last flush ran. The others wait on their
	// group's channel, not on j.mu, so that a flush releases them all at
	// once instead of one after another through the mutex.
	var g *commitGroup // the group of our frames, once we wait
	for {
		if j.syncedSeq >= end {
			j.mu.Unlock()
			return nil
		}
		if j.err != nil {
			err := j.err
			j.mu.Unlock()
			return err
		}
		if !j.flushing {
			if j.gatherLocked() {
				j.flushLocked(true)
			}
			continue
		}
		if g == nil {
			// Our frames are in buf: no flush has run since we queued
			// them, as we have held j.mu. A flush that takes them later
			// takes this group with them, so it is ours for good, even
			// when j.group has moved on by the time a lead token
			// wakes us.
			if j.group == nil {
				j.group = newCommitGroup()
			}
			g = j.group
		}
		j.mu.Unlock()
		if _, lead := <-g.wake; !lead {
			return g.err
		}
		// A lead token; it may also be one left over in a group
		// that has just been released, which the loop sees.
		j.mu.Lock()
	}
}

// waitLocked returns once the bytes up to stream position end are as
// durable as SyncInterval or SyncNone promise.
func (j *Journal) waitLocked(end int64) error {
	switch j.mode {
	case SyncInterval:
		return j.flushUntilLocked(&j.writtenSeq, end, false)
	case SyncNone:
		for len(j.buf) >= noneChunk && j.err == nil {
			if !j.flushing {
				j.flushLocked(false)
			} else if len(j.buf) >= maxPending {
				j.cond.Wait()
			} else {
				break
			}
		}
		if j.err != nil && j.writtenSeq < end {
			return j.err
		}
	}
	return nil
}

// maxGather bounds how long a leader waits for the group to form.
const maxGather = 200 * time.Microsecond

// gatherLocked lets the appenders that the last flush released queue their
// next frames before a new flush starts. Without it the leader would be the
// first of them to come back, and the rest would wait a whole fdatasync for
// the flush after: groups would alternate between large and small and carry
// half the writers each on average. The wait ends as soon as every appender
// that the last flush released or kept waiting has queued, and after a
// quarter of the last fdatasync's time at most (never more than maxGather),
// so that a single writer, whose last group was itself, never waits at all.
// It reports whether the caller is still the one to flush.
func (j *Journal) gatherLocked() bool {
	want := j.expected
	if j.err != nil {
		j.failGroupLocked()
		return false
	}
	if want <= 1 || j.queuedAppends >= want {
		return true
	}
	j.flushing = true // others wait for their group instead of leading
	deadline := time.Now().Add(min(j.lastSyncTime/4, maxGather))
	for j.queuedAppends < want && j.err == nil && !j.closed {
		j.mu.Unlock()
		runtime.Gosched()
		j.mu.Lock()
		if time.Now().After(deadline) {
			break
		}
	}
	j.flushing = false
	if j.err != nil {
		j.failGroupLocked()
		j.cond.Broadcast() // a Sync waiting for this "flush" to end
		return false
	}
	return true
}

// flushUntilLocked flushes, with an fdatasync if sync, or waits for the
// flush under way, until *done (writtenSeq or syncedSeq) reaches stream
// position end, or returns the error of a failed write or fdatasync. It is
// called with j.mu held; *done is read under it.
func (j *Journal) flushUntilLocked(done *int64, end int64, sync bool) error {
	for *done < end {
		if j.err != nil {
			return j.err
		}
		if j.flushing {
			j.cond.Wait()
		} else {
			j.flushLocked(sync)
		}
	}
	return nil
}

// flushLocked writes the queued frames and, if sync, fdatasyncs the file.
// It is called with j.mu held and no flush running; it releases j.mu during
// the I/O, so that appenders queue up meanwhile, and holds it again on
// return.
func (j *Journal) flushLocked(sync bool) {
	j.flushing = true
	data := j.buf
	j.buf, j.spare = j.spare[:0], nil
	group, released := j.queuedAppends, j.group
	j.queuedAppends, j.group = 0, nil
	f, start, target := j.f, j.fileEnd, j.seq
	end, allocEnd := start+int64(len(data)), j.allocEnd
	// A SyncAlways journal keeps unwritten space ahead of its frames, so
	// that its fdatasyncs write data blocks and nothing else.
	ahead := j.mode == SyncAlways && end > allocEnd
	if ahead {
		allocEnd = end + UnwrittenChunk
	}
	j.mu.Unlock()

	var werr, serr error
	var took time.Duration
	if len(data) > 0 {
		werr = writeAt(f, data, start)
	}
	if werr == nil && ahead {
		werr = writeAhead(f, end)
	}
	if werr == nil && sync {
		t0 := time.Now()
		serr = f.Datasync()
		took = time.Since(t0)
		if j.onSync != nil {
			j.onSync(took, serr)
		}
	}

	j.mu.Lock()
	if cap(data) <= maxSpare {
		j.spare = data[:0]
	}
	if len(data) > 0 {
		j.stats.Writes++
	}
	if sync && werr == nil {
		j.stats.Syncs++
		j.stats.SyncTime += took
		j.expected, j.lastSyncTime = group+j.queuedAppends, took
	}
	switch {
	case werr != nil:
		j.failLocked(fmt.Errorf("journal %s: write %d bytes at offset %d: %w", j.path, len(data), start, werr))
		// Cut off whatever part of the batch reached the file, so that
		// it ends with a whole frame. Frames queued meanwhile are lost
		// with it; their appenders get the error.
		if err := f.Truncate(start); err != nil {
			j.log.Error("journal: cannot cut back a failed write; the next Open will drop it as a torn tail",
				"path", j.path, "offset", start, "err", err)
		}
		j.size, j.buf, j.allocEnd = start, j.buf[:0], start
	case serr != nil:
		j.stats.SyncErrors++
		j.fileEnd, j.writtenSeq, j.allocEnd = end, target, allocEnd
		j.failLocked(fmt.Errorf("journal %s: fdatasync: %w", j.path, serr))
	default:
		j.fileEnd, j.writtenSeq, j.allocEnd = end, target, allocEnd
		if sync {
			j.syncedSeq = target
		}
	}
	if released != nil {
		released.release(j.err)
	}
	if j.mode == SyncAlways {
		j.handOffLocked()
	}
	j.flushing = false
	j.cond.Broadcast()
}

// handOffLocked passes the lead to the current group if it has frames
// queued, or fails it if the journal is read-only. SyncAlways only.
func (j *Journal) handOffLocked() {
	switch {
	case j.err != nil:
		j.failGroupLocked()
	case j.group != nil:
		select {
		case j.group.wake <- struct{}{}:
		default:
		}
	}
}

// failGroupLocked releases the appenders of the current group with the
// error that made the journal read-only: their frames will never be
// written. SyncAlways only.
func (j *Journal) failGroupLocked() {
	if j.group != nil {
		j.group.release(j.err)
		j.group = nil
	}
	j.buf, j.queuedAppends = j.buf[:0], 0
}

// writeAhead writes UnwrittenChunk zero bytes at off, a page at a time. One
// large write would let the kernel cache the range in large folios; every
// later append would then dirty a whole folio, and its fdatasync write it:
// on Linux 6.18 and ext4 that was about 57 KB written per 70-byte event,
// against one 4 KiB page when the zeros are written page by page.
func writeAhead(f File, off int64) error {
	for n := int64(0); n < UnwrittenChunk; n += UnwrittenPage {
		if err := writeAt(f, zeros[:], off+n); err != nil {
			return err
		}
	}
	return nil
}

// writeAt writes all of p at off. A writer that reports a short write
// without an error still fails: the journal never leaves half a batch.
func writeAt(f File, p []byte, off int64) error {
	n, err := f.WriteAt(p, off)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// failLocked makes the journal read-only for good, keeping the first cause.
func (j *Journal) failLocked(err error) {
	if j.err != nil {
		return
	}
	j.err = fmt.Errorf("%w: %w", ErrReadOnly, err)
	j.log.Error("journal: read-only after a failure", "path", j.path, "err", err)
}
