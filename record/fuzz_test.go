package record

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// heapAllocs reads the bytes and objects the program has allocated so far.
// Unlike runtime.ReadMemStats it does not stop the world, so a fuzz target
// can afford it per input.
func heapAllocs() (bytes, objects uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// FuzzParse feeds arbitrary single-event payloads of either version to
// Parse and DecodeEvent. Properties:
//   - they succeed or return an error wrapping ErrMalformed, never panic;
//   - Parse of a valid payload allocates nothing, whatever the payload
//     holds (an error allocates its message);
//   - DecodeEvent allocates at most extraAllocBound(len(p)): a constant
//     times the size of the input;
//   - an event that decodes re-encodes as version 2, and that encoding
//     decodes and re-encodes to the same bytes; Parse and DecodeEvent agree
//     on what they accept.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds(f) {
		f.Add(s.version, s.p)
	}
	f.Fuzz(func(t *testing.T, version uint8, p []byte) {
		ver := V1 + int(version%2)
		var v View
		var e Event
		// The metrics count the whole process, where the fuzzing machinery
		// allocates now and then too: a bound counts as broken only if
		// every one of three measurements breaks it.
		var perr, derr error
		parseObjects, decodeBytes := uint64(math.MaxUint64), uint64(math.MaxUint64)
		for range 3 {
			_, o0 := heapAllocs()
			perr = Parse(p, ver, &v)
			b1, o1 := heapAllocs()
			derr = DecodeEvent(p, ver, &e)
			b2, _ := heapAllocs()
			parseObjects, decodeBytes = min(parseObjects, o1-o0), min(decodeBytes, b2-b1)
			if (perr != nil || parseObjects == 0) && decodeBytes <= extraAllocBound(len(p)) {
				break
			}
		}
		if perr == nil && parseObjects != 0 {
			t.Fatalf("Parse allocated %d objects", parseObjects)
		}
		if decodeBytes > extraAllocBound(len(p)) {
			t.Fatalf("DecodeEvent of %d bytes allocated %d bytes, more than %d", len(p), decodeBytes, extraAllocBound(len(p)))
		}
		if (perr == nil) != (derr == nil) {
			t.Fatalf("Parse says %v, DecodeEvent says %v", perr, derr)
		}
		// The fast path accepts only what the general one accepts, and
		// reads it the same.
		var fast, general View
		if ver == V2 && parseFast(p, &fast) {
			if err := parseGeneral(p, V2, &general); err != nil || !reflect.DeepEqual(fast, general) {
				t.Fatalf("the fast path read %+v, the general one %+v, %v", fast, general, err)
			}
		}
		if perr != nil {
			if !errors.Is(perr, ErrMalformed) || !errors.Is(derr, ErrMalformed) {
				t.Fatalf("errors do not wrap ErrMalformed: %v; %v", perr, derr)
			}
			return
		}
		if e.Kind != v.Kind || e.Digest != v.Digest {
			t.Fatalf("Parse and DecodeEvent disagree: %+v; %+v", v, e)
		}
		b, err := AppendEvent(nil, &e)
		if e.Kind == KindDelete && e.Reason > 0x7f {
			return // a reason this version keeps but would not write
		}
		if err != nil && strings.Contains(err.Error(), "more than") && len(v.Extra) > MaxExtraSize/2 {
			return // another writer's denser integers or float32s, which ours widen past the bound
		}
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v (% .200x)", err, p)
		}
		// Encoding is canonical (sorted keys, fixed-size integers), so a
		// decoded event must come back to the very same bytes.
		var again Event
		if err := DecodeEvent(b, V2, &again); err != nil {
			t.Fatalf("a re-encoded event does not decode: %v", err)
		}
		b2, err := AppendEvent(nil, &again)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("the event changed through re-encoding (%v):\n% x\n% x", err, b, b2)
		}
	})
}

type parseSeed struct {
	version uint8
	p       []byte
}

// parseSeeds returns valid payloads of every kind in both versions, and
// damaged copies of them.
func parseSeeds(tb testing.TB) []parseSeed {
	tb.Helper()
	d := DigestOf("abcdefghijklmnopqrstuvwx")
	auth := Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
		AuthExtra: map[string]any{"tenant": "t7", "n": int64(-3), "u": uint64(math.MaxUint64), "f": 1.5, "ok": true,
			"list": []any{"a", nil}, "m": map[string]any{"x": []byte{1, 2}}}}
	evs := []Event{
		Create(d, t0, 24*time.Hour),
		Update(d, auth),
		Update(d, Auth{}),
		Delete(d, ReasonLogout),
		Rotated(d, DigestOf("next")),
		State(Cookie{Digest: d, Created: t0, MaxAge: time.Hour, Auth: auth}),
	}
	var seeds []parseSeed
	for i := range evs {
		p, err := AppendEvent(nil, &evs[i])
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, parseSeed{1, p}, parseSeed{1, p[:len(p)-1]})
	}
	str := append([]byte{0xb8}, "abcdefghijklmnopqrstuvwx"...)
	seeds = append(seeds,
		parseSeed{0, append(append([]byte{0x94, 0x01}, str...), 0x05, 0x06)},
		parseSeed{0, append(append([]byte{0x97, 0x02}, str...), 0xa1, 'a', 0xa0, 0xa0, 0xa0, 0x81, 0xa1, 'k', 0xc3)},
		parseSeed{0, append([]byte{0x92, 0x03}, str...)},
		parseSeed{1, []byte{0x92, 0x03, 0xdb, 0xff, 0xff, 0xff, 0xff}},
		parseSeed{1, append(append([]byte{0x97, 0x02, 0xc4, 0x10}, d[:]...), 0xa0, 0xa0, 0xa0, 0xa0, 0x81, 0xa1, 'k', 0xdd, 0x00, 0x01, 0x00, 0x00, 0x80)},
		parseSeed{1, nil},
	)
	for _, h := range hostileExtras() {
		seeds = append(seeds, parseSeed{1, append(append(append([]byte{0x97, 0x02, 0xc4, 0x10}, d[:]...), 0xa0, 0xa0, 0xa0, 0xa0), h...)})
	}
	return seeds
}
