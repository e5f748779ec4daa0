package record

import (
	"encoding/binary"
	"fmt"
)

// batchFields is the number of elements of a batch array that this version
// writes and reads; readers skip any that follow, as for single events.
const batchFields = 3

// AppendBatch appends a batch payload to dst: the envelope
//
//	[4, count, bin32(content)]
//
// around content, the compressed items that package replay builds (see
// docs/FORMAT.md). count is the number of events inside.
func AppendBatch(dst []byte, count int, content []byte) []byte {
	dst = appendUint(append(dst, 0x90|batchFields, byte(KindBatch)), uint64(count))
	dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(len(content)))
	return append(dst, content...)
}

// ParseBatch checks a batch payload's envelope and returns the count of
// events it declares and its content, which points into p. Readers accept
// every array, integer and binary header that msgpack allows, and skip array
// elements after the third. Errors wrap ErrMalformed.
func ParseBatch(p []byte) (count uint64, content []byte, err error) {
	r := reader{p: p}
	n, err := r.arrayLen()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: batch: %w", ErrMalformed, err)
	}
	if n < batchFields {
		return 0, nil, fmt.Errorf("%w: batch: array has %d elements, want %d", ErrMalformed, n, batchFields)
	}
	if kind, err := r.uint(); err != nil || kind != uint64(KindBatch) {
		return 0, nil, fmt.Errorf("%w: batch: kind %d is not a batch (%v)", ErrMalformed, kind, err)
	}
	if count, err = r.uint(); err != nil {
		return 0, nil, fmt.Errorf("%w: batch: count: %w", ErrMalformed, err)
	}
	if content, err = r.bin(); err != nil {
		return 0, nil, fmt.Errorf("%w: batch: content: %w", ErrMalformed, err)
	}
	for i := uint64(batchFields); i < n; i++ {
		if err := r.skip(); err != nil {
			return 0, nil, fmt.Errorf("%w: batch: trailing element %d: %w", ErrMalformed, i, err)
		}
	}
	if len(r.p) != 0 {
		return 0, nil, fmt.Errorf("%w: batch: %d bytes after the batch", ErrMalformed, len(r.p))
	}
	return count, content, nil
}
