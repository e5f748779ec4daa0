package record

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"cookiestore/internal/testkit"
)

var t0 = testkit.Start()

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"create", Create("abcdefghijklmnopqrstuvwx", t0, 24*time.Hour)},
		{"create before 1970", Create("abcdef", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)},
		{"update full", Update("abcdef", Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1",
			AuthExtra: map[string]any{"tenant": "t7", "n": int64(3), "f": 1.5, "ok": true, "list": []any{"a", int64(-1)}, "m": map[string]any{"x": nil}, "b": []byte{1, 2}}})},
		{"update clears", Update("abcdef", Auth{})},
		{"update empty extra becomes nil", Update("abcdef", Auth{AuthID: "bob", AuthExtra: map[string]any{}})},
		{"delete", Delete("abcdef")},
		{"unicode id survives encoding", Delete("ünïcödé")},
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
			if err := DecodeEvent(p, &got); err != nil {
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
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestAppendEventAppends(t *testing.T) {
	ev := Delete("abcdef")
	p, err := AppendEvent([]byte("prefix"), &ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", p)
	}
	var got Event
	if err := DecodeEvent(p[len("prefix"):], &got); err != nil || got.ID != "abcdef" {
		t.Fatalf("decode after prefix: %+v %v", got, err)
	}
}

func TestAppendEventRejectsUnknownKind(t *testing.T) {
	ev := Event{Kind: 9, ID: "abcdef"}
	if _, err := AppendEvent(nil, &ev); err == nil {
		t.Fatal("want an error for kind 9")
	}
	bad := Update("abcdef", Auth{AuthExtra: map[string]any{"ch": make(chan int)}})
	if _, err := AppendEvent(nil, &bad); err == nil {
		t.Fatal("want an error for an unencodable authextra")
	}
}

func TestAppendEventDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, ev := range []Event{Create("abcdefghijklmnopqrstuvwx", t0, time.Hour), Delete("abcdefghijklmnopqrstuvwx")} {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := AppendEvent(buf[:0], &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per AppendEvent, want 0", ev.Kind, allocs)
		}
	}
}

