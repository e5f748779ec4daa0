package journal

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
)

// Rewrite builds a replacement for the journal file beside it: the
// compacted state first, then, at Commit, the frames appended to the
// journal since BeginRewrite. Use it from one goroutine; the journal stays
// open for appends the whole time.
type Rewrite struct {
	j    *Journal
	name string // the temporary file
	from int64  // journal offset when the rewrite began

	mu   sync.Mutex // taken by Journal.Close, which may abort
	f    File
	buf  []byte // frames not yet written to f
	off  int64  // bytes written to f
	err  error  // the first write error
	done bool   // committed or aborted
}

// rewriteChunk is how much a Rewrite gathers before writing.
const rewriteChunk = 1 << 20

// errRewriteDone is returned by calls on a committed or aborted Rewrite.
var errRewriteDone = errors.New("journal: rewrite already committed or aborted")

// BeginRewrite starts building a replacement file: a temporary file
// path+".compact-<16 hex digits>" holding a header of version Version,
// whatever the version of the journal's file, so that a rewrite of an
// older file upgrades it. The caller writes the payloads it appends to the
// Rewrite in Version's encoding. Frames appended to the journal from now
// on are not part of what the caller writes to the Rewrite; Commit copies
// them as they are. Only one rewrite runs at a time.
func (j *Journal) BeginRewrite() (*Rewrite, error) {
	name, f, err := createTemp(j.fs, j.path)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	err = j.admitLocked()
	if err == nil && j.rw != nil {
		err = fmt.Errorf("journal %s: a rewrite is already in progress", j.path)
	}
	if err != nil {
		j.mu.Unlock()
		f.Close()
		j.fs.Remove(name)
		return nil, err
	}
	rw := &Rewrite{j: j, name: name, f: f, from: j.size, buf: appendHeader(make([]byte, 0, rewriteChunk), Version)}
	j.rw = rw
	j.mu.Unlock()
	return rw, nil
}

