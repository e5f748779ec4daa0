package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fullAuth() Auth {
	return Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
		AuthExtra: map[string]any{"tenant": "t7", "n": int64(3), "neg": int64(-70000), "big": uint64(1 << 63), "f": 1.5,
			"ok": true, "list": []any{"a", int64(-1), nil}, "m": map[string]any{"x": nil, "empty": map[string]any{}},
			"b": []byte{1, 2}, "none": []any{}}}
}

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"create", Create(dA, t0, 24*time.Hour)},
		{"create before 1970", Create(dA, time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)},
		{"update full", Update(dA, fullAuth())},
		{"update clears", Update(dA, Auth{})},
		{"update empty extra becomes nil", Update(dA, Auth{AuthID: "bob", AuthExtra: map[string]any{}})},
		{"update long strings", Update(dA, Auth{AuthID: strings.Repeat("i", 40), AuthRole: strings.Repeat("r", 300), AuthMethod: strings.Repeat("m", 70000)})},
		{"delete unspecified", Delete(dA, ReasonUnspecified)},
		{"delete logout", Delete(dA, ReasonLogout)},
		{"delete revoke", Delete(dA, ReasonRevoke)},
		{"delete expired", Delete(dA, ReasonExpired)},
		{"rotated", Rotated(dA, dB)},
		{"cookie without auth", State(Cookie{Digest: dB, Created: t0, MaxAge: time.Hour})},
		{"cookie with auth", State(Cookie{Digest: dB, Created: t0, MaxAge: time.Hour, Auth: fullAuth()})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := AppendEvent(nil, &tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			k, err := PeekKind(p)
			if err != nil || k != tt.ev.Kind {
				t.Fatalf("PeekKind = %v, %v; want %v", k, err, tt.ev.Kind)
			}
			var got Event
			if err := DecodeEvent(p, V2, &got); err != nil {
				t.Fatal(err)
			}
			want := tt.ev
			if len(want.Auth.AuthExtra) == 0 {
				want.Auth.AuthExtra = nil
			}
			if !got.Created.Equal(want.Created) {
				t.Fatalf("created %v, want %v", got.Created, want.Created)
			}
			got.Created, want.Created = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
			// The encoding is deterministic: the same event, the same bytes.
			again, _ := AppendEvent(nil, &tt.ev)
			if !bytes.Equal(p, again) {
				t.Fatal("two encodings of one event differ")
			}
			// A view of the event encodes to the same bytes, and so does
			// a view whose authextra AppendExtra encoded.
			var v View
			if err := Parse(p, V2, &v); err != nil {
				t.Fatal(err)
			}
			if fromView, err := AppendView([]byte("x"), &v); err != nil || !bytes.Equal(fromView[1:], p) || fromView[0] != 'x' {
				t.Fatalf("AppendView = %x, %v; want x followed by %x", fromView, err, p)
			}
			extra, err := AppendExtra([]byte("x"), tt.ev.Auth.AuthExtra)
			if err != nil || !bytes.Equal(extra[1:], v.Extra) || extra[0] != 'x' {
				t.Fatalf("AppendExtra = %x, %v; want x followed by the view's %x", extra, err, v.Extra)
			}
		})
	}
}

func TestAppendViewAndExtraErrors(t *testing.T) {
	if out, err := AppendView([]byte("keep"), &View{Kind: KindBatch}); err == nil || string(out) != "keep" {
		t.Errorf("AppendView of a batch = %q, %v", out, err)
	}
	if out, err := AppendView([]byte("keep"), &View{Kind: KindDelete, Reason: 0x80}); err == nil || string(out) != "keep" {
		t.Errorf("AppendView of a delete with reason 0x80 = %q, %v", out, err)
	}
	if out, err := AppendExtra([]byte("keep"), map[string]any{"ch": make(chan int)}); err == nil || string(out) != "keep" {
		t.Errorf("AppendExtra of a channel = %q, %v", out, err)
	}
	if out, err := AppendExtra([]byte("keep"), map[string]any{}); err != nil || string(out) != "keep" {
		t.Errorf("AppendExtra of an empty map = %q, %v; want nothing appended", out, err)
	}
}

