package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Sizes and limits of the file format, version 1.
const (
	// HeaderSize is the size of the file header. Part of the wire format.
	HeaderSize = 16
	// FrameHeaderSize is the size of a frame's length and crc fields.
	// Part of the wire format.
	FrameHeaderSize = 8
	// MaxFrameSize is the largest payload a frame may hold, in bytes.
	// Part of the wire format.
	MaxFrameSize = 16 << 20
	// Version is the format version this package reads and writes.
	// Part of the wire format.
	Version = 1
	// Magic is the first 8 bytes of every journal file. Part of the wire format.
	Magic = "CKSJRNL\x00"
)

// castagnoli is the CRC-32C table. MakeTable returns the table shared with
// the rest of the program, which is what lets crc32 use the CPU instruction.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader appends a version 1 file header to dst.
func appendHeader(dst []byte) []byte {
	var h [HeaderSize]byte
	copy(h[:], Magic)
	binary.LittleEndian.PutUint16(h[8:], Version)
	binary.LittleEndian.PutUint16(h[10:], 0)
	binary.LittleEndian.PutUint32(h[12:], crc32.Checksum(h[:12], castagnoli))
	return append(dst, h[:]...)
}

// checkHeader returns why h is not a valid version 1 header, or "".
func checkHeader(h []byte) string {
	if len(h) < HeaderSize {
		return fmt.Sprintf("file is %d bytes, shorter than the %d-byte header", len(h), HeaderSize)
	}
	if string(h[:8]) != Magic {
		return fmt.Sprintf("magic is %q, want %q: not a cookiestore journal", h[:8], Magic)
	}
	if stored, sum := binary.LittleEndian.Uint32(h[12:]), crc32.Checksum(h[:12], castagnoli); stored != sum {
		return fmt.Sprintf("header checksum is %#08x, computed %#08x", stored, sum)
	}
	if v := binary.LittleEndian.Uint16(h[8:]); v != Version {
		return fmt.Sprintf("format version %d is not supported (this build reads version %d)", v, Version)
	}
	if fl := binary.LittleEndian.Uint16(h[10:]); fl != 0 {
		return fmt.Sprintf("unknown header flags %#04x", fl)
	}
	return ""
}

// appendFrame appends the frame holding payload to dst. It allocates only
// when dst must grow.
func appendFrame(dst, payload []byte) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, payload...)
	sum := crc32.Update(crc32.Checksum(dst[n:n+4], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(dst[n+4:], sum)
	return dst
}

// checkLength returns why a frame length read from the file is not valid
// when avail bytes follow the frame header, or "".
func checkLength(n uint32, avail int64) string {
	switch {
	case n == 0:
		return "zero frame length"
	case n > MaxFrameSize:
		return fmt.Sprintf("frame length %d exceeds the maximum of %d", n, MaxFrameSize)
	case int64(n) > avail:
		return fmt.Sprintf("frame length %d runs past the end of the file (%d bytes left)", n, avail)
	}
	return ""
}

// checkFrame returns why frame, a frame header followed by its payload, has
// a bad checksum, or "".
func checkFrame(frame []byte) string {
	stored := binary.LittleEndian.Uint32(frame[4:])
	sum := crc32.Update(crc32.Checksum(frame[:4], castagnoli), castagnoli, frame[FrameHeaderSize:])
	if stored != sum {
		return fmt.Sprintf("frame checksum is %#08x, computed %#08x", stored, sum)
	}
	return ""
}

func checkPayload(p []byte) error {
	if len(p) == 0 || len(p) > MaxFrameSize {
		return fmt.Errorf("%w, got %d", ErrPayloadSize, len(p))
	}
	return nil
}
