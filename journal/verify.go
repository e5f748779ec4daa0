package journal

import (
	"fmt"
	"io"
	"os"
)

// VerifyReport is what Verify found in a journal file.
type VerifyReport struct {
	// Path is the file checked.
	Path string
	// Version is the format version in the file's header.
	Version int
	// Size is the file's size in bytes.
	Size int64
	// Frames is the number of valid frames before the first bad one.
	Frames int64
	// Bytes is the size of the valid part, header included; unwritten
	// space after the last frame is not part of it.
	Bytes int64
	// BadOffset is the offset of the first bad frame, or -1 if all are valid.
	BadOffset int64
	// Reason says what is wrong with the frame at BadOffset.
	Reason string
	// NextValid is the offset of the first valid frame after BadOffset, or
	// -1 if there is none: then the damage is a torn tail, which Open cuts
	// off, and otherwise corruption, which only Repair removes.
	NextValid int64
}

// OK reports whether every frame in the file is valid.
func (r VerifyReport) OK() bool { return r.BadOffset < 0 }

// TornTail reports whether the file has a bad tail that Open would cut off.
func (r VerifyReport) TornTail() bool { return r.BadOffset >= 0 && r.NextValid < 0 }

// Verify checks the header and every frame of the journal at path without
// changing it and without taking the lock; on a journal in use, the last
// frame may be caught half written. An unreadable file or a bad header is
// an error; bad frames are reported.
func Verify(path string, opts Options) (VerifyReport, error) {
	f, size, err := openReadOnly(opts.fs(), path)
	if err != nil {
		return VerifyReport{}, err
	}
	defer f.Close()
	version, err := readHeader(path, f, size)
	if err != nil {
		return VerifyReport{}, err
	}
	r := VerifyReport{Path: path, Version: version, Size: size, Bytes: size, BadOffset: -1, NextValid: -1}
	s := scanner{r: f, size: size, off: HeaderSize}
	for {
		off, _, reason, err := s.next()
		if err == io.EOF {
			r.Bytes = off
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("journal %s: %w", path, err)
		}
		if reason != "" {
			r.Bytes, r.BadOffset, r.Reason = off, off, reason
			s.buf = nil
			if r.NextValid, err = resync(f, off+1, size); err != nil {
				return r, fmt.Errorf("journal %s: %w", path, err)
			}
			return r, nil
		}
		r.Frames++
	}
}

// openReadOnly opens the journal file at path for reading, as Verify and
// Repair read it, and returns it with its size.
func openReadOnly(fsys FS, path string) (File, int64, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %w", err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("journal %s: %w", path, err)
	}
	return f, size, nil
}
