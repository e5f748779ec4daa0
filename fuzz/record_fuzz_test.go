package fuzz

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
	"cookiestore/replay"
)

// FuzzEventDecode feeds arbitrary journal payloads to replay.DecodePayload,
// which decodes single events with record.DecodeEvent and unpacks batches.
// Properties:
//   - it returns an error wrapping record.ErrMalformed, or succeeds; it never
//     panics, hangs or allocates beyond its bounds;
//   - every event it yields re-encodes, decodes to an equal event, and
//     re-encodes to as many bytes: decoding loses nothing that encoding
//     keeps;
//   - the events, packed into a batch again, decode to the same events.
func FuzzEventDecode(f *testing.F) {
	for _, p := range eventSeeds(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var evs []record.Event
		err := replay.DecodePayload(p, func(e *record.Event) error {
			evs = append(evs, *e)
			return nil
		})
		if err != nil {
			if !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if k, _ := record.PeekKind(p); k != record.KindBatch && len(evs) != 1 {
			t.Fatalf("a single-event payload yielded %d events", len(evs))
		}
		for i := range evs {
			b1, err := record.AppendEvent(nil, &evs[i])
			if err != nil {
				t.Fatalf("event %d decoded but does not encode: %v (%+v)", i, err, evs[i])
			}
			var again record.Event
			if err := record.DecodeEvent(b1, &again); err != nil {
				t.Fatalf("event %d re-encoded does not decode: %v", i, err)
			}
			if !sameDecodedEvent(evs[i], again) {
				t.Fatalf("event %d changed through re-encoding:\n%+v\n%+v", i, evs[i], again)
			}
			// Compared by length, not bytes: the order of authextra keys
			// may differ between two encodings of one event.
			b2, err := record.AppendEvent(nil, &again)
			if err != nil || len(b1) != len(b2) {
				t.Fatalf("event %d: re-encoding is not stable (%v):\n% x\n% x", i, err, b1, b2)
			}
		}
		// Re-encoding may grow an event (a float32 becomes a float64), so a
		// batch near the size limit could no longer fit; small ones always do.
		if len(evs) == 0 || len(evs) > 1000 {
			return
		}
		batch, err := replay.AppendBatch(nil, evs)
		if err != nil {
			t.Fatalf("decoded events do not pack into a batch: %v", err)
		}
		i := 0
		err = replay.DecodePayload(batch, func(e *record.Event) error {
			if i >= len(evs) || !sameDecodedEvent(*e, evs[i]) {
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

// eventSeeds returns valid payloads of every kind, batches, and damaged
// copies of them.
func eventSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	created := testkit.Start()
	evs := []record.Event{
		record.Create("abcdefghijklmnopqrstuvwx", created, 24*time.Hour),
		record.Create("abcdef", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), time.Second),
		record.Update("abcdefghijklmnopqrstuvwx", record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
			AuthExtra: map[string]any{"tenant": "t7", "n": int64(-3), "u": uint64(math.MaxUint64), "f": 1.5, "ok": true,
				"list": []any{"a", nil}, "m": map[string]any{"x": []byte{1, 2}}}}),
		record.Update("abcdefghijklmnopqrstuvwx", record.Auth{}),
		record.Delete("abcdefghijklmnopqrstuvwx"),
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
		nil,
	)
	return seeds
}

// sameDecodedEvent compares two decoded events: instants by Equal, and
// authextra values by value, NaN included.
func sameDecodedEvent(a, b record.Event) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.Created.Equal(b.Created) && a.MaxAge == b.MaxAge &&
		a.Auth.AuthID == b.Auth.AuthID && a.Auth.AuthRole == b.Auth.AuthRole &&
		a.Auth.AuthMethod == b.Auth.AuthMethod && a.Auth.AuthRealm == b.Auth.AuthRealm &&
		sameExtraValue(a.Auth.AuthExtra, b.Auth.AuthExtra)
}

// sameExtraValue compares decoded authextra values: the types the decoder
// produces, with NaN equal to itself so that a NaN round-trips.
func sameExtraValue(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || (math.IsNaN(a) && math.IsNaN(b)))
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameExtraValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !sameExtraValue(v, w) {
				return false
			}
		}
		return true
	case bool, int64, uint64, string:
		return a == b
	}
	return false
}
