package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recovery describes what Open found in the file.
type Recovery struct {
	// Frames is the number of valid frames read.
	Frames int64
	// Bytes is the size of the valid part, header included: where the
	// next frame goes.
	Bytes int64
	// Unwritten is the number of zero bytes after the last frame: space
	// that a SyncAlways journal wrote ahead of its frames (see the package
	// comment). It is kept, not dropped.
	Unwritten int64
	// DroppedBytes is the size of the torn tail that Open cut off.
	DroppedBytes int64
	// Reason says why the tail was dropped; empty when nothing was.
	Reason string
	// Created is true when Open wrote a fresh header (new or empty file).
	Created bool
}

// Stats are counters since Open.
type Stats struct {
	// Appends is the number of Append and AppendBatch calls that queued frames.
	Appends int64
	// Frames is the number of frames appended.
	Frames int64
	// Bytes is the number of bytes appended, frame headers included.
	Bytes int64
	// Writes is the number of writes to the file (a batch is one write).
	Writes int64
	// Syncs is the number of fdatasyncs attempted.
	Syncs int64
	// SyncErrors is the number of fdatasyncs that failed.
	SyncErrors int64
	// SyncTime is the total time spent in fdatasync.
	SyncTime time.Duration
	// Size is the journal's size, as Size returns it.
	Size int64
}

const (
	// noneChunk is how much SyncNone gathers in memory before a write.
	noneChunk = 64 << 10
	// maxPending makes SyncNone appenders wait while a write is running
	// and this much is already queued behind it.
	maxPending = 1 << 20
	// maxSpare is the largest batch buffer kept for reuse: more than a
	// SyncNone queue grows to, so that steady appending allocates nothing.
	maxSpare = 4 * maxPending
	// aheadChunk is how much unwritten space a SyncAlways journal writes
	// ahead of its frames at a time. Each chunk costs one fdatasync that
	// commits metadata; a 4 KiB group of frames fills it in 256 syncs.
	aheadChunk = 1 << 20
)

// aheadPage is the size of each write of unwritten space.
const aheadPage = 4096

// zeros is the source of the unwritten space. It is never written.
var zeros [aheadPage]byte

// Journal is an open journal file. Its methods are safe for concurrent use.
type Journal struct {
	path   string
	fs     FS
	log    *slog.Logger
	mode   SyncMode
	onSync func(time.Duration, error)
	lock   io.Closer
	rec    Recovery
	stop   chan struct{}  // closed by Close to end the background goroutine
	bg     sync.WaitGroup // the background goroutine

	mu   sync.Mutex
	cond sync.Cond // signalled when a flush or a commit ends
	f    File
	// buf holds frames appended but not yet handed to a write; spare is
	// the other buffer, taken by the flush in progress.
	buf, spare []byte
	size       int64 // offset at which the next frame will start
	fileEnd    int64 // bytes of frames written to the file
	// allocEnd is the file's size: fileEnd plus the unwritten space.
	allocEnd int64
	// Appends are numbered by the stream position of their end: seq counts
	// every byte appended since Open, and unlike offsets it does not change
	// when a compaction replaces the file.
	seq, writtenSeq, syncedSeq int64
	// group is the SyncAlways appenders who wait for the frames in buf:
	// the next flush releases them all at once. It is nil while nobody
	// waits, so that a lone appender, which always leads, allocates none.
	group *commitGroup
	// queuedAppends counts the Append calls whose frames are in buf;
	// expected is how many the next sync flush should carry: those the
	// last one released and those who queued while it ran. With
	// lastSyncTime, how long its fdatasync took, it lets a leader gather.
	queuedAppends, expected int
	lastSyncTime            time.Duration
	flushing                bool // a flush or commit owns the file
	committing              bool // a commit is running; appends wait
	closed                  bool
	err                     error // sticky: the journal is read-only
	rw                      *Rewrite
	stats                   Stats
}