// The layout of the events is part of the wire format (docs/FORMAT.md).
func TestEventBytes(t *testing.T) {
	digest := append([]byte{0xc4, 0x10}, dA[:]...)
	i64 := func(v int64) []byte { return binary.BigEndian.AppendUint64([]byte{0xd3}, uint64(v)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	created := t0.UnixNano()
	tests := []struct {
		ev   Event
		want []byte
	}{
		{Create(dA, t0, time.Hour), cat([]byte{0x94, 0x01}, digest, i64(created), i64(int64(time.Hour)))},
		{Update(dA, Auth{AuthID: "al", AuthRealm: "r"}), cat([]byte{0x97, 0x02}, digest, []byte{0xa2, 'a', 'l', 0xa0, 0xa0, 0xa1, 'r', 0xc0})},
		{Update(dA, Auth{AuthExtra: map[string]any{"b": true, "a": int64(1)}}), cat([]byte{0x97, 0x02}, digest, []byte{0xa0, 0xa0, 0xa0, 0xa0, 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc3})},
		{Delete(dA, ReasonLogout), cat([]byte{0x94, 0x03}, digest, []byte{0x01, 0xc0})},
		{Rotated(dA, dB), cat([]byte{0x94, 0x03}, digest, []byte{0x04, 0xc4, 0x10}, dB[:])},
		{State(Cookie{Digest: dA, Created: t0, MaxAge: time.Second, Auth: Auth{AuthID: "x"}}),
			cat([]byte{0x99, 0x05}, digest, i64(created), i64(int64(time.Second)), []byte{0xa1, 'x', 0xa0, 0xa0, 0xa0, 0xc0})},
	}
	for _, tt := range tests {
		got, err := AppendEvent(nil, &tt.ev)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: % x, %v\nwant % x", tt.ev.Kind, got, err, tt.want)
		}
	}
}

func TestAppendEventAppends(t *testing.T) {
	ev := Delete(dA, ReasonLogout)
	p, err := AppendEvent([]byte("prefix"), &ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", p)
	}
	var got Event
	if err := DecodeEvent(p[len("prefix"):], V2, &got); err != nil || got.Digest != dA {
		t.Fatalf("decode after prefix: %+v %v", got, err)
	}
}

func TestAppendEventErrors(t *testing.T) {
	huge := map[string]any{"blob": bytes.Repeat([]byte{'x'}, MaxExtraSize)}
	for name, ev := range map[string]Event{
		"kind 9":               {Kind: 9, Digest: dA},
		"a batch":              {Kind: KindBatch, Digest: dA},
		"a channel in extra":   Update(dA, Auth{AuthExtra: map[string]any{"ch": make(chan int)}}),
		"a time in extra":      Update(dA, Auth{AuthExtra: map[string]any{"when": t0}}),
		"extra over the bound": Update(dA, Auth{AuthExtra: huge}),
		"a cookie's extra":     State(Cookie{Digest: dA, Created: t0, MaxAge: time.Hour, Auth: Auth{AuthExtra: huge}}),
		"reason past a fixint": {Kind: KindDelete, Digest: dA, Reason: 200},
	} {
		before := []byte("keep")
		out, err := AppendEvent(before, &ev)
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
		if string(out) != "keep" {
			t.Errorf("%s: dst changed to %q on error", name, out)
		}
	}
}

func TestAppendEventDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, ev := range []Event{
		Create(dA, t0, time.Hour), Delete(dA, ReasonLogout), Rotated(dA, dB),
		Update(dA, Auth{AuthID: "alice", AuthRole: "user"}),
		State(Cookie{Digest: dA, Created: t0, MaxAge: time.Hour, Auth: Auth{AuthID: "alice"}}),
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := AppendEvent(buf[:0], &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per AppendEvent, want 0", ev.Kind, allocs)
		}
		p, _ := AppendEvent(nil, &ev)
		var v View
		if err := Parse(p, V2, &v); err != nil {
			t.Fatal(err)
		}
		if allocs := testing.AllocsPerRun(1000, func() {
			if _, err := AppendView(buf[:0], &v); err != nil {
				t.Fatal(err)
			}
		}); allocs != 0 {
			t.Errorf("%s: %v allocations per AppendView, want 0", ev.Kind, allocs)
		}
	}
}

