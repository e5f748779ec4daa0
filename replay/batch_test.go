package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/record"
)

var t0 = testkit.Start()

// dg is the digest of a test cookie named id.
func dg(id string) record.Digest { return record.DigestOf(id) }

// sameEvent compares events as the encoding preserves them: instants rather
// than time.Time representations, and an empty AuthExtra as nil.
func sameEvent(a, b record.Event) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created, b.Created = time.Time{}, time.Time{}
	if len(a.Auth.AuthExtra) == 0 {
		a.Auth.AuthExtra = nil
	}
	if len(b.Auth.AuthExtra) == 0 {
		b.Auth.AuthExtra = nil
	}
	return reflect.DeepEqual(a, b)
}

// collect decodes p and returns copies of its events.
func collect(p []byte) ([]record.Event, error) {
	var out []record.Event
	err := DecodePayload(p, record.V2, func(e *record.Event) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}

func TestBatchRoundTrip(t *testing.T) {
	big := map[string]any{"blob": strings.Repeat("x", 300), "n": int64(-7), "list": []any{true, 1.5, nil}}
	many := createEvents(t, 20_000)
	mixed := []record.Event{
		record.Create(dg("abcdefghijklmnopqrstuvwx"), t0, time.Hour),
		record.Update(dg("abcdefghijklmnopqrstuvwx"), record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "r1", AuthExtra: map[string]any{"tenant": "t7"}}),
		record.Update(dg("abcdefghijklmnopqrstuvwx"), record.Auth{AuthID: "bob", AuthExtra: big}), // an item over 127 bytes
		record.Update(dg("abcdefghijklmnopqrstuvwx"), record.Auth{}),
		record.Create(dg(strings.Repeat("L", record.MaxIDLength)), t0.Add(-time.Hour), 1),
		record.Delete(dg("abcdefghijklmnopqrstuvwx"), record.ReasonUnspecified),
		record.Delete(dg(""), record.ReasonUnspecified),
	}
	tests := []struct {
		name   string
		events []record.Event
	}{
		{"empty", nil},
		{"one", mixed[:1]},
		{"mixed with authextra", mixed},
		{"large", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := AppendBatch(nil, tt.events)
			if err != nil {
				t.Fatal(err)
			}
			if k, err := record.PeekKind(p); err != nil || k != record.KindBatch {
				t.Fatalf("PeekKind = %v, %v; want batch", k, err)
			}
			if p[0] != 0x93 || p[1] != 0x04 {
				t.Fatalf("envelope starts % x, want 93 04", p[:2])
			}
			got, err := collect(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.events) {
				t.Fatalf("decoded %d events, want %d", len(got), len(tt.events))
			}
			for i := range got {
				if !sameEvent(got[i], tt.events[i]) {
					t.Fatalf("event %d = %+v, want %+v", i, got[i], tt.events[i])
				}
			}
		})
	}
	// A batch compresses: the IDs are random, but the rest is not.
	p, _ := AppendBatch(nil, many)
	raw := 0
	for i := range many {
		e, _ := record.AppendEvent(nil, &many[i])
		raw += len(e)
	}
	t.Logf("%d events: %d bytes as single payloads, %d as a batch", len(many), raw, len(p))
	if len(p) >= raw {
		t.Fatalf("batch of %d bytes is no smaller than its %d-byte content", len(p), raw)
	}
}

func TestAppendBatchAppends(t *testing.T) {
	evs := []record.Event{record.Delete(dg("abcdef"), record.ReasonUnspecified)}
	p, err := AppendBatch([]byte("prefix"), evs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", p[:6])
	}
	got, err := collect(p[len("prefix"):])
	if err != nil || len(got) != 1 || got[0].Digest != dg("abcdef") {
		t.Fatalf("decode after prefix: %+v, %v", got, err)
	}
}