func TestDecodeEventRejectsMalformed(t *testing.T) {
	valid, _ := AppendEvent(nil, &Event{Kind: KindCreate, ID: "abcdef", Created: t0, MaxAge: time.Hour})
	tests := []struct {
		name    string
		payload []byte
		reason  string
	}{
		{"empty", nil, "EOF"},
		{"not an array", []byte{0x01}, ""},
		{"one element", []byte{0x91, 0x01}, "1 elements"},
		{"kind zero", []byte{0x92, 0x00, 0xa1, 'x'}, "unknown event kind 0"},
		{"kind 200", []byte{0x92, 0xcc, 200, 0xa1, 'x'}, "unknown event kind 200"},
		{"batch is not single", []byte{0x93, 0x04, 0x01, 0xc4, 0x00}, "batch"},
		{"create too short", []byte{0x92, 0x01, 0xa1, 'x'}, "want 4"},
		{"id not a string", []byte{0x92, 0x03, 0x05}, "id"},
		{"forged str32 length", []byte{0x92, 0x03, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, "exceeds"},
		{"forged map32 in extra", append([]byte{0x97, 0x02, 0xa1, 'x', 0xa0, 0xa0, 0xa0, 0xa0}, 0xdf, 0xff, 0xff, 0xff, 0xff), "exceeds"},
		{"extra not a map", []byte{0x97, 0x02, 0xa1, 'x', 0xa0, 0xa0, 0xa0, 0xa0, 0x05}, "not a map"},
		{"truncated create", valid[:len(valid)-1], ""},
		{"trailing bytes", append(append([]byte{}, valid...), 0x00), "after the event"},
		{"deep nesting", append([]byte{0x97, 0x02, 0xa1, 'x', 0xa0, 0xa0, 0xa0, 0xa0}, bytes.Repeat([]byte{0x91}, 100)...), "deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			err := DecodeEvent(tt.payload, &e)
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
	// A future version may append fields; today's decoder must skip them.
	p := []byte{0x93, 0x03, 0xa6, 'a', 'b', 'c', 'd', 'e', 'f', 0xa3, 'n', 'e', 'w'}
	var e Event
	if err := DecodeEvent(p, &e); err != nil || e.Kind != KindDelete || e.ID != "abcdef" {
		t.Fatalf("got %+v, %v", e, err)
	}
}

func TestPeekKind(t *testing.T) {
	tests := []struct {
		payload []byte
		want    Kind
		ok      bool
	}{
		{[]byte{0x92, 0x03}, KindDelete, true},
		{[]byte{0xdc, 0x00, 0x02, 0x01}, KindCreate, true},
		{[]byte{0xdd, 0, 0, 0, 3, 0x04}, KindBatch, true},
		{nil, 0, false},
		{[]byte{0x92}, 0, false},
		{[]byte{0x80}, 0, false},
		{[]byte{0x92, 0x05}, 0, false},
		{[]byte{0x92, 0xff}, 0, false},
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

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindCreate: "create", KindUpdate: "update", KindDelete: "delete", KindBatch: "batch", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %q, want %q", k, k.String(), want)
		}
	}
}

func TestCookieExpiry(t *testing.T) {
	c := Cookie{ID: "abcdef", Created: t0, MaxAge: time.Minute}
	if !c.Expires().Equal(t0.Add(time.Minute)) {
		t.Fatalf("Expires = %v", c.Expires())
	}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{t0, false},
		{t0.Add(time.Minute - 1), false},
		{t0.Add(time.Minute), true}, // created + max_age <= now is gone
		{t0.Add(time.Hour), true},
		{t0.Add(-time.Hour), false},
	} {
		if got := c.ExpiredAt(tt.now); got != tt.expired {
			t.Errorf("ExpiredAt(%v) = %v, want %v", tt.now, got, tt.expired)
		}
	}
}

func TestAuthIsZero(t *testing.T) {
	if !(Auth{}).IsZero() || !(Auth{AuthExtra: map[string]any{}}).IsZero() {
		t.Fatal("empty auth should be zero")
	}
	for _, a := range []Auth{{AuthID: "a"}, {AuthRole: "r"}, {AuthMethod: "m"}, {AuthRealm: "x"}, {AuthExtra: map[string]any{"k": 1}}} {
		if a.IsZero() {
			t.Errorf("%+v reported zero", a)
		}
	}
}

func TestEventCookie(t *testing.T) {
	ev := Create("abcdef", t0, time.Hour)
	if c := ev.Cookie(); c.ID != "abcdef" || !c.Created.Equal(t0) || c.MaxAge != time.Hour || !c.Auth.IsZero() {
		t.Fatalf("Cookie() = %+v", c)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := NewID(nil, DefaultIDLength)
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(id, DefaultIDLength) {
			t.Fatalf("NewID gave invalid %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDIsUnbiased(t *testing.T) {
	// Every byte value maps to exactly one symbol and each symbol gets four
	// byte values, so a reader that yields 0..255 once gives each symbol four times.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	counts := map[rune]int{}
	r := bytes.NewReader(all)
	for range 4 {
		id, err := NewID(r, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range id {
			counts[c]++
		}
	}
	if len(counts) != 64 {
		t.Fatalf("%d distinct symbols, want 64", len(counts))
	}
	for c, n := range counts {
		if n != 4 {
			t.Fatalf("symbol %q appeared %d times, want 4", c, n)
		}
	}
}

func TestNewIDErrors(t *testing.T) {
	for _, n := range []int{0, 5, 65, -1} {
		if _, err := NewID(nil, n); err == nil {
			t.Errorf("NewID(length %d) gave no error", n)
		}
	}
	if _, err := NewID(iotest.ErrReader(errors.New("no entropy")), 24); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("NewID with a failing reader: %v", err)
	}
	if _, err := NewID(bytes.NewReader([]byte{1, 2, 3}), 24); err == nil {
		t.Error("NewID with a short reader gave no error")
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id     string
		length int
		want   bool
	}{
		{"abcdefghijklmnopqrstuvwx", 24, true},
		{"ABC-_9", 6, true},
		{"abcdefghijklmnopqrstuvw", 24, false},
		{"abcdefghijklmnopqrstuvwxy", 24, false},
		{"abcdefghijklmnopqrstuv=x", 24, false},
		{"abcde;", 6, false},
		{"abcde\x00", 6, false},
		{"abcdef", 0, true},
		{"abcde", 0, false},
		{strings.Repeat("a", 64), 0, true},
		{strings.Repeat("a", 65), 0, false},
		{"", 0, false},
		{"ünï", 0, false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id, tt.length); got != tt.want {
			t.Errorf("ValidID(%q, %d) = %v, want %v", tt.id, tt.length, got, tt.want)
		}
	}
}

func BenchmarkAppendEventCreate(b *testing.B) {
	ev := Create("abcdefghijklmnopqrstuvwx", t0, time.Hour)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEvent(buf[:0], &ev)
	}
}

func BenchmarkDecodeEventCreate(b *testing.B) {
	ev := Create("abcdefghijklmnopqrstuvwx", t0, time.Hour)
	p, _ := AppendEvent(nil, &ev)
	var out Event
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeEvent(p, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// Fields that a later version appends are skipped without recursion and
// without trusting their claimed lengths: a frame of nested arrays or a
// forged binary length is an error, not a stack overflow or a huge buffer.
func TestDecodeEventRefusesHostileAppendedFields(t *testing.T) {
	del := []byte{0x93, 0x03, 0xa6, 'a', 'b', 'c', 'd', 'e', 'f'}
	for name, extra := range map[string][]byte{
		"nested a million deep": bytes.Repeat([]byte{0x91}, 1<<20),
		"forged bin32 length":   {0xc6, 0x7f, 0xff, 0xff, 0xff, 'x'},
		"forged str32 length":   {0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},
	} {
		var e Event
		if err := DecodeEvent(append(append([]byte{}, del...), extra...), &e); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}
