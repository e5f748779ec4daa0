package journal

import (
	"encoding/binary"
	"hash/crc32"
	"io"
)

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