// Append adds a frame holding a copy of payload to the replacement file.
// Nothing is synced until Commit.
func (rw *Rewrite) Append(payload []byte) error {
	if err := checkPayload(payload); err != nil {
		return err
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.done {
		return errRewriteDone
	}
	if rw.err != nil {
		return rw.err
	}
	rw.buf = appendFrame(rw.buf, payload)
	if len(rw.buf) >= rewriteChunk {
		return rw.writeLocked()
	}
	return nil
}

func (rw *Rewrite) writeLocked() error {
	if rw.err == nil && len(rw.buf) > 0 {
		if err := writeAt(rw.f, rw.buf, rw.off); err != nil {
			rw.err = fmt.Errorf("journal %s: write %s: %w", rw.j.path, rw.name, err)
		} else {
			rw.off += int64(len(rw.buf))
			rw.buf = rw.buf[:0]
		}
	}
	return rw.err
}

// Commit completes the replacement and puts it in place of the journal.
// It holds appends while it copies the frames appended since BeginRewrite,
// fsyncs the new file, renames it over the journal and fsyncs the folder;
// the journal then appends to the new file. It returns the sizes of the old
// and the new file; Size and offsets from now on refer to the new one.
//
// Commit copies frames byte for byte and cannot re-encode them, so when
// the rewrite changes the format version (the journal's file is older
// than Version) it fails if anything was appended to the journal since
// BeginRewrite: hold appends during such an upgrade. After Commit,
// Version reports Version.
//
// If Commit fails before the rename, the journal goes on with the old file
// and the temporary file is removed. If the folder fsync after the rename
// fails, the journal goes on with the new file but is read-only, since the
// rename may not survive a crash.
func (rw *Rewrite) Commit() (oldSize, newSize int64, err error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.done {
		return 0, 0, errRewriteDone
	}
	j := rw.j
	if err := rw.writeLocked(); err != nil {
		rw.abortLocked()
		return 0, 0, err
	}

	j.mu.Lock()
	for j.flushing {
		j.cond.Wait()
	}
	if err := j.admitLocked(); err != nil {
		j.mu.Unlock()
		rw.abortLocked()
		return 0, 0, err
	}
	if appended := j.size - rw.from; appended > 0 && j.version != Version {
		old := j.version
		j.mu.Unlock()
		rw.abortLocked()
		return 0, 0, fmt.Errorf("journal %s: %d bytes of frames were appended during a rewrite from format version %d to %d; they are in version %d's encoding and cannot be copied into the new file",
			j.path, appended, old, Version, old)
	}
	// Own the file and hold new appends; frames already queued (pending)
	// go straight to the new file.
	j.flushing, j.committing = true, true
	pending, queued := j.buf, j.queuedAppends
	j.buf, j.spare = j.spare[:0], nil
	j.queuedAppends = 0
	old, oldEnd, target := j.f, j.fileEnd, j.seq
	oldSize = oldEnd + int64(len(pending))
	j.mu.Unlock()

	err = rw.copyTail(old, oldEnd, pending)
	if err == nil {
		if err = rw.f.Sync(); err != nil {
			err = fmt.Errorf("journal %s: sync %s: %w", j.path, rw.name, err)
		}
	}
	if err == nil {
		if err = j.fs.Rename(rw.name, j.path); err != nil {
			err = fmt.Errorf("journal %s: %w", j.path, err)
		}
	}
	renamed := err == nil
	if renamed {
		if derr := j.fs.SyncDir(filepath.Dir(j.path)); derr != nil {
			err = fmt.Errorf("journal %s: sync folder after compaction: %w", j.path, derr)
		}
	}

	j.mu.Lock()
	if renamed {
		old.Close()
		j.f, j.fileEnd, j.size, j.allocEnd = rw.f, rw.off, rw.off, rw.off
		j.version = Version
		j.writtenSeq, j.syncedSeq = target, target
		if cap(pending) <= maxSpare {
			j.spare = pending[:0]
		}
		if err != nil {
			j.failLocked(err)
		}
		if j.group != nil {
			// The appenders of pending: their frames are in the new file.
			j.group.release(j.err)
			j.group = nil
		}
	} else {
		// Nothing was held back but pending: give it back to be written
		// to the old file as usual.
		j.buf, j.spare, j.queuedAppends = pending, j.buf, queued
		if j.mode == SyncAlways {
			j.handOffLocked()
		}
	}
	j.flushing, j.committing = false, false
	j.rw = nil
	j.cond.Broadcast()
	j.mu.Unlock()

	if !renamed {
		rw.abortLocked()
		return 0, 0, err
	}
	rw.done = true
	j.log.Info("journal: replaced by compacted file", "path", j.path, "old_bytes", oldSize, "new_bytes", rw.off)
	return oldSize, rw.off, err
}

// copyTail appends the journal's frames from rw.from on to the new file:
// those in the old file up to oldEnd, then those still queued in pending.
func (rw *Rewrite) copyTail(old File, oldEnd int64, pending []byte) error {
	if n := oldEnd - rw.from; n > 0 {
		if err := copyRange(rw.f, rw.off, old, rw.from, n, rw.buf[:cap(rw.buf)]); err != nil {
			return fmt.Errorf("journal %s: copy frames to %s: %w", rw.j.path, rw.name, err)
		}
		rw.off += n
	}
	if skip := max(rw.from-oldEnd, 0); skip < int64(len(pending)) {
		if err := writeAt(rw.f, pending[skip:], rw.off); err != nil {
			return fmt.Errorf("journal %s: write %s: %w", rw.j.path, rw.name, err)
		}
		rw.off += int64(len(pending)) - skip
	}
	return nil
}

// Abort abandons the rewrite and removes the temporary file. After Commit
// it does nothing, so it can be deferred.
func (rw *Rewrite) Abort() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.done {
		return nil
	}
	return rw.abortLocked()
}

func (rw *Rewrite) abortLocked() error {
	rw.done = true
	j := rw.j
	j.mu.Lock()
	if j.rw == rw {
		j.rw = nil
	}
	j.mu.Unlock()
	err := rw.f.Close()
	if rerr := j.fs.Remove(rw.name); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("journal %s: abort rewrite: %w", j.path, err)
	}
	return nil
}

// copyRange copies n bytes at srcOff in src to dstOff in dst through buf.
func copyRange(dst File, dstOff int64, src io.ReaderAt, srcOff, n int64, buf []byte) error {
	for n > 0 {
		m := int(min(int64(len(buf)), n))
		if err := readAt(src, buf[:m], srcOff); err != nil {
			return err
		}
		if err := writeAt(dst, buf[:m], dstOff); err != nil {
			return fmt.Errorf("write at offset %d: %w", dstOff, err)
		}
		srcOff, dstOff, n = srcOff+int64(m), dstOff+int64(m), n-int64(m)
	}
	return nil
}
