package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"cookiestore/journal"
	"cookiestore/record"
)

// MaxBatchSize bounds the decompressed content of a batch payload, in bytes:
// the uvarint length prefixes plus the event payloads. It is part of the wire
// format: writers must stay under it, and readers refuse a batch that
// decompresses to more, whatever its compressed size.
const MaxBatchSize = 64 << 20

// minBatchItem is the fewest bytes an event takes in a batch's content: a
// one-byte length and the shortest event, a Delete with an empty ID
// (0x92 0x03 0xa0). A declared count above content/minBatchItem is a lie.
const minBatchItem = 4

// batchFields is the number of elements of a batch array that this version
// writes and reads; a reader skips any that follow, as for single events.
const batchFields = 3

// Pools of zstd coders. Both are used only through EncodeAll and DecodeAll,
// which start no goroutines, so a coder that the pool drops needs no Close.
var (
	encoders = sync.Pool{New: func() any {
		// On batches of cookies SpeedFastest compresses as well as
		// SpeedDefault (52%: random IDs do not compress, timestamps and
		// lifetimes do) and encodes 1.5 times as fast, for a decode about
		// 20 ns per event slower, a few percent of a replay. Measured with
		// BenchmarkAppendBatch and BenchmarkDecodeBatch at both levels.
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true))
		if err != nil {
			return err
		}
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(MaxBatchSize),
			zstd.WithDecoderMaxWindow(MaxBatchSize))
		if err != nil {
			return err
		}
		return d
	}}
	// scratch holds the uncompressed content of a batch while it is built
	// or read.
	scratch = sync.Pool{New: func() any { return new([]byte) }}
)

// AppendBatch appends a batch payload holding events, in order, to dst and
// returns the extended slice. The events must be single events (Create,
// Update or Delete). It fails, leaving dst as it was, if an event cannot be
// encoded, if the content would exceed [MaxBatchSize], or if the payload
// would not fit in one journal frame (journal.MaxFrameSize); a few thousand
// cookies per batch stay far below both.
func AppendBatch(dst []byte, events []record.Event) ([]byte, error) {
	bufp := scratch.Get().(*[]byte)
	defer putScratch(bufp)
	raw := (*bufp)[:0]
	var err error
	for i := range events {
		if events[i].Kind == record.KindBatch {
			return dst, fmt.Errorf("encode batch: event %d is itself a batch", i)
		}
		// The event goes after a one-byte length, moved along if its
		// length needs more bytes; most events are shorter than 128.
		start := len(raw)
		raw = append(raw, 0)
		raw, err = record.AppendEvent(raw, &events[i])
		if err != nil {
			return dst, fmt.Errorf("encode batch: event %d: %w", i, err)
		}
		n := len(raw) - start - 1
		var lenBuf [binary.MaxVarintLen64]byte
		k := binary.PutUvarint(lenBuf[:], uint64(n))
		if k > 1 {
			raw = append(raw, lenBuf[1:k]...) // room for the longer length
			copy(raw[start+k:], raw[start+1:start+1+n])
		}
		copy(raw[start:], lenBuf[:k])
		if len(raw) > MaxBatchSize {
			return dst, fmt.Errorf("encode batch: content of %d events exceeds %d bytes", i+1, MaxBatchSize)
		}
	}
	*bufp = raw

	enc, err := getEncoder()
	if err != nil {
		return dst, err
	}
	defer encoders.Put(enc)
	out := appendUint(append(dst, 0x90|batchFields, byte(record.KindBatch)), uint64(len(events)))
	// The compressed size is not known in advance, so the bin header is
	// always the five-byte bin32 form, filled in afterwards.
	hdr := len(out)
	out = append(out, 0xc6, 0, 0, 0, 0)
	out = enc.EncodeAll(raw, out)
	if n := len(out) - len(dst); n > journal.MaxFrameSize {
		return dst, fmt.Errorf("encode batch: %d events make a payload of %d bytes, over the journal's frame limit of %d", len(events), n, journal.MaxFrameSize)
	}
	binary.BigEndian.PutUint32(out[hdr+1:], uint32(len(out)-hdr-5))
	return out, nil
}

// putScratch returns a buffer to the pool unless it grew past what typical
// batches need, so that one huge batch does not pin its memory.
func putScratch(b *[]byte) {
	if cap(*b) <= 4<<20 {
		scratch.Put(b)
	}
}

func getEncoder() (*zstd.Encoder, error) {
	switch e := encoders.Get().(type) {
	case *zstd.Encoder:
		return e, nil
	case error:
		return nil, fmt.Errorf("encode batch: start zstd encoder: %w", e)
	}
	return nil, errors.New("encode batch: no zstd encoder")
}

func getDecoder() (*zstd.Decoder, error) {
	switch d := decoders.Get().(type) {
	case *zstd.Decoder:
		return d, nil
	case error:
		return nil, fmt.Errorf("start zstd decoder: %w", d)
	}
	return nil, errors.New("no zstd decoder")
}