// Parse is what a replay runs per event: it must not allocate, whatever the
// event holds.
func TestParseDoesNotAllocate(t *testing.T) {
	var payloads [][]byte
	for _, ev := range []Event{Create(dA, t0, time.Hour), Update(dA, fullAuth()), Rotated(dA, dB),
		State(Cookie{Digest: dA, Created: t0, MaxAge: time.Hour, Auth: fullAuth()})} {
		p, err := AppendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	v1 := []byte{0x97, 0x02, 0xb8}
	v1 = append(append(v1, "abcdefghijklmnopqrstuvwx"...), 0xa5, 'a', 'l', 'i', 'c', 'e', 0xa0, 0xa0, 0xa0, 0x81, 0xa1, 'k', 0x01)
	var v View
	for _, p := range payloads {
		if n := testing.AllocsPerRun(100, func() {
			if err := Parse(p, V2, &v); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Parse of a %s: %v allocations, want 0", v.Kind, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := Parse(v1, V1, &v); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Parse of a version 1 update: %v allocations, want 0", n)
	}
}

// Version 1 payloads, as the previous release wrote them, read exactly as
// before, with each ID turned into its digest.
func TestDecodeVersion1(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwx"
	str := append([]byte{0xb8}, id...)
	i64 := func(v int64) []byte { return binary.BigEndian.AppendUint64([]byte{0xd3}, uint64(v)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		p    []byte
		want Event
	}{
		{"create", cat([]byte{0x94, 0x01}, str, i64(t0.UnixNano()), i64(int64(time.Hour))), Create(DigestOf(id), t0, time.Hour)},
		{"create, compact integers", cat([]byte{0x94, 0x01}, str, []byte{0x05, 0xcd, 0x01, 0x00}), Create(DigestOf(id), time.Unix(0, 5), 256)},
		{"update", cat([]byte{0x97, 0x02}, str, []byte{0xa1, 'a', 0xa1, 'r', 0xa1, 'm', 0xa1, 'x', 0x81, 0xa1, 'k', 0xa1, 'v'}),
			Update(DigestOf(id), Auth{AuthID: "a", AuthRole: "r", AuthMethod: "m", AuthRealm: "x", AuthExtra: map[string]any{"k": "v"}})},
		{"update clears", cat([]byte{0x97, 0x02}, str, []byte{0xa0, 0xa0, 0xa0, 0xa0, 0xc0}), Update(DigestOf(id), Auth{})},
		{"delete", cat([]byte{0x92, 0x03}, str), Delete(DigestOf(id), ReasonUnspecified)},
	}
	for _, tt := range tests {
		var got Event
		if err := DecodeEvent(tt.p, V1, &got); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !got.Created.Equal(tt.want.Created) {
			t.Fatalf("%s: created %v, want %v", tt.name, got.Created, tt.want.Created)
		}
		got.Created, tt.want.Created = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// A version 2 event is not a version 1 event, nor the other way round.
	v2, _ := AppendEvent(nil, &Event{Kind: KindCreate, Digest: dA, Created: t0, MaxAge: time.Hour})
	var e Event
	if err := DecodeEvent(v2, V1, &e); !errors.Is(err, ErrMalformed) {
		t.Errorf("a version 2 create read as version 1: %v", err)
	}
	if err := DecodeEvent(tests[0].p, V2, &e); !errors.Is(err, ErrMalformed) {
		t.Errorf("a version 1 create read as version 2: %v", err)
	}
	cookie, _ := AppendEvent(nil, &Event{Kind: KindCookie, Digest: dA, Created: t0, MaxAge: time.Hour})
	if err := DecodeEvent(cookie, V1, &e); !errors.Is(err, ErrMalformed) {
		t.Errorf("a cookie event in a version 1 payload: %v", err)
	}
	if err := DecodeEvent(v2, 3, &e); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("version 3: %v", err)
	}
}

func TestDecodeEventRejectsMalformed(t *testing.T) {
	valid, _ := AppendEvent(nil, &Event{Kind: KindCreate, Digest: dA, Created: t0, MaxAge: time.Hour})
	upd := func(extra ...byte) []byte {
		return append(append(append([]byte{0x97, 0x02, 0xc4, 0x10}, dA[:]...), 0xa0, 0xa0, 0xa0, 0xa0), extra...)
	}
	tests := []struct {
		name    string
		payload []byte
		reason  string
	}{
		{"empty", nil, "EOF"},
		{"not an array", []byte{0x01}, "not a msgpack array"},
		{"one element", []byte{0x91, 0x01}, "1 elements"},
		{"kind zero", []byte{0x92, 0x00, 0xa1, 'x'}, "unknown event kind 0"},
		{"kind 200", []byte{0x92, 0xcc, 200, 0xa1, 'x'}, "unknown event kind 200"},
		{"batch is not single", []byte{0x93, 0x04, 0x01, 0xc4, 0x00}, "batch"},
		{"create too short", append(append([]byte{0x93, 0x01, 0xc4, 0x10}, dA[:]...), 0x01), "want 4"},
		{"digest not binary", []byte{0x94, 0x03, 0x05, 0x00, 0xc0}, "digest"},
		{"digest of 15 bytes", append([]byte{0x94, 0x03, 0xc4, 0x0f}, dA[:15]...), "15 bytes"},
		{"forged bin32 digest length", []byte{0x94, 0x03, 0xc6, 0xff, 0xff, 0xff, 0xff, 'x'}, "EOF"},
		{"forged array length", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x03}, "in 1 bytes"},
		{"forged map32 in extra", upd(0xdf, 0xff, 0xff, 0xff, 0xff), "EOF"},
		{"extra not a map", upd(0x05), "not a map"},
		{"extra key not a string", upd(0x81, 0x01, 0x02), "key is not a string"},
		{"extra with an ext value", upd(0x81, 0xa1, 'k', 0xd4, 0x01, 0x02), "extension"},
		{"extra nested too deep", upd(append(append([]byte{0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, 40)...), 0xc0)...), "deeper"},
		{"extra over the bound", upd(append([]byte{0x81, 0xa1, 'k', 0xc6, 0x00, 0x01, 0x00, 0x00}, make([]byte, 1<<16)...)...), "more than"},
		{"truncated create", valid[:len(valid)-1], "EOF"},
		{"trailing bytes", append(append([]byte{}, valid...), 0x00), "after the event"},
		{"negative reason", append(append([]byte{0x94, 0x03, 0xc4, 0x10}, dA[:]...), 0xff, 0xc0), "reason"},
		{"successor of 3 bytes", append(append([]byte{0x94, 0x03, 0xc4, 0x10}, dA[:]...), 0x04, 0xc4, 0x03, 1, 2, 3), "successor"},
		{"created not an integer", append(append([]byte{0x94, 0x01, 0xc4, 0x10}, dA[:]...), 0xa0, 0x00), "created"},
		{"uint64 created past int64", append(append([]byte{0x94, 0x01, 0xc4, 0x10}, dA[:]...), 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x00), "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			err := DecodeEvent(tt.payload, V2, &e)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.reason)
			}
		})
	}
}

