package journal

import (
	"io"
	"log/slog"
	"sync"
	"time"
)

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
	// version is the format version of f's header.
	version int
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

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Recovery reports what Open found.
func (j *Journal) Recovery() Recovery { return j.rec }

// Version returns the format version of the file the journal appends to:
// the version Open found, or Version for a file it created. A committed
// Rewrite replaces the file with one of version Version. Appends never
// change it: the payloads appended must be in the encoding that the
// file's version names.
func (j *Journal) Version() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.version
}

// Size returns the offset at which the next frame will start: the size of
// the file once everything appended is written. After a compaction it is
// the size of the new file.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
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