func TestAppendBatchErrors(t *testing.T) {
	tests := []struct {
		name   string
		events []record.Event
		want   string // in the error message
	}{
		{"nested batch", []record.Event{{Kind: record.KindBatch}}, "batch inside a batch"},
		{"unknown kind", []record.Event{record.Delete(dg("abcdef"), record.ReasonUnspecified), {Kind: 9, Digest: dg("abcdef")}}, "event 1"},
		{"unencodable authextra", []record.Event{record.Update(dg("abcdef"), record.Auth{AuthExtra: map[string]any{"c": make(chan int)}})}, "authextra"},
		{"content over MaxBatchSize", bigUpdates(MaxBatchSize/(60<<10)+1, func(int) []byte { return make([]byte, 60<<10) }), "exceeds"},
		{"content a reader would refuse", bigUpdates(400, func(int) []byte { return make([]byte, 60<<10) }), "split the batch"},
		{"payload over the frame limit", bigUpdates(journal.MaxFrameSize/(60<<10)+1, func(i int) []byte { return incompressible(i, 60<<10) }), "frame limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendBatch(dst, tt.events)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AppendBatch error = %v, want one saying %q", err, tt.want)
			}
			if string(out) != "keep" {
				t.Fatalf("dst changed on error: %q", out)
			}
		})
	}
}

