package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// DroppedRange is a run of bytes that Repair removed.
type DroppedRange struct {
	// Offset is where the range starts in the original file.
	Offset int64
	// Length is the number of bytes dropped.
	Length int64
	// Reason says what was wrong with the frame at Offset.
	Reason string
}

// RepairReport is what Repair did.
type RepairReport struct {
	// Path is the repaired file.
	Path string
	// Backup is the copy of the original file, or "" if nothing changed.
	Backup string
	// Frames is the number of valid frames kept.
	Frames int64
	// Bytes is the size of the repaired file, or of the clean one without
	// its unwritten space.
	Bytes int64
	// DroppedBytes is the number of bytes dropped in all.
	DroppedBytes int64
	// Dropped lists the dropped ranges in file order.
	Dropped []DroppedRange
}

// Repair removes every bad frame from the journal at path and keeps every
// valid one. It takes the journal's lock (so it fails with ErrLocked while
// the journal is open), copies the original to path+".bak" (or .bak.1,
// .bak.2, ... if taken; mode 0600), skips each bad region by searching for
// the next valid frame, and writes the frames kept to a temporary file that
// it renames over path. The repaired file keeps the original's format
// version. A clean file is left alone, with no backup. Repair does not fix
// a bad header: a file without one is not known to be a journal.
func Repair(path string, opts Options) (RepairReport, error) {
	fsys, log := opts.fs(), opts.logger()
	lock, err := lockFile(fsys, path)
	if err != nil {
		return RepairReport{}, err
	}
	defer lock.Close()
	removeTemps(fsys, path, log)

	f, size, err := openReadOnly(fsys, path)
	if err != nil {
		return RepairReport{}, err
	}
	defer f.Close()
	rep := RepairReport{Path: path, Bytes: size}
	if size == 0 {
		return rep, nil // a creation cut short: Open writes the header
	}
	version, err := readHeader(path, f, size)
	if err != nil {
		return rep, err
	}

	// Find the runs of valid frames to keep, [start, end) each.
	var keep [][2]int64
	s := scanner{r: f, size: size, off: HeaderSize}
	for start := s.off; ; {
		off, _, reason, err := s.next()
		if err == io.EOF {
			keep = append(keep, [2]int64{start, off})
			break
		}
		if err != nil {
			return rep, fmt.Errorf("journal %s: %w", path, err)
		}
		if reason == "" {
			rep.Frames++
			continue
		}
		keep = append(keep, [2]int64{start, off})
		next, err := resync(f, off+1, size)
		if err != nil {
			return rep, fmt.Errorf("journal %s: %w", path, err)
		}
		if next < 0 {
			next = size
		}
		rep.Dropped = append(rep.Dropped, DroppedRange{Offset: off, Length: next - off, Reason: reason})
		rep.DroppedBytes += next - off
		s.off, start = next, next
	}
	if len(rep.Dropped) == 0 {
		rep.Bytes = keep[0][1] // unwritten space after the frames is not counted
		return rep, nil
	}
	rep.Bytes = HeaderSize
	for _, k := range keep {
		rep.Bytes += k[1] - k[0]
	}

	buf := make([]byte, rewriteChunk)
	if rep.Backup, err = backup(fsys, path, f, size, buf); err != nil {
		return rep, err
	}
	tmp, t, err := createTemp(fsys, path)
	if err != nil {
		return rep, err
	}
	// The frames are copied as they are, so the repaired file keeps the
	// original's version: it says how they are encoded.
	err = writeAt(t, appendHeader(nil, version), 0)
	for at, i := int64(HeaderSize), 0; err == nil && i < len(keep); i++ {
		n := keep[i][1] - keep[i][0]
		err = copyRange(t, at, f, keep[i][0], n, buf)
		at += n
	}
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		fsys.Remove(tmp)
		return rep, fmt.Errorf("journal %s: write repaired file: %w", path, err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return rep, fmt.Errorf("journal %s: sync folder after repair: %w", path, err)
	}
	for _, d := range rep.Dropped {
		log.Warn("journal: repair dropped bad bytes", "path", path, "offset", d.Offset, "bytes", d.Length, "reason", d.Reason)
	}
	return rep, nil
}

// backup copies the journal f to the first free name of path+".bak",
// path+".bak.1", ... and makes the copy durable. It never overwrites.
func backup(fsys FS, path string, f File, size int64, buf []byte) (string, error) {
	for i := 0; i < 1000; i++ {
		name := path + ".bak"
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		b, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("journal %s: create backup: %w", path, err)
		}
		err = copyRange(b, 0, f, 0, size, buf)
		if err == nil {
			err = b.Sync()
		}
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("journal %s: write backup %s: %w", path, name, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("journal %s: no free backup name (tried .bak to .bak.999)", path)
}
