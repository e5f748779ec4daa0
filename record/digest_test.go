package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// The construction is part of the wire format: a digest computed here from
// its definition must equal DigestOf, or journals written by another
// version could not be read.
func TestDigestOfIsTheDocumentedConstruction(t *testing.T) {
	for _, id := range []string{"abcdef", "abcdefghijklmnopqrstuvwx", strings.Repeat("z", MaxIDLength), strings.Repeat("y", 200)} {
		sum := sha256.Sum256([]byte("cookiestore cookie digest v2\x00" + id))
		if got := DigestOf(id); hex.EncodeToString(got[:]) != hex.EncodeToString(sum[:16]) {
			t.Fatalf("DigestOf(%q) = %s, want the first 16 bytes of SHA-256 of domain ‖ id, %x", id, got, sum[:16])
		}
	}
	if DigestOf("abcdef") == DigestOf("abcdeg") {
		t.Fatal("two IDs share a digest")
	}
}

func TestDigestOfDoesNotAllocate(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwx"
	if n := testing.AllocsPerRun(100, func() { _ = DigestOf(id) }); n != 0 {
		t.Fatalf("DigestOf allocates %v times", n)
	}
}

func TestDigestText(t *testing.T) {
	d := DigestOf("abcdefghijklmnopqrstuvwx")
	s := d.String()
	if len(s) != 32 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q, want 32 lower-case hex digits", s)
	}
	back, err := ParseDigest(s)
	if err != nil || back != d {
		t.Fatalf("ParseDigest(String()) = %v, %v", back, err)
	}
	b, err := json.Marshal(map[string]Digest{"d": d})
	if err != nil || string(b) != `{"d":"`+s+`"}` {
		t.Fatalf("JSON = %s, %v", b, err)
	}
	var m map[string]Digest
	if err := json.Unmarshal(b, &m); err != nil || m["d"] != d {
		t.Fatalf("JSON back = %v, %v", m, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 32), strings.Repeat("0", 33), strings.Repeat("0", 31)} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q): want an error", bad)
		}
	}
	if !(Digest{}).IsZero() || d.IsZero() {
		t.Fatal("IsZero is wrong")
	}
}
