package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Sizes, limits and versions of the file format.
const (
	// HeaderSize is the size of the file header. Part of the wire format.
	HeaderSize = 16
	// FrameHeaderSize is the size of a frame's length and crc fields.
	// Part of the wire format.
	FrameHeaderSize = 8
	// MaxFrameSize is the largest payload a frame may hold, in bytes.
	// Part of the wire format.
	MaxFrameSize = 16 << 20
	// Version is the format version this package writes into the files
	// it creates, including the replacements that BeginRewrite builds.
	// Part of the wire format.
	Version = 2
	// MinVersion is the oldest format version this package reads. It
	// reads every version from MinVersion to Version, and appends to and
	// repairs a file in the version the file has.
	MinVersion = 1
	// Magic is the first 8 bytes of every journal file. Part of the wire format.
	Magic = "CKSJRNL\x00"
)

// castagnoli is the CRC-32C table. MakeTable returns the table shared with
// the rest of the program, which is what lets crc32 use the CPU instruction.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader appends the file header of the given version to dst.
func appendHeader(dst []byte, version int) []byte {
	var h [HeaderSize]byte
	copy(h[:], Magic)
	binary.LittleEndian.PutUint16(h[8:], uint16(version))
	binary.LittleEndian.PutUint16(h[10:], 0)
	binary.LittleEndian.PutUint32(h[12:], crc32.Checksum(h[:12], castagnoli))
	return append(dst, h[:]...)
}

// parseHeader returns the format version of the header h, or why h is not
// a valid header of a version from MinVersion to Version.
func parseHeader(h []byte) (version int, reason string) {
	if len(h) < HeaderSize {
		return 0, fmt.Sprintf("file is %d bytes, shorter than the %d-byte header", len(h), HeaderSize)
	}
	if string(h[:8]) != Magic {
		return 0, fmt.Sprintf("magic is %q, want %q: not a cookiestore journal", h[:8], Magic)
	}
	if stored, sum := binary.LittleEndian.Uint32(h[12:]), crc32.Checksum(h[:12], castagnoli); stored != sum {
		return 0, fmt.Sprintf("header checksum is %#08x, computed %#08x", stored, sum)
	}
	version = int(binary.LittleEndian.Uint16(h[8:]))
	if version < MinVersion || version > Version {
		return 0, fmt.Sprintf("format version %d is not supported (this build reads versions %d to %d)", version, MinVersion, Version)
	}
	if fl := binary.LittleEndian.Uint16(h[10:]); fl != 0 {
		return 0, fmt.Sprintf("unknown header flags %#04x", fl)
	}
	return version, ""
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