// Open opens the journal at path, creating it (mode 0600, its folder 0700)
// if it does not exist, and takes its lock. It removes temporary files left
// by an interrupted compaction, checks the header, and calls visit for
// every frame in order; payload is only valid during the call, and visit
// may be nil. An error from visit aborts Open and is returned wrapped.
//
// A torn tail is cut off and reported in Recovery. Damage followed by valid
// frames is a *CorruptError (errors.Is ErrCorrupt); a journal held by
// someone else is an error wrapping ErrLocked; a bad header, one wrapping
// ErrBadHeader.
func Open(path string, opts Options, visit func(off int64, payload []byte) error) (*Journal, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	fsys, log := opts.fs(), opts.logger()
	dir := filepath.Dir(path)
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal %s: create folder: %w", path, err)
	}
	lock, err := lockFile(fsys, path)
	if err != nil {
		return nil, err
	}
	removeTemps(fsys, path, log)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	rec, err := recoverFile(path, f, fsys, log, visit)
	if err != nil {
		f.Close()
		lock.Close()
		return nil, err
	}
	j := &Journal{
		path:     path,
		fs:       fsys,
		log:      log,
		mode:     opts.Sync,
		onSync:   opts.OnSync,
		lock:     lock,
		rec:      rec,
		stop:     make(chan struct{}),
		f:        f,
		size:     rec.Bytes,
		fileEnd:  rec.Bytes,
		allocEnd: rec.Bytes + rec.Unwritten,
	}
	j.cond.L = &j.mu
	if j.mode != SyncAlways {
		j.bg.Add(1)
		go j.background(opts.interval())
	}
	return j, nil
}

// lockFile takes the lock of the journal at path.
func lockFile(fsys FS, path string) (io.Closer, error) {
	lock, err := fsys.Lock(path + ".lock")
	if errors.Is(err, ErrLocked) {
		return nil, &lockedError{path: path, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return lock, nil
}

// tempPrefix returns the prefix of the temporary files of a compaction or
// repair of the journal at path.
func tempPrefix(path string) string { return path + ".compact-" }

// removeTemps deletes temporary files that a crash during a compaction or
// repair left behind; they never hold anything the journal needs.
func removeTemps(fsys FS, path string, log *slog.Logger) {
	dir, prefix := filepath.Dir(path), filepath.Base(tempPrefix(path))
	names, err := fsys.ReadDirNames(dir)
	if err != nil {
		log.Warn("journal: cannot list folder for leftover temporary files", "path", path, "err", err)
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		tmp := filepath.Join(dir, name)
		if err := fsys.Remove(tmp); err != nil {
			log.Warn("journal: cannot remove leftover temporary file", "path", tmp, "err", err)
			continue
		}
		log.Info("journal: removed leftover temporary file", "path", tmp)
	}
}

// createTemp creates a new temporary file beside the journal at path.
func createTemp(fsys FS, path string) (string, File, error) {
	var b [8]byte
	rand.Read(b[:])
	name := tempPrefix(path) + hex.EncodeToString(b[:])
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("journal %s: create temporary file: %w", path, err)
	}
	return name, f, nil
}

// recoverFile checks the header of the journal f, creating it if the file
// is empty, reads every frame and cuts off a torn tail.
func recoverFile(path string, f File, fsys FS, log *slog.Logger, visit func(int64, []byte) error) (Recovery, error) {
	size, err := f.Size()
	if err != nil {
		return Recovery{}, fmt.Errorf("journal %s: %w", path, err)
	}
	if size == 0 {
		// Only a creation cut short leaves an empty file.
		if _, err := f.WriteAt(appendHeader(nil), 0); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: write header: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: sync new file: %w", path, err)
		}
		if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: sync folder: %w", path, err)
		}
		log.Info("journal: created", "path", path)
		return Recovery{Bytes: HeaderSize, Created: true}, nil
	}
	if err := readHeader(path, f, size); err != nil {
		return Recovery{}, err
	}
	s := scanner{r: f, size: size, off: HeaderSize}
	var rec Recovery
	for {
		off, payload, reason, err := s.next()
		if err == io.EOF {
			rec.Bytes, rec.Unwritten = off, size-off
			return rec, nil
		}
		if err != nil {
			return Recovery{}, fmt.Errorf("journal %s: %w", path, err)
		}
		if reason != "" {
			s.buf = nil // free it: the search has its own window
			return resolveBadFrame(path, f, off, size, reason, rec, log)
		}
		if visit != nil {
			if err := visit(off, payload); err != nil {
				return Recovery{}, fmt.Errorf("journal %s: frame at offset %d: %w", path, off, err)
			}
		}
		rec.Frames++
	}
}

// readHeader checks the header of a journal of the given size.
func readHeader(path string, f io.ReaderAt, size int64) error {
	h := make([]byte, min(size, HeaderSize))
	if err := readAt(f, h, 0); err != nil {
		return fmt.Errorf("journal %s: header: %w", path, err)
	}
	if reason := checkHeader(h); reason != "" {
		return fmt.Errorf("journal %s: %w: %s", path, ErrBadHeader, reason)
	}
	return nil
}

