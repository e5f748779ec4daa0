package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"cookiestore/index"
	"cookiestore/journal"
	"cookiestore/record"
)

// MaxBatchSize bounds the decompressed content of a batch payload, in bytes:
// the uvarint length prefixes plus the event payloads. It is part of the wire
// format: writers must stay under it, and readers refuse a batch that
// decompresses to more, whatever its compressed size.
const MaxBatchSize = 64 << 20

// A reader also refuses a batch whose content is more than batchRatio times
// its compressed size plus batchSlack, so that what a batch makes a reader
// allocate is in proportion to the bytes it takes in the journal: a
// hand-made frame of a hundred bytes could otherwise claim 64 MiB. Our
// writers never come near: a Batcher fills a batch to about batchTarget,
// which the slack covers, and cookie events, whose digests are random,
// compress less than twice. Part of the wire format.
const (
	batchRatio = 256
	batchSlack = 1 << 20
)

// batchTarget is how much content a Batcher puts in one batch.
const batchTarget = batchSlack

// contentLimit is the most content a batch of n compressed bytes may hold.
func contentLimit(n int) int { return min(MaxBatchSize, batchRatio*n+batchSlack) }

// minBatchItem is the fewest bytes an event takes in a batch's content: a
// one-byte length and the shortest event, a version 1 Delete with an empty
// ID (0x92 0x03 0xa0). A declared count above content/minBatchItem is a lie.
const minBatchItem = 4

