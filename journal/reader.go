package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Reader reads the frames of a journal from a stream, for offline tools
// such as a dump. It does not recover: the first bad frame ends the stream
// with a *FrameError. It holds no lock, so a journal being appended to may
// end in a partly written frame.
type Reader struct {
	r       *bufio.Reader
	version int
	off     int64
	buf     []byte
	err     error
}

// readerChunk bounds how far Reader trusts a length field: it reads a large
// payload in steps that at most double, so a damaged length makes it
// allocate in proportion to the bytes actually there, not to the length.
const readerChunk = 64 << 10

// NewReader reads and checks the file header from r. The error wraps
// ErrBadHeader if the header is not a valid header of a version from
// MinVersion to Version.
func NewReader(r io.Reader) (*Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readerChunk)
	}
	var h [HeaderSize]byte
	n, err := io.ReadFull(br, h[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal: read header: %w", err)
	}
	version, reason := parseHeader(h[:n])
	if reason != "" {
		return nil, fmt.Errorf("journal: %w: %s", ErrBadHeader, reason)
	}
	return &Reader{r: br, version: version, off: HeaderSize}, nil
}

// Version returns the format version in the file's header, which says how
// the payloads are encoded.
func (r *Reader) Version() int { return r.version }

// Next returns the next frame's offset and payload. The payload is valid
// until the next call. At a clean end of the stream it returns io.EOF; for
// a bad frame, a *FrameError; after either, it returns the same error again.
func (r *Reader) Next() (off int64, payload []byte, err error) {
	if r.err != nil {
		return r.off, nil, r.err
	}
	off, payload, err = r.next()
	if err != nil {
		r.err = err
		return off, nil, err
	}
	r.off += FrameHeaderSize + int64(len(payload))
	return off, payload, nil
}

func (r *Reader) next() (int64, []byte, error) {
	var h [FrameHeaderSize]byte
	n, err := io.ReadFull(r.r, h[:])
	switch {
	case errors.Is(err, io.EOF):
		return r.off, nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF) && allZero(h[:n]):
		return r.off, nil, io.EOF // the last few bytes of unwritten space
	case errors.Is(err, io.ErrUnexpectedEOF):
		return r.off, nil, r.bad(fmt.Sprintf("incomplete frame header: %d of %d bytes", n, FrameHeaderSize))
	case err != nil:
		return r.off, nil, fmt.Errorf("journal: read frame at offset %d: %w", r.off, err)
	}
	length := binary.LittleEndian.Uint32(h[:])
	if length == 0 && allZero(h[:]) {
		if zero, err := zeroStream(r.r); err != nil {
			return r.off, nil, fmt.Errorf("journal: read at offset %d: %w", r.off, err)
		} else if zero {
			return r.off, nil, io.EOF
		}
	}
	if reason := checkLength(length, MaxFrameSize); reason != "" {
		return r.off, nil, r.bad(reason)
	}
	r.buf = append(r.buf[:0], h[:]...)
	for have := 0; have < int(length); {
		step := min(int(length)-have, max(have, readerChunk))
		r.buf = grow(r.buf, step)
		n, err := io.ReadFull(r.r, r.buf[len(r.buf)-step:])
		have += n
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return r.off, nil, r.bad(fmt.Sprintf("frame length %d runs past the end of the file (%d bytes left)", length, have))
			}
			return r.off, nil, fmt.Errorf("journal: read frame at offset %d: %w", r.off, err)
		}
	}
	if reason := checkFrame(r.buf); reason != "" {
		return r.off, nil, r.bad(reason)
	}
	return r.off, r.buf[FrameHeaderSize:], nil
}

func (r *Reader) bad(reason string) error { return &FrameError{Offset: r.off, Reason: reason} }

// grow extends b by n bytes, reallocating at most to twice what is needed.
func grow(b []byte, n int) []byte {
	if len(b)+n <= cap(b) {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(len(b)+n, min(2*cap(b), len(b)+n+readerChunk)))
	copy(nb, b)
	return nb
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroFrom reports whether the bytes of r from off to size are all zero:
// the unwritten space at the end of a journal. It reads in steps that
// double from 64 bytes and stops at the first byte that is not zero, so a
// run of zeros in a damaged file costs at most about twice its length: a
// file with many such runs cannot make Repair read the same bytes over and
// over.
func zeroFrom(r io.ReaderAt, off, size int64) (bool, error) {
	var buf []byte
	for step := int64(64); off < size; step = min(2*step, scanChunk) {
		n := min(step, size-off)
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if err := readAt(r, b, off); err != nil {
			return false, err
		}
		if !allZero(b) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// zeroStream reports whether everything left in r is zero bytes.
func zeroStream(r io.Reader) (bool, error) {
	buf := make([]byte, readerChunk)
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// scanner reads the frames of a file of known size through ReadAt. Unlike
// Reader it can move to any offset, which Open and Repair need to resync.
type scanner struct {
	r      io.ReaderAt
	size   int64  // file size; nothing at or past it is read
	off    int64  // offset of the next frame
	buf    []byte // file bytes [bufOff, bufOff+len(buf))
	bufOff int64
}

// scanChunk is how much the scanner reads at a time.
const scanChunk = 256 << 10

// next returns the frame at s.off and moves past it. A bad frame gives a
// reason and leaves s.off at it; the end of the file gives io.EOF; an error
// is an I/O error. The payload is valid until the next call.
func (s *scanner) next() (off int64, payload []byte, reason string, err error) {
	off = s.off
	left := s.size - off
	if left == 0 {
		return off, nil, "", io.EOF
	}
	if h, err := s.peek(int(min(left, 4))); err != nil {
		return off, nil, "", err
	} else if allZero(h) {
		// Nearly always the unwritten space at the end; if not, the
		// length check below names the damage.
		if zero, err := zeroFrom(s.r, off, s.size); err != nil {
			return off, nil, "", err
		} else if zero {
			return off, nil, "", io.EOF
		}
	}
	if left < FrameHeaderSize {
		return off, nil, fmt.Sprintf("incomplete frame header: %d of %d bytes", left, FrameHeaderSize), nil
	}
	h, err := s.peek(FrameHeaderSize)
	if err != nil {
		return off, nil, "", err
	}
	length := binary.LittleEndian.Uint32(h)
	if reason := checkLength(length, left-FrameHeaderSize); reason != "" {
		return off, nil, reason, nil
	}
	frame, err := s.peek(FrameHeaderSize + int(length))
	if err != nil {
		return off, nil, "", err
	}
	if reason := checkFrame(frame); reason != "" {
		return off, nil, reason, nil
	}
	s.off += int64(len(frame))
	return off, frame[FrameHeaderSize:], "", nil
}

// peek returns the n bytes at s.off; the caller has checked that the file
// holds them, so n is bounded by the file size.
func (s *scanner) peek(n int) ([]byte, error) {
	if i := s.off - s.bufOff; i >= 0 && i+int64(n) <= int64(len(s.buf)) {
		return s.buf[i : i+int64(n)], nil
	}
	want := int(min(int64(max(n, scanChunk)), s.size-s.off))
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	s.bufOff = s.off
	if err := readAt(s.r, s.buf, s.off); err != nil {
		s.buf = s.buf[:0]
		return nil, err
	}
	return s.buf[:n], nil
}

// readAt fills p from r at off. A short read is an error that names the
// offset where it stopped.
func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read at offset %d: %w", off+int64(n), err)
}