// resolveBadFrame decides what the bad frame at offset bad is. If a valid
// frame follows anywhere, the file is corrupt and is left alone. If none
// does, the bad bytes are the tail of an interrupted write, and are cut
// off: a sync covers whole writes, so no frame that a sync made durable
// lies in them.
func resolveBadFrame(path string, f File, bad, size int64, reason string, rec Recovery, log *slog.Logger) (Recovery, error) {
	next, err := resync(f, bad+1, size)
	if err != nil {
		return Recovery{}, fmt.Errorf("journal %s: %w", path, err)
	}
	if next >= 0 {
		return Recovery{}, &CorruptError{Path: path, Offset: bad, Reason: reason, Next: next}
	}
	if err := f.Truncate(bad); err != nil {
		return Recovery{}, fmt.Errorf("journal %s: cut torn tail at offset %d: %w", path, bad, err)
	}
	if err := f.Sync(); err != nil {
		return Recovery{}, fmt.Errorf("journal %s: sync after cutting torn tail: %w", path, err)
	}
	rec.Bytes, rec.Unwritten, rec.DroppedBytes, rec.Reason = bad, 0, size-bad, reason
	log.Warn("journal: dropped torn tail", "path", path, "offset", bad, "bytes", rec.DroppedBytes, "reason", reason)
	return rec, nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Recovery reports what Open found.
func (j *Journal) Recovery() Recovery { return j.rec }

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
		for j.writtenSeq < end {
			if j.err != nil {
				return j.err
			}
			if j.flushing {
				j.cond.Wait()
			} else {
				j.flushLocked(false)
			}
		}
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
		allocEnd = end + aheadChunk
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

// writeAhead writes aheadChunk zero bytes at off, a page at a time. One
// large write would let the kernel cache the range in large folios; every
// later append would then dirty a whole folio, and its fdatasync write it:
// on Linux 6.18 and ext4 that was about 57 KB written per 70-byte event,
// against one 4 KiB page when the zeros are written page by page.
func writeAhead(f File, off int64) error {
	for n := int64(0); n < aheadChunk; n += aheadPage {
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

// background writes (SyncNone) or writes and fdatasyncs (SyncInterval)
// what was appended, every interval.
func (j *Journal) background(every time.Duration) {
	defer j.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		}
		j.mu.Lock()
		for j.flushing && !j.closed {
			j.cond.Wait()
		}
		if !j.closed && j.err == nil && (len(j.buf) > 0 || (j.mode == SyncInterval && j.syncedSeq < j.writtenSeq)) {
			j.flushLocked(j.mode == SyncInterval)
		}
		j.mu.Unlock()
	}
}

// Size returns the offset at which the next frame will start: the size of
// the file once everything appended is written. After a compaction it is
// the size of the new file.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// Sync writes and fdatasyncs everything appended so far, in every mode.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	return j.syncLocked()
}

func (j *Journal) syncLocked() error {
	end := j.seq
	for j.syncedSeq < end {
		if j.err != nil {
			return j.err
		}
		if j.flushing {
			j.cond.Wait()
		} else {
			j.flushLocked(true)
		}
	}
	return nil
}

// cutUnwritten cuts the unwritten space off a journal being closed, so
// that a closed journal ends with its last frame. Failing to is harmless,
// since readers skip the space, so it is only logged.
func (j *Journal) cutUnwritten() {
	err := j.f.Truncate(j.fileEnd)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		j.log.Warn("journal: cannot cut off the unwritten space at close; it is harmless",
			"path", j.path, "offset", j.fileEnd, "err", err)
		return
	}
	j.allocEnd = j.fileEnd
}

// Stats returns the counters since Open.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Size = j.size
	return s
}

// Err returns nil, or the error that made the journal read-only.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Close writes and syncs everything appended, abandons a rewrite in
// progress, closes the file and releases the lock. It returns the error
// that made the journal read-only, if any: then not everything appended
// may be durable. A second Close returns ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	// Wait out a commit first: it holds appends, and its appenders
	// expect their frames in the new file.
	for j.committing {
		j.cond.Wait()
	}
	j.closed = true
	err := j.syncLocked()
	if err == nil {
		err = j.err
	}
	for j.flushing {
		j.cond.Wait()
	}
	rw, f := j.rw, j.f
	if err == nil && j.allocEnd > j.fileEnd {
		j.cutUnwritten()
	}
	j.mu.Unlock()

	close(j.stop)
	j.bg.Wait()
	if rw != nil {
		rw.Abort()
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("journal %s: close: %w", j.path, cerr)
	}
	if lerr := j.lock.Close(); lerr != nil && err == nil {
		err = fmt.Errorf("journal %s: release lock: %w", j.path, lerr)
	}
	return err
}