// Pools of zstd coders. Both are used only through EncodeAll and DecodeAll,
// which start no goroutines, so a coder that a pool drops needs no Close.
var (
	encoders = sync.Pool{New: func() any {
		// On batches of cookies SpeedFastest compresses as well as
		// SpeedDefault (random digests do not compress, timestamps and
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
	// decoders holds one pool per size of output a decoder may produce:
	// DecodeAll stops at its decoder's limit, so a batch is decoded by the
	// smallest decoder that its contentLimit fits, and a frame that lies
	// about what it holds costs at most four times that limit.
	decoders [4]sync.Pool
	// scratch holds the uncompressed content of a batch while it is built
	// or read.
	scratch = sync.Pool{New: func() any { return new([]byte) }}
)

func init() {
	for i := range decoders {
		limit := batchSlack << (2 * i) // 1, 4, 16, 64 MiB
		decoders[i].New = func() any {
			d, err := zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxMemory(uint64(limit)),
				zstd.WithDecoderMaxWindow(uint64(limit)))
			if err != nil {
				return err
			}
			return d
		}
	}
}

// AppendBatch appends a batch payload holding events, in order, to dst and
// returns the extended slice. The events must be single events. It fails,
// leaving dst as it was, if an event cannot be encoded, if the content would
// exceed [MaxBatchSize], if it compresses so well that a reader would
// refuse it (see contentLimit), or if the payload would not fit in one
// journal frame (journal.MaxFrameSize). A [Batcher] splits any number of
// events into batches that always pass.
func AppendBatch(dst []byte, events []record.Event) ([]byte, error) {
	bufp := scratch.Get().(*[]byte)
	defer putScratch(bufp)
	raw := (*bufp)[:0]
	var err error
	for i := range events {
		if raw, err = appendItem(raw, &events[i]); err != nil {
			return dst, fmt.Errorf("encode batch: event %d: %w", i, err)
		}
		if len(raw) > MaxBatchSize {
			return dst, fmt.Errorf("encode batch: content of %d events exceeds %d bytes", i+1, MaxBatchSize)
		}
	}
	*bufp = raw
	return appendCompressed(dst, len(events), raw)
}

// appendItem appends e to a batch's content: its length as a uvarint, then
// the event.
func appendItem(raw []byte, e *record.Event) ([]byte, error) {
	if e.Kind == record.KindBatch {
		return raw, errors.New("a batch inside a batch")
	}
	return appendFramed(raw, func(b []byte) ([]byte, error) { return record.AppendEvent(b, e) })
}

// appendViewItem is appendItem for an event as a View shows it.
func appendViewItem(raw []byte, v *record.View) ([]byte, error) {
	if v.Kind == record.KindBatch {
		return raw, errors.New("a batch inside a batch")
	}
	return appendFramed(raw, func(b []byte) ([]byte, error) { return record.AppendView(b, v) })
}

// appendFramed appends what enc appends to raw, after its length as a
// uvarint.
func appendFramed(raw []byte, enc func([]byte) ([]byte, error)) ([]byte, error) {
	// The event goes after a one-byte length, moved along if its length
	// needs more bytes; most events are shorter than 128.
	start := len(raw)
	raw = append(raw, 0)
	raw, err := enc(raw)
	if err != nil {
		return raw[:start], err
	}
	n := len(raw) - start - 1
	var lenBuf [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lenBuf[:], uint64(n))
	if k > 1 {
		raw = append(raw, lenBuf[1:k]...) // room for the longer length
		copy(raw[start+k:], raw[start+1:start+1+n])
	}
	copy(raw[start:], lenBuf[:k])
	return raw, nil
}

// appendCompressed compresses the content of count events and appends the
// batch payload holding it to dst.
func appendCompressed(dst []byte, count int, raw []byte) ([]byte, error) {
	enc, err := getEncoder()
	if err != nil {
		return dst, err
	}
	bufp := scratch.Get().(*[]byte)
	defer putScratch(bufp)
	comp := enc.EncodeAll(raw, (*bufp)[:0])
	encoders.Put(enc)
	*bufp = comp
	if len(raw) > contentLimit(len(comp)) {
		return dst, fmt.Errorf("encode batch: %d bytes of content compress to %d, more than a reader accepts; split the batch", len(raw), len(comp))
	}
	out := record.AppendBatch(dst, count, comp)
	if n := len(out) - len(dst); n > journal.MaxFrameSize {
		return dst, fmt.Errorf("encode batch: %d events make a payload of %d bytes, over the journal's frame limit of %d", count, n, journal.MaxFrameSize)
	}
	return out, nil
}

// A Batcher packs a stream of events into batch payloads, each holding
// about a mebibyte of content, as a compaction writes them. Its payloads
// always pass the checks of a reader.
type Batcher struct {
	emit  func(payload []byte) error
	raw   []byte // the content of the batch being filled
	count int
	out   []byte // the last payload, reused
}

// NewBatcher returns a Batcher that hands each payload to emit; the payload
// is only valid during the call.
func NewBatcher(emit func(payload []byte) error) *Batcher { return &Batcher{emit: emit} }

// Add adds one single event to the batch being filled, and emits the batch
// once it holds enough.
func (b *Batcher) Add(e *record.Event) error {
	var err error
	if b.raw, err = appendItem(b.raw, e); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	return b.added()
}

// AddView is Add for an event as a View shows it, such as those that
// index.Index.Views yields: the event is encoded from its bytes, without
// decoding anything (see record.AppendView).
func (b *Batcher) AddView(v *record.View) error {
	var err error
	if b.raw, err = appendViewItem(b.raw, v); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	return b.added()
}

// WriteIndex writes the state of idx as a compaction writes a journal: one
// Cookie event for each live cookie, packed by a Batcher, each payload
// handed to emit. It returns how many cookies it wrote. The file store
// compacts with it, and `cookiestore stats` predicts a compaction's size.
func WriteIndex(idx *index.Index, emit func(payload []byte) error) (int, error) {
	batches := NewBatcher(emit)
	cookies := 0
	for v := range idx.Views() {
		if err := batches.AddView(v); err != nil {
			return cookies, err
		}
		cookies++
	}
	return cookies, batches.Flush()
}

func (b *Batcher) added() error {
	b.count++
	if len(b.raw) >= batchTarget {
		return b.Flush()
	}
	return nil
}

// Flush emits the batch being filled, if it holds any event.
func (b *Batcher) Flush() error {
	if b.count == 0 {
		return nil
	}
	var err error
	b.out, err = appendCompressed(b.out[:0], b.count, b.raw)
	b.raw, b.count = b.raw[:0], 0
	if err == nil {
		err = b.emit(b.out)
	}
	return err
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

// getDecoder returns a decoder that stops at the first of the pools'
// limits that is at least limit, and the pool to put it back in.
func getDecoder(limit int) (*zstd.Decoder, *sync.Pool, error) {
	i := 0
	for batchSlack<<(2*i) < limit {
		i++
	}
	pool := &decoders[i]
	switch d := pool.Get().(type) {
	case *zstd.Decoder:
		return d, pool, nil
	case error:
		return nil, nil, fmt.Errorf("start zstd decoder: %w", d)
	}
	return nil, nil, errors.New("no zstd decoder")
}

// DecodePayload decodes one journal payload of the given format version, a
// single event or a batch, and calls fn for each event in order, stopping at
// the first error fn returns. The *Event is reused between calls and is
// valid only during one; its AuthExtra map may be kept.
//
// Every decoding error wraps [record.ErrMalformed]; an error from fn is
// returned as it is. A batch's envelope, compression, count and item lengths
// are all checked before fn sees any of its events, but an item that does not
// decode is only found when its turn comes, after fn has seen the ones before
// it. DecodePayload never panics. What it allocates besides the events it
// hands to fn is bounded in proportion to len(p) (see contentLimit).
func DecodePayload(p []byte, version int, fn func(e *record.Event) error) error {
	var d decoder
	_, err := d.decode(p, version, nil, func(v *record.View) error {
		e, err := v.Event()
		if err != nil {
			return err
		}
		return fn(&e)
	})
	return err
}

// ParsePayload is DecodePayload without decoding the events into Go values:
// fn gets each event as a record.View, valid only during the call, that
// points into p or into the batch's decompressed content. Apart from a
// batch's content it allocates nothing.
func ParsePayload(p []byte, version int, fn func(v *record.View) error) error {
	var d decoder
	_, err := d.decode(p, version, nil, fn)
	return err
}

// decoder holds the view that decoding hands to fn, reused from one event
// to the next, unless into gives a view for each event of a batch.
type decoder struct {
	view record.View
	into func() *record.View // where each event of a batch is parsed; nil for view
}

// decode decodes payload p, calling fn for each event, and reports whether
// p was a batch. A batch decompresses into *raw, or a buffer from the
// scratch pool if raw is nil.
func (d *decoder) decode(p []byte, version int, raw *[]byte, fn func(v *record.View) error) (batch bool, err error) {
	k, err := record.PeekKind(p)
	if err != nil {
		return false, err
	}
	if k == record.KindBatch {
		return true, d.decodeBatch(p, version, raw, fn)
	}
	if err := record.Parse(p, version, &d.view); err != nil {
		return false, err
	}
	return false, fn(&d.view)
}

// decodeBatch decodes a batch payload, decompressing it into *bufp, or a
// buffer from the scratch pool if bufp is nil.
func (d *decoder) decodeBatch(p []byte, version int, bufp *[]byte, fn func(v *record.View) error) error {
	count, comp, err := record.ParseBatch(p)
	if err != nil {
		return err
	}
	if len(comp) == 0 {
		return fmt.Errorf("%w: batch: no zstd frame", record.ErrMalformed)
	}
	if bufp == nil {
		bufp = scratch.Get().(*[]byte)
		defer putScratch(bufp)
	}
	limit := contentLimit(len(comp))
	dec, pool, err := getDecoder(limit)
	if err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	raw, err := dec.DecodeAll(comp, (*bufp)[:0])
	pool.Put(dec)
	if cap(raw) > cap(*bufp) {
		*bufp = raw[:0]
	}
	if err != nil {
		return fmt.Errorf("%w: batch: decompress: %w", record.ErrMalformed, err)
	}
	if len(raw) > limit {
		return fmt.Errorf("%w: batch: %d bytes of content in %d compressed, more than the %d allowed", record.ErrMalformed, len(raw), len(comp), limit)
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
		v := &d.view
		if d.into != nil {
			v = d.into()
		}
		if err := record.Parse(item, version, v); err != nil {
			return fmt.Errorf("batch event %d: %w", i, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}