func TestDecodeEventSkipsAppendedFields(t *testing.T) {
	// A later version may append fields; today's decoder skips them.
	p := append(append([]byte{0x95, 0x03, 0xc4, 0x10}, dA[:]...), 0x01, 0xc0, 0xa3, 'n', 'e', 'w')
	var e Event
	if err := DecodeEvent(p, V2, &e); err != nil || e.Kind != KindDelete || e.Digest != dA || e.Reason != ReasonLogout {
		t.Fatalf("got %+v, %v", e, err)
	}
	// A reason a later version adds is kept, not refused.
	p = append(append([]byte{0x94, 0x03, 0xc4, 0x10}, dA[:]...), 0x2a, 0xc0)
	if err := DecodeEvent(p, V2, &e); err != nil || e.Reason != 42 || e.Reason.String() != "unknown" {
		t.Fatalf("unknown reason: %+v, %v", e, err)
	}
}

// Fields that a later version appends are skipped without recursion and
// without trusting their claimed lengths: a frame of nested arrays or a
// forged binary length is an error, not a stack overflow or a huge buffer.
func TestDecodeEventRefusesHostileAppendedFields(t *testing.T) {
	del := append(append([]byte{0x95, 0x03, 0xc4, 0x10}, dA[:]...), 0x01, 0xc0)
	for name, extra := range map[string][]byte{
		"nested a million deep": bytes.Repeat([]byte{0x91}, 1<<20),
		"forged bin32 length":   {0xc6, 0x7f, 0xff, 0xff, 0xff, 'x'},
		"forged str32 length":   {0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},
	} {
		var e Event
		if err := DecodeEvent(append(append([]byte{}, del...), extra...), V2, &e); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestPeekKind(t *testing.T) {
	tests := []struct {
		payload []byte
		want    Kind
		ok      bool
	}{
		{[]byte{0x92, 0x03, 0xc0}, KindDelete, true},
		{[]byte{0xdc, 0x00, 0x02, 0x01, 0x00}, KindCreate, true},
		{[]byte{0xdd, 0, 0, 0, 3, 0x04, 0, 0}, KindBatch, true},
		{[]byte{0x92, 0x05, 0xc0}, KindCookie, true},
		{[]byte{0x92, 0x03}, 0, false}, // claims more elements than bytes left
		{nil, 0, false},
		{[]byte{0x92}, 0, false},
		{[]byte{0x80}, 0, false},
		{[]byte{0x92, 0x06, 0xc0}, 0, false},
		{[]byte{0x92, 0xff, 0xc0}, 0, false},
	}
	for _, tt := range tests {
		k, err := PeekKind(tt.payload)
		if (err == nil) != tt.ok || k != tt.want {
			t.Errorf("PeekKind(% x) = %v, %v; want %v ok=%v", tt.payload, k, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("PeekKind(% x) error %v does not wrap ErrMalformed", tt.payload, err)
		}
	}
}

func TestNames(t *testing.T) {
	for k, want := range map[Kind]string{KindCreate: "create", KindUpdate: "update", KindDelete: "delete", KindBatch: "batch", KindCookie: "cookie", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %q, want %q", k, k.String(), want)
		}
	}
	for r, want := range map[DeleteReason]string{ReasonUnspecified: "unspecified", ReasonLogout: "logout", ReasonRevoke: "revoke",
		ReasonExpired: "expired", ReasonRotated: "rotated", 9: "unknown"} {
		if r.String() != want {
			t.Errorf("DeleteReason(%d) = %q, want %q", r, r.String(), want)
		}
	}
}

func TestBatchEnvelope(t *testing.T) {
	content := []byte("compressed")
	p := AppendBatch([]byte("x"), 300, content)
	if want := append([]byte{'x', 0x93, 0x04, 0xcd, 0x01, 0x2c, 0xc6, 0, 0, 0, 10}, content...); !bytes.Equal(p, want) {
		t.Fatalf("AppendBatch = % x\nwant % x", p, want)
	}
	count, got, err := ParseBatch(p[1:])
	if err != nil || count != 300 || !bytes.Equal(got, content) {
		t.Fatalf("ParseBatch = %d, %q, %v", count, got, err)
	}
	// Other msgpack headers, and appended elements, are accepted.
	alt := []byte{0xdc, 0x00, 0x04, 0x04, 0xd0, 0x05, 0xc4, 0x01, 'z', 0xa1, 'n'}
	if count, got, err := ParseBatch(alt); err != nil || count != 5 || string(got) != "z" {
		t.Fatalf("ParseBatch(alt) = %d, %q, %v", count, got, err)
	}
	for name, bad := range map[string][]byte{
		"two elements":    {0x92, 0x04, 0x01},
		"not a batch":     {0x93, 0x01, 0x01, 0xc4, 0x00},
		"negative count":  {0x93, 0x04, 0xd0, 0xff, 0xc4, 0x00},
		"content a str":   {0x93, 0x04, 0x01, 0xa1, 'x'},
		"forged length":   {0x93, 0x04, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 'x'},
		"trailing bytes":  {0x93, 0x04, 0x01, 0xc4, 0x00, 0x00},
		"hostile trailer": append([]byte{0x94, 0x04, 0x01, 0xc4, 0x00}, bytes.Repeat([]byte{0x91}, 1000)...),
	} {
		if _, _, err := ParseBatch(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func BenchmarkAppendEventCreate(b *testing.B) {
	ev := Create(dA, t0, time.Hour)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEvent(buf[:0], &ev)
	}
}

func BenchmarkParseCookie(b *testing.B) {
	ev := State(Cookie{Digest: dA, Created: t0, MaxAge: time.Hour, Auth: fullAuth()})
	p, _ := AppendEvent(nil, &ev)
	var v View
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(p, V2, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseFastPath checks that the events AppendEvent writes take the fast
// path, and that other encodings of events, which other writers may use,
// take the general one and read the same.
func TestParseFastPath(t *testing.T) {
	flat := Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
		AuthExtra: map[string]any{"tenant": "t7", "n": int64(-3), "big": int64(1) << 40, "f": 1.5, "ok": true, "none": nil, "s": strings.Repeat("s", 300)}}
	for _, ev := range []Event{Create(dA, t0, time.Hour), Update(dA, flat), Update(dA, Auth{}), Update(dA, Auth{AuthID: "bob", AuthExtra: map[string]any{}}),
		Delete(dA, ReasonLogout), Rotated(dA, dB), State(Cookie{Digest: dA, Created: t0, MaxAge: time.Hour, Auth: flat})} {
		p, err := AppendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		var fast, general View
		if !parseFast(p, &fast) {
			t.Errorf("%s: AppendEvent's encoding missed the fast path", ev.Kind)
			continue
		}
		if err := parseGeneral(p, V2, &general); err != nil || !reflect.DeepEqual(fast, general) {
			t.Errorf("%s: fast %+v, general %+v, %v", ev.Kind, fast, general, err)
		}
	}
	nested, _ := AppendEvent(nil, &Event{Kind: KindUpdate, Digest: dA, Auth: fullAuth()})
	compact := []byte{0x94, 0x01, 0xc4, 0x10}
	compact = append(append(compact, dA[:]...), 0x05, 0x06) // small ints, not int64
	trailing, _ := AppendEvent(nil, &Event{Kind: KindCreate, Digest: dA, Created: t0, MaxAge: time.Hour})
	trailing = append(trailing[:len(trailing):len(trailing)], 0x00)
	for name, p := range map[string][]byte{"nested authextra": nested, "compact integers": compact, "a byte after the event": trailing} {
		var v View
		if parseFast(p, &v) {
			t.Errorf("%s: took the fast path", name)
		}
	}
	var v View
	if err := Parse(nested, V2, &v); err != nil || len(v.Extra) == 0 {
		t.Errorf("nested authextra: %v", err)
	}
	if err := Parse(compact, V2, &v); err != nil || v.Created != 5 || v.MaxAge != 6 {
		t.Errorf("compact integers: %+v, %v", v, err)
	}
	if err := Parse(trailing, V2, &v); err == nil {
		t.Error("a byte after the event was accepted")
	}
}

// BenchmarkParseFrames parses the two events of bench/peers' workload, a
// Create and an Update with a two-key authextra, as a replay parses each
// frame of a journal as written.
func BenchmarkParseFrames(b *testing.B) {
	a := Auth{AuthID: "user-12345", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: map[string]any{"tenant": "t7", "plan": "pro"}}
	for _, ev := range []Event{Create(dA, t0, time.Hour), Update(dA, a)} {
		p, _ := AppendEvent(nil, &ev)
		b.Run(ev.Kind.String(), func(b *testing.B) {
			var v View
			b.ReportAllocs()
			for b.Loop() {
				if err := Parse(p, V2, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFlatExtraIsTheLibrarys holds appendFlatExtra to the bytes of the
// msgpack library, as appendExtra sets it up, for every value it encodes
// and at the edges of every encoding's range.
func TestFlatExtraIsTheLibrarys(t *testing.T) {
	values := []any{nil, true, false, "", "s", strings.Repeat("x", 31), strings.Repeat("x", 32), strings.Repeat("x", 255),
		strings.Repeat("x", 256), strings.Repeat("x", 65535), strings.Repeat("x", 65536),
		0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769,
		math.MinInt32, math.MinInt32 - 1, math.MinInt64, int64(5), int64(-200), uint(300), uint64(math.MaxUint64),
		0.0, 1.5, -2.25, math.Inf(1), math.NaN(), math.MaxFloat64}
	library := func(m map[string]any) []byte {
		en := extraEncoders.Get().(*extraEncoder)
		defer extraEncoders.Put(en)
		en.w.b = nil
		if err := en.enc.EncodeMapSorted(m); err != nil {
			t.Fatal(err)
		}
		return en.w.b
	}
	check := func(m map[string]any) {
		t.Helper()
		got, ok := appendFlatExtra(nil, m)
		if !ok {
			t.Fatalf("%v: not taken as flat", m)
		}
		if want := library(m); !bytes.Equal(got, want) {
			t.Fatalf("%v:\nflat    %x\nlibrary %x", m, got, want)
		}
	}
	for i, v := range values {
		check(map[string]any{"k": v})
		check(map[string]any{"b": v, "a": values[(i+7)%len(values)], strings.Repeat("k", 40): values[(i+13)%len(values)]})
	}
	for _, n := range []int{0, 1, 15, 16} {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprint("key", i)] = values[i%len(values)]
		}
		check(m)
	}
	for name, m := range map[string]map[string]any{
		"too many keys": func() map[string]any {
			m := map[string]any{}
			for i := range maxFlatExtra + 1 {
				m[fmt.Sprint(i)] = i
			}
			return m
		}(),
		"nested map": {"m": map[string]any{}},
		"array":      {"a": []any{1}},
		"int32":      {"i": int32(1)},
		"bytes":      {"b": []byte{1}},
	} {
		if _, ok := appendFlatExtra(nil, m); ok {
			t.Errorf("%s: taken as flat", name)
		}
		if out, err := AppendExtra(nil, m); err != nil || !bytes.Equal(out, library(m)) {
			t.Errorf("%s: AppendExtra = %x, %v; want the library's bytes", name, out, err)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() {
		_, _ = appendFlatExtra(make([]byte, 0, 64)[:0], map[string]any{"tenant": "t7", "plan": "pro"})
	}); allocs > 1 { // the buffer
		t.Errorf("appendFlatExtra allocates %v times", allocs)
	}
}

// BenchmarkAppendUpdate encodes the Update of bench/peers' workload, a
// login with a two-key authextra.
func BenchmarkAppendUpdate(b *testing.B) {
	ev := Update(dA, Auth{AuthID: "user-12345", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: map[string]any{"tenant": "t7", "plan": "pro"}})
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEvent(buf[:0], &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeFlatIsGeneral holds the flat decoder to the general one on the
// maps it takes.
func TestDecodeFlatIsGeneral(t *testing.T) {
	for _, m := range []map[string]any{
		{"tenant": "t7", "plan": "pro"},
		{"n": int64(-3), "big": int64(1) << 40, "u": uint64(math.MaxUint64), "f": 1.5, "ok": true, "no": false, "none": nil, "s": strings.Repeat("s", 300)},
		{},
	} {
		p, err := AppendExtra(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			continue
		}
		if !flatExtra(p) {
			t.Fatalf("%v: not flat", m)
		}
		got, err := DecodeExtra(p)
		if err != nil {
			t.Fatal(err)
		}
		r := reader{p: p}
		want, err := r.extraValue(0)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("flat %#v, general %#v, %v", got, want, err)
		}
	}
	// A float32, which the library writes for a float32 value, decodes as
	// a float64 on both paths.
	p := []byte{0x81, 0xa1, 'f', 0xca, 0x3f, 0xc0, 0x00, 0x00}
	if got, err := DecodeExtra(p); err != nil || got["f"] != 1.5 {
		t.Fatalf("float32: %v, %v", got, err)
	}
}

// BenchmarkDecodeExtra decodes bench/peers' authextra, as a Get of a
// logged-in cookie does.
func BenchmarkDecodeExtra(b *testing.B) {
	p, _ := AppendExtra(nil, map[string]any{"tenant": "t7", "plan": "pro"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeExtra(p); err != nil {
			b.Fatal(err)
		}
	}
}