// appendUint appends the shortest msgpack encoding of an unsigned integer.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(b, byte(v))
	case v <= 0xff:
		return append(b, 0xcc, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// DecodePayload decodes one journal payload, a single event or a batch, and
// calls fn for each event in order, stopping at the first error fn returns.
// The *Event is reused between calls and is valid only during one; its ID
// string and AuthExtra map may be kept.
//
// Every decoding error wraps [record.ErrMalformed]; an error from fn is
// returned as it is. A batch's envelope, compression, count and item lengths
// are all checked before fn sees any of its events, but an item that does not
// decode is only found when its turn comes, after fn has seen the ones before
// it. DecodePayload never panics, and it allocates no more than the payload,
// or for a batch [MaxBatchSize], warrants.
func DecodePayload(p []byte, fn func(e *record.Event) error) error {
	var d decoder
	_, err := d.decode(p, fn)
	return err
}

// decoder holds what decoding reuses from one payload to the next: the event
// handed to fn, and the buffer a batch decompresses into. Replay keeps one
// for the whole journal, so that decoding allocates only what the index keeps.
type decoder struct {
	ev  record.Event
	raw *[]byte // decompressed batch content; from the scratch pool if nil
}

// decode decodes payload p, calling fn for each event, and reports whether
// p was a batch.
func (d *decoder) decode(p []byte, fn func(e *record.Event) error) (batch bool, err error) {
	k, err := record.PeekKind(p)
	if err != nil {
		return false, err
	}
	if k == record.KindBatch {
		return true, d.decodeBatch(p, fn)
	}
	if err := record.DecodeEvent(p, &d.ev); err != nil {
		return false, err
	}
	return false, fn(&d.ev)
}

// decodeBatch decodes a batch payload.
func (d *decoder) decodeBatch(p []byte, fn func(e *record.Event) error) error {
	count, comp, err := parseBatch(p)
	if err != nil {
		return fmt.Errorf("%w: batch: %w", record.ErrMalformed, err)
	}
	if len(comp) == 0 {
		return fmt.Errorf("%w: batch: no zstd frame", record.ErrMalformed)
	}
	bufp := d.raw
	if bufp == nil {
		bufp = scratch.Get().(*[]byte)
		defer putScratch(bufp)
	}
	dec, err := getDecoder()
	if err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	raw, err := dec.DecodeAll(comp, (*bufp)[:0])
	decoders.Put(dec)
	if cap(raw) > cap(*bufp) {
		*bufp = raw[:0]
	}
	if err != nil {
		return fmt.Errorf("%w: batch: decompress: %w", record.ErrMalformed, err)
	}
	if len(raw) > MaxBatchSize {
		return fmt.Errorf("%w: batch: content of %d bytes exceeds %d", record.ErrMalformed, len(raw), MaxBatchSize)
	}
	if count > uint64(len(raw)/minBatchItem) {
		return fmt.Errorf("%w: batch: declares %d events in %d bytes", record.ErrMalformed, count, len(raw))
	}
	// Frame the content first, so that a wrong count or a torn length is
	// refused before any event reaches fn.
	n := 0
	for rest := raw; len(rest) > 0; n++ {
		size, m := binary.Uvarint(rest)
		if m <= 0 || size == 0 || size > uint64(len(rest)-m) {
			return fmt.Errorf("%w: batch: bad length of event %d at content offset %d", record.ErrMalformed, n, len(raw)-len(rest))
		}
		rest = rest[m+int(size):]
	}
	if uint64(n) != count {
		return fmt.Errorf("%w: batch: declares %d events, holds %d", record.ErrMalformed, count, n)
	}
	for i, rest := 0, raw; len(rest) > 0; i++ {
		size, m := binary.Uvarint(rest)
		item := rest[m : m+int(size)]
		rest = rest[m+int(size):]
		if err := record.DecodeEvent(item, &d.ev); err != nil {
			return fmt.Errorf("batch event %d: %w", i, err)
		}
		if err := fn(&d.ev); err != nil {
			return err
		}
	}
	return nil
}

// parseBatch checks a batch payload's msgpack envelope and returns its
// declared count and its compressed content.
func parseBatch(p []byte) (count uint64, comp []byte, err error) {
	r := reader{p: p}
	n, err := r.arrayLen()
	if err != nil {
		return 0, nil, err
	}
	if n < batchFields {
		return 0, nil, fmt.Errorf("array has %d elements, want %d", n, batchFields)
	}
	if kind, err := r.uint(); err != nil || kind != uint64(record.KindBatch) {
		return 0, nil, fmt.Errorf("kind %d is not a batch (%v)", kind, err)
	}
	if count, err = r.uint(); err != nil {
		return 0, nil, fmt.Errorf("count: %w", err)
	}
	if comp, err = r.bin(); err != nil {
		return 0, nil, fmt.Errorf("content: %w", err)
	}
	for i := uint64(batchFields); i < n; i++ {
		if err := r.skip(); err != nil {
			return 0, nil, fmt.Errorf("trailing element %d: %w", i, err)
		}
	}
	if len(r.p) != 0 {
		return 0, nil, fmt.Errorf("%d bytes after the batch", len(r.p))
	}
	return count, comp, nil
}