// incompressible returns n random bytes, different for each seed.
func incompressible(seed, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

// bigUpdates returns n updates whose authextra each holds extra(i).
func bigUpdates(n int, extra func(i int) []byte) []record.Event {
	evs := make([]record.Event, n)
	for i := range evs {
		evs[i] = record.Update(dg(fmt.Sprint(i)), record.Auth{AuthExtra: map[string]any{"b": extra(i)}})
	}
	return evs
}

func TestDecodePayloadSingle(t *testing.T) {
	for _, ev := range []record.Event{
		record.Create(dg("abcdef"), t0, time.Hour),
		record.Update(dg("abcdef"), record.Auth{AuthID: "alice", AuthExtra: map[string]any{"k": "v"}}),
		record.Delete(dg("abcdef"), record.ReasonUnspecified),
	} {
		p, err := record.AppendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(p)
		if err != nil || len(got) != 1 || !sameEvent(got[0], ev) {
			t.Fatalf("%s: got %+v, %v", ev.Kind, got, err)
		}
	}
}

func TestDecodePayloadStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	p, err := AppendBatch(nil, createEvents(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = DecodePayload(p, record.V2, func(*record.Event) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if calls != 3 {
		t.Fatalf("%d calls after the callback failed on the third", calls)
	}
}

// zst compresses b as one zstd frame.
func zst(t *testing.T, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// items frames single-event payloads as a batch's content does.
func items(t *testing.T, evs ...record.Event) []byte {
	t.Helper()
	var b []byte
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// bin8 and bin32 wrap b as msgpack binary.
func bin8(b []byte) []byte { return append([]byte{0xc4, byte(len(b))}, b...) }
func bin32(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0xc6}, uint32(len(b))), b...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodePayloadMalformed(t *testing.T) {
	two := items(t, record.Delete(dg("abcdef"), record.ReasonUnspecified), record.Delete(dg("ghijkl"), record.ReasonUnspecified))
	good, err := AppendBatch(nil, []record.Event{record.Delete(dg("abcdef"), record.ReasonUnspecified), record.Delete(dg("ghijkl"), record.ReasonUnspecified)})
	if err != nil {
		t.Fatal(err)
	}
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 0xff // the zstd content checksum
	nestedBatch := binary.AppendUvarint(nil, uint64(len(good)))
	nestedBatch = append(nestedBatch, good...)
	hdr := []byte{0x93, 0x04}
	tests := []struct {
		name    string
		p       []byte
		partial bool // events before the damage may reach fn
	}{
		{name: "empty", p: nil},
		{name: "not an array", p: []byte{0xa3, 'a', 'b', 'c'}},
		{name: "single event, unknown kind", p: []byte{0x92, 0x09, 0xa0}},
		{name: "single event, truncated", p: []byte{0x92, 0x03, 0xa5, 'a'}},
		{name: "batch array of two", p: []byte{0x92, 0x04, 0x00}},
		{name: "batch ends after kind", p: hdr},
		{name: "count negative", p: cat(hdr, []byte{0xd0, 0xff}, bin8(zst(t, nil)))},
		{name: "count not an integer", p: cat(hdr, []byte{0xa1, '2'}, bin8(zst(t, two)))},
		{name: "count truncated", p: cat(hdr, []byte{0xcf, 0, 0})},
		{name: "content not binary", p: cat(hdr, []byte{0x02, 0xa2, 'h', 'i'})},
		{name: "content length past end", p: cat(hdr, []byte{0x02, 0xc4, 200}, zst(t, two))},
		{name: "bytes after the array", p: cat(hdr, []byte{0x02}, bin8(zst(t, two)), []byte{0x00})},
		{name: "no zstd frame", p: cat(hdr, []byte{0x00}, bin8(nil))},
		{name: "not zstd", p: cat(hdr, []byte{0x02}, bin8([]byte("this is not zstd at all")))},
		{name: "zstd checksum mismatch", p: badSum},
		{name: "zstd truncated", p: cat(hdr, []byte{0x02}, bin8(zst(t, two)[:10]))},
		{name: "count lower than content", p: cat(hdr, []byte{0x01}, bin8(zst(t, two)))},
		{name: "count higher than content", p: cat(hdr, []byte{0x03}, bin8(zst(t, two)))},
		{name: "forged huge count", p: cat(hdr, []byte{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, bin8(zst(t, two)))},
		{name: "count without content", p: cat(hdr, []byte{0x01}, bin8(zst(t, nil)))},
		{name: "item of length zero", p: cat(hdr, []byte{0x01}, bin8(zst(t, []byte{0x00, 0x92, 0x03, 0xa0})))},
		{name: "item past the end", p: cat(hdr, []byte{0x01}, bin8(zst(t, []byte{0x09, 0x92, 0x03, 0xa0})))},
		{name: "unterminated length", p: cat(hdr, []byte{0x03}, bin8(zst(t, append(bytes.Clone(two), 0x80))))},
		{name: "trailing garbage in content", p: cat(hdr, []byte{0x03}, bin8(zst(t, append(bytes.Clone(two), 0x05, 0x92, 0x03))))},
		{name: "item is not an event", p: cat(hdr, []byte{0x02}, bin8(zst(t, cat(items(t, record.Delete(dg("abcdef"), record.ReasonUnspecified)), []byte{0x04, 0xc1, 0xc1, 0xc1, 0xc1})))), partial: true},
		{name: "nested batch", p: cat(hdr, []byte{0x01}, bin32(zst(t, nestedBatch)))},
		{name: "invalid byte in a trailing element", p: cat([]byte{0x94, 0x04, 0x02}, bin8(zst(t, two)), []byte{0xc1})},
		{name: "trailing element truncated", p: cat([]byte{0x94, 0x04, 0x02}, bin8(zst(t, two)), []byte{0xdc, 0xff, 0xff})},
		{name: "content over MaxBatchSize", p: cat(hdr, []byte{0x01}, bin32(zst(t, make([]byte, MaxBatchSize+1))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := DecodePayload(tt.p, record.V2, func(*record.Event) error { calls++; return nil })
			if !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("err = %v, want one wrapping record.ErrMalformed", err)
			}
			if calls > 0 && !tt.partial {
				t.Fatalf("fn was called %d times before the error", calls)
			}
		})
	}
}

// TestDecodePayloadAcceptsMsgpackVariants checks that a reader takes every
// form msgpack allows for the envelope, and skips elements a later version
// may append.
func TestDecodePayloadAcceptsMsgpackVariants(t *testing.T) {
	two := items(t, record.Delete(dg("abcdef"), record.ReasonUnspecified), record.Delete(dg("ghijkl"), record.ReasonUnspecified))
	z := zst(t, two)
	future := []byte{
		0x82, 0xa1, 'k', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'l', 0x92, 0xd4, 1, 2, 0xc7, 1, 5, 9, // map with a float, array of fixext and ext
	}
	tests := []struct {
		name string
		p    []byte
	}{
		{"bin8, fixint count", cat([]byte{0x93, 0x04, 0x02}, bin8(z))},
		{"bin16", cat([]byte{0x93, 0x04, 0x02, 0xc5, 0x00, byte(len(z))}, z)},
		{"uint16 count", cat([]byte{0x93, 0x04, 0xcd, 0x00, 0x02}, bin8(z))},
		{"int8 count", cat([]byte{0x93, 0x04, 0xd0, 0x02}, bin8(z))},
		{"array16 header", cat([]byte{0xdc, 0x00, 0x03, 0x04, 0x02}, bin8(z))},
		{"appended elements", cat([]byte{0x96, 0x04, 0x02}, bin8(z), []byte{0xa3, 'n', 'e', 'w'}, []byte{0xc0}, future)},
		{"two zstd frames", cat([]byte{0x93, 0x04, 0x02}, bin8(cat(zst(t, two[:8]), zst(t, two[8:]))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Digest != dg("abcdef") || got[1].Digest != dg("ghijkl") {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// TestDecodePayloadVetsAppendedFields checks the elements a single event
// has beyond those of its kind: sound ones are skipped, as a later
// version's fields must be; forged lengths and deep nesting are refused
// before the msgpack library, which would trust and recurse into them,
// sees them. Decoding a forged one over and over must not grow the heap.
func TestDecodePayloadVetsAppendedFields(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(16 << 20))
	id := []byte{0xa6, 'a', 'b', 'c', 'd', 'e', 'f'}
	forged := cat([]byte{0x93, 0x03}, id, []byte{0xc6, 0x30, 0x30, 0x30, 0x30})
	tests := []struct {
		name string
		p    []byte
		ok   bool
	}{
		{"sound appended fields", cat([]byte{0x95, 0x03}, id, []byte{0xa3, 'n', 'e', 'w', 0x81, 0xa1, 'k', 0x91, 0x01, 0xc4, 0x01, 0x00}), true},
		{"create with an appended field", cat([]byte{0x95, 0x01}, id, []byte{0x01, 0x02, 0xc0}), true},
		{"forged bin32 length", forged, false},
		{"forged str32 length", cat([]byte{0x93, 0x03}, id, []byte{0xdb, 0x7f, 0xff, 0xff, 0xff}), false},
		{"forged map length", cat([]byte{0x93, 0x03}, id, []byte{0xdf, 0x7f, 0xff, 0xff, 0xff}), false},
		{"nested a million deep", cat([]byte{0x93, 0x03}, id, bytes.Repeat([]byte{0x91}, 1<<20), []byte{0xc0}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := DecodePayload(tt.p, record.V1, func(e *record.Event) error {
				calls++
				if e.Digest != dg("abcdef") {
					t.Errorf("digest = %s, want that of the ID abcdef", e.Digest)
				}
				return nil
			})
			if tt.ok && (err != nil || calls != 1) {
				t.Fatalf("DecodePayload = %v after %d events, want one event", err, calls)
			}
			if !tt.ok && (!errors.Is(err, record.ErrMalformed) || calls != 0) {
				t.Fatalf("DecodePayload = %v after %d events, want ErrMalformed", err, calls)
			}
			batch := cat([]byte{0x93, 0x04, 0x01}, bin32(zst(t, cat(binary.AppendUvarint(nil, uint64(len(tt.p))), tt.p))))
			if err := DecodePayload(batch, record.V1, func(*record.Event) error { return nil }); (err == nil) != tt.ok {
				t.Fatalf("in a batch: DecodePayload = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if raceEnabled {
		return // the race detector's own memory use swamps the figure
	}
	before := heapInUse()
	for range 2000 {
		_ = DecodePayload(forged, record.V1, func(*record.Event) error { return nil })
	}
	if grown := int64(heapInUse()) - int64(before); grown > 64<<20 {
		t.Fatalf("decoding a 12-byte payload 2000 times grew the heap by %d MiB", grown>>20)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func ExampleAppendBatch() {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cookie := record.DigestOf("abcdefghijklmnopqrstuvwx")
	p, err := AppendBatch(nil, []record.Event{
		record.Create(cookie, created, 24*time.Hour),
		record.Update(cookie, record.Auth{AuthID: "alice", AuthRole: "user"}),
	})
	if err != nil {
		panic(err)
	}
	err = DecodePayload(p, record.V2, func(e *record.Event) error {
		fmt.Printf("%s of the cookie: %v, authid=%q\n", e.Kind, e.Digest == cookie, e.Auth.AuthID)
		return nil
	})
	fmt.Println(err)
	// Output:
	// create of the cookie: true, authid=""
	// update of the cookie: true, authid="alice"
	// <nil>
}
