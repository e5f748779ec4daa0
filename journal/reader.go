package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Reader reads the frames of a journal from a stream, for offline tools
// such as a dump. It does not recover: the first bad frame ends the stream
// with a *FrameError. It holds no lock, so a journal being appended to may
// end in a partly written frame.
type Reader struct {
	r   *bufio.Reader
	off int64
	buf []byte
	err error
}

// readerChunk bounds how far Reader trusts a length field: it reads a large
// payload in steps that at most double, so a damaged length makes it
// allocate in proportion to the bytes actually there, not to the length.
const readerChunk = 64 << 10

// NewReader reads and checks the file header from r. The error wraps
// ErrBadHeader if the header is not a valid version 1 header.
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
	if reason := checkHeader(h[:n]); reason != "" {
		return nil, fmt.Errorf("journal: %w: %s", ErrBadHeader, reason)
	}
	return &Reader{r: br, off: HeaderSize}, nil
}

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

// Resync: finding the next valid frame after a bad one.
//
// A candidate offset p is a valid frame when its length L is plausible and
// crc(length bytes ‖ payload) matches. Checking each plausible candidate
// with a plain CRC would cost up to L per offset, which a hostile file can
// make quadratic. Instead the resyncer keeps C(x), the CRC-32C of the bytes
// from the start of the search to x, every resyncStride bytes. CRC-32C is
// linear over GF(2), so for the payload [i, j), with L = j-i:
//
//	crc(payload)             = C(j) ⊕ C(i)·x^(8L)
//	crc(length ‖ payload)    = crc(length)·x^(8L) ⊕ crc(payload)
//	                         = (crc(length) ⊕ C(i))·x^(8L) ⊕ C(j)
//
// C at any offset costs at most resyncStride bytes of CRC from the nearest
// checkpoint, and multiplying by x^(8L) modulo the polynomial costs about
// 25 carry-less multiplications, so each candidate costs O(1).

const (
	resyncStride = 256
	resyncChunk  = 64 << 10
	// resyncDirect is the payload size up to which a plain CRC is cheaper
	// than the combination above.
	resyncDirect = 2 * resyncStride
	// resyncMaxWindow bounds the bytes of the file the resyncer holds.
	resyncMaxWindow = (MaxFrameSize + FrameHeaderSize + resyncStride + resyncChunk) / 3 * 4
)

type resyncer struct {
	r    io.ReaderAt
	base int64 // the search starts here; C(base) = 0
	size int64
	win  []byte // file bytes [wOff, wOff+len(win)); wOff is base + k*resyncStride
	wOff int64
	// ck[i] = C(base + (ckFirst+i)*resyncStride) for every such offset in
	// the window.
	ck      []uint32
	ckFirst int64
	run     uint32 // C(end of window)
}

// resync returns the offset of the first valid frame starting at or after
// start in a file of the given size, or -1 if there is none.
func resync(r io.ReaderAt, start, size int64) (int64, error) {
	rs := &resyncer{r: r, base: start, size: size, wOff: start, ck: []uint32{0}}
	for p := start; p+FrameHeaderSize <= size; p++ {
		if err := rs.need(p, p+FrameHeaderSize); err != nil {
			return -1, err
		}
		h := rs.win[p-rs.wOff:]
		length := binary.LittleEndian.Uint32(h)
		if length == 0 || length > MaxFrameSize || int64(length) > size-p-FrameHeaderSize {
			continue
		}
		if err := rs.need(p, p+FrameHeaderSize+int64(length)); err != nil {
			return -1, err
		}
		h = rs.win[p-rs.wOff:]
		if rs.frameCRC(p, int64(length)) == binary.LittleEndian.Uint32(h[4:]) {
			return p, nil
		}
	}
	return -1, nil
}

func (rs *resyncer) end() int64 { return rs.wOff + int64(len(rs.win)) }

// need makes the window hold [p, x). When it runs out of room it drops the
// bytes before p's checkpoint, or grows when that would free less than a
// quarter of it, so that each byte is copied at most a few times.
func (rs *resyncer) need(p, x int64) error {
	if x <= rs.end() {
		return nil
	}
	to := min(rs.size, x+resyncChunk)
	if c := int64(cap(rs.win)); to-rs.wOff > c {
		keep := rs.base + (p-rs.base)/resyncStride*resyncStride
		kept := rs.win[keep-rs.wOff:]
		// m <= MaxFrameSize + FrameHeaderSize + resyncStride + resyncChunk,
		// which is 3/4 of resyncMaxWindow.
		m := to - keep
		if (m > c || int64(len(kept)) > c/4*3) && c < resyncMaxWindow {
			nw := make([]byte, len(kept), min(max(m, 2*c, 2*resyncChunk), resyncMaxWindow, rs.size-keep))
			copy(nw, kept)
			rs.win = nw
		} else {
			rs.win = rs.win[:copy(rs.win, kept)]
		}
		drop := (keep - rs.wOff) / resyncStride
		rs.ck = rs.ck[:copy(rs.ck, rs.ck[drop:])]
		rs.ckFirst += drop
		rs.wOff = keep
	}
	from := rs.end()
	rs.win = rs.win[:to-rs.wOff]
	if err := readAt(rs.r, rs.win[from-rs.wOff:], from); err != nil {
		return err
	}
	for pos := from; pos < to; {
		next := rs.base + ((pos-rs.base)/resyncStride+1)*resyncStride
		seg := min(next, to)
		rs.run = crc32.Update(rs.run, castagnoli, rs.win[pos-rs.wOff:seg-rs.wOff])
		if seg == next {
			rs.ck = append(rs.ck, rs.run)
		}
		pos = seg
	}
	return nil
}

// prefix returns C(x) for x in the window.
func (rs *resyncer) prefix(x int64) uint32 {
	k := (x - rs.base) / resyncStride
	at := rs.base + k*resyncStride
	return crc32.Update(rs.ck[k-rs.ckFirst], castagnoli, rs.win[at-rs.wOff:x-rs.wOff])
}

// frameCRC returns the crc of the candidate frame at p with payload length n.
func (rs *resyncer) frameCRC(p, n int64) uint32 {
	i := p + FrameHeaderSize
	c := crc32.Checksum(rs.win[p-rs.wOff:p-rs.wOff+4], castagnoli)
	if n <= resyncDirect {
		return crc32.Update(c, castagnoli, rs.win[i-rs.wOff:i+n-rs.wOff])
	}
	return gfShift(c^rs.prefix(i), n) ^ rs.prefix(i+n)
}

// CRC-32C arithmetic in GF(2)[x] modulo the Castagnoli polynomial, in the
// bit-reflected representation that crc32 uses (the top bit is x^0). This
// is the algorithm of zlib's crc32_combine.

const castagnoliPoly = 0x82f63b78

// gfMul returns a·b modulo the polynomial.
func gfMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		b = b>>1 ^ castagnoliPoly&-(b&1)
	}
	return p
}

// x2n[k] is x^(2^k) modulo the polynomial. Computed once, never changed.
var x2n = func() (t [32]uint32) {
	t[0] = 1 << 30 // x^1
	for k := 1; k < len(t); k++ {
		t[k] = gfMul(t[k-1], t[k-1])
	}
	return t
}()

// gfShift returns c·x^(8n): the CRC of the bytes behind c followed by n zero
// bytes, minus the contribution of the zeros.
func gfShift(c uint32, n int64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n > 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = gfMul(x2n[k&31], p)
		}
	}
	return gfMul(p, c)
}
