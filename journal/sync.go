package journal

import (
	"fmt"
	"time"
)

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

// Sync writes and fdatasyncs everything appended so far, in every mode.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	return j.syncLocked()
}

func (j *Journal) syncLocked() error { return j.flushUntilLocked(&j.syncedSeq, j.seq, true) }

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
