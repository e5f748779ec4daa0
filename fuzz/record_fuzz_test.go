package fuzz

import (
	"bytes"
	"errors"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
	"cookiestore/replay"

	"github.com/klauspost/compress/zstd"
)

// FuzzEventDecode feeds arbitrary journal payloads, of either format
// version, to replay.ParsePayload and replay.DecodePayload, which read
// single events with package record and unpack batches. (record's own
// FuzzParse covers single events in depth.) Properties:
//   - they return an error wrapping record.ErrMalformed, or succeed; they
//     never panic or hang;
//   - apart from a batch's decompressed content, ParsePayload allocates in
//     proportion to the payload: at most payloadAllocBound(len(p)), whatever
//     the payload claims;
//   - the two agree on what they accept, and on the events;
//   - the events, packed into a batch again, decode to the same events.
func FuzzEventDecode(f *testing.F) {
	for _, p := range eventSeeds(f) {
		f.Add(byte(1), p)
	}
	f.Fuzz(func(t *testing.T, version byte, p []byte) {
		ver := record.V1 + int(version%2)
		allocated := uint64(math.MaxUint64)
		var perr error
		var views [][]byte // each event re-encoded, as the views showed it
		for range 3 {      // the smallest of three readings: see heapBytes
			views = views[:0]
			b0 := heapBytes()
			perr = replay.ParsePayload(p, ver, func(v *record.View) error {
				e, err := v.Event()
				if err == nil {
					var b []byte
					b, err = record.AppendEvent(nil, &e)
					views = append(views, b)
				}
				return err
			})
			allocated = min(allocated, heapBytes()-b0)
			if allocated <= payloadAllocBound(len(p)) {
				break
			}
		}
		var evs []record.Event
		derr := replay.DecodePayload(p, ver, func(e *record.Event) error {
			evs = append(evs, *e)
			return nil
		})
		if (perr == nil) != (derr == nil) {
			t.Fatalf("ParsePayload says %v, DecodePayload says %v", perr, derr)
		}
		if derr != nil {
			if !errors.Is(derr, record.ErrMalformed) || !errors.Is(perr, record.ErrMalformed) {
				t.Fatalf("errors do not wrap ErrMalformed: %v; %v", perr, derr)
			}
			return
		}
		if k, _ := record.PeekKind(p); k != record.KindBatch && len(evs) != 1 {
			t.Fatalf("a single-event payload yielded %d events", len(evs))
		}
		if len(evs) != len(views) {
			t.Fatalf("DecodePayload yielded %d events, ParsePayload %d", len(evs), len(views))
		}
		for i := range evs {
			b, err := record.AppendEvent(nil, &evs[i])
			if err != nil || !bytes.Equal(b, views[i]) {
				t.Fatalf("event %d: DecodePayload and ParsePayload disagree (%v)", i, err)
			}
		}
		// Re-encoding may grow an event (a float32 becomes a float64), so a
		// batch near the size limit could no longer fit; small ones always do.
		if len(evs) == 0 || len(evs) > 1000 {
			return
		}
		batch, err := replay.AppendBatch(nil, evs)
		if err != nil {
			if strings.Contains(err.Error(), "more than") {
				return // wider re-encoded values past a bound the input met
			}
			t.Fatalf("decoded events do not pack into a batch: %v", err)
		}
		i := 0
		err = replay.DecodePayload(batch, record.V2, func(e *record.Event) error {
			b, err := record.AppendEvent(nil, e)
			if err != nil || i >= len(views) || !bytes.Equal(b, views[i]) {
				t.Fatalf("batch event %d differs", i)
			}
			i++
			return nil
		})
		if err != nil || i != len(evs) {
			t.Fatalf("re-packed batch: %d of %d events, %v", i, len(evs), err)
		}
	})
}

// payloadAllocBound is the most that parsing a payload of n bytes, and
// turning its events into Go values, may allocate: a batch's content is at
// most 256 times its compressed size plus a mebibyte, a decoder's output
// buffer at most four times that, and the events' values a constant times
// their bytes.
func payloadAllocBound(n int) uint64 { return 4*(256*uint64(n)+1<<20) + 200*256*uint64(n) + 64<<10 }

// heapBytes reads the bytes the program has allocated so far without
// stopping the world. It counts the whole process, where the fuzzing
// machinery allocates now and then too, so a bound counts as broken only if
// three readings break it.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// eventSeeds returns valid payloads of every kind, batches, and damaged
// copies of them.
func eventSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	created := testkit.Start()
	d := record.DigestOf("abcdefghijklmnopqrstuvwx")
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
		AuthExtra: map[string]any{"tenant": "t7", "n": int64(-3), "u": uint64(math.MaxUint64), "f": 1.5, "ok": true,
			"list": []any{"a", nil}, "m": map[string]any{"x": []byte{1, 2}}}}
	evs := []record.Event{
		record.Create(d, created, 24*time.Hour),
		record.Create(record.DigestOf("abcdef"), time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), time.Second),
		record.Update(d, alice),
		record.Update(d, record.Auth{}),
		record.Delete(d, record.ReasonLogout),
		record.Rotated(d, record.DigestOf("next")),
		record.State(record.Cookie{Digest: d, Created: created, MaxAge: time.Hour, Auth: alice}),
	}
	var seeds [][]byte
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, p)
	}
	for _, b := range [][]record.Event{nil, evs[:1], evs} {
		p, err := replay.AppendBatch(nil, b)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, p)
	}
	full := seeds[len(seeds)-1]
	forged := bytes.Clone(full)
	forged[2] = 0x7f // a count the content does not hold
	seeds = append(seeds,
		forged,
		full[:len(full)/2],           // cut short
		append(bytes.Clone(full), 0), // a byte too many
		[]byte{0x94, 0x04, 0x00, 0xc4, 0x00, 0x91, 0x91, 0x91, 0xc0},                             // an empty content and a nested trailing element
		[]byte{0x92, 0x03, 0xdb, 0xff, 0xff, 0xff, 0xff},                                         // a string claiming 4 GiB
		[]byte{0x97, 0x02, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xca, 0x7f, 0xc0, 0, 0},                 // authextra a float32 NaN, not a map
		append(append([]byte{0x93, 0x03, 0xa1, 'x'}, bytes.Repeat([]byte{0x91}, 1000)...), 0xc0), // an appended field nested 1000 deep
		// A 100-byte frame whose content claims, and decompresses to, 64 MiB.
		bomb(tb),
		nil,
	)
	return seeds
}

// bomb returns a batch of 64 MiB of zeros compressed to a few kilobytes: a
// frame that would make a reader allocate a thousand times its size.
func bomb(tb testing.TB) []byte {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	return record.AppendBatch(nil, 1, enc.EncodeAll(make([]byte, 64<<20), nil))
}
