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
	"strings"
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
	// Version is the format version of the file's header: the one Open
	// found, or Version for a file it created.
	Version int
}

// Open opens the journal at path, creating it (mode 0600, its folder 0700)
// if it does not exist, and takes its lock. It removes temporary files left
// by an interrupted compaction, checks the header, and calls visit for
// every frame in order with the file's format version (the same for every
// frame: it says how to decode the payloads), the frame's offset and its
// payload, which is only valid during the call. visit may be nil. An error
// from visit aborts Open and is returned wrapped.
//
// A torn tail is cut off and reported in Recovery. Damage followed by valid
// frames is a *CorruptError (errors.Is ErrCorrupt); a journal held by
// someone else is an error wrapping ErrLocked; a bad header, one wrapping
// ErrBadHeader.
func Open(path string, opts Options, visit func(version int, off int64, payload []byte) error) (*Journal, error) {
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
		version:  rec.Version,
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
func recoverFile(path string, f File, fsys FS, log *slog.Logger, visit func(int, int64, []byte) error) (Recovery, error) {
	size, err := f.Size()
	if err != nil {
		return Recovery{}, fmt.Errorf("journal %s: %w", path, err)
	}
	if size == 0 {
		// Only a creation cut short leaves an empty file.
		if _, err := f.WriteAt(appendHeader(nil, Version), 0); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: write header: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: sync new file: %w", path, err)
		}
		if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
			return Recovery{}, fmt.Errorf("journal %s: sync folder: %w", path, err)
		}
		log.Info("journal: created", "path", path)
		return Recovery{Bytes: HeaderSize, Created: true, Version: Version}, nil
	}
	version, err := readHeader(path, f, size)
	if err != nil {
		return Recovery{}, err
	}
	s := scanner{r: f, size: size, off: HeaderSize}
	rec := Recovery{Version: version}
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
			if err := visit(version, off, payload); err != nil {
				return Recovery{}, fmt.Errorf("journal %s: frame at offset %d: %w", path, off, err)
			}
		}
		rec.Frames++
	}
}

// readHeader checks the header of a journal of the given size and returns
// its format version.
func readHeader(path string, f io.ReaderAt, size int64) (int, error) {
	h := make([]byte, min(size, HeaderSize))
	if err := readAt(f, h, 0); err != nil {
		return 0, fmt.Errorf("journal %s: header: %w", path, err)
	}
	version, reason := parseHeader(h)
	if reason != "" {
		return 0, fmt.Errorf("journal %s: %w: %s", path, ErrBadHeader, reason)
	}
	return version, nil
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
