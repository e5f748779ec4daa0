package record

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"cookiestore/internal/testkit"
)

var t0 = testkit.Start()

// Digests of two IDs, for the tests.
var (
	dA = DigestOf("abcdefghijklmnopqrstuvwx")
	dB = DigestOf("ABCDEFGHIJKLMNOPQRSTUVWX")
)

func TestCookieExpiry(t *testing.T) {
	c := Cookie{Digest: dA, Created: t0, MaxAge: time.Minute}
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
	ev := Create(dA, t0, time.Hour)
	if c := ev.Cookie(); c.Digest != dA || !c.Created.Equal(t0) || c.MaxAge != time.Hour || !c.Auth.IsZero() {
		t.Fatalf("Create.Cookie() = %+v", c)
	}
	alice := Auth{AuthID: "alice"}
	ev = State(Cookie{Digest: dB, Created: t0, MaxAge: time.Minute, Auth: alice})
	if c := ev.Cookie(); c.Digest != dB || c.MaxAge != time.Minute || c.Auth.AuthID != "alice" {
		t.Fatalf("State.Cookie() = %+v", c)
	}
	// An Update's auth is not a cookie's: only Cookie events carry both.
	ev = Update(dA, alice)
	if c := ev.Cookie(); !c.Auth.IsZero() {
		t.Fatalf("Update.Cookie() = %+v", c)
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
