package record

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// DigestSize is the size of a Digest in bytes. Part of the wire format.
const DigestSize = 16

// digestDomain separates cookie digests from every other use of SHA-256 in
// the program (the visitor name, an authid in a log), so that no digest of
// one kind can be passed off as another. Part of the wire format.
const digestDomain = "cookiestore cookie digest v2\x00"

// Digest is what a store keeps of a cookie ID: the first 16 bytes of
// SHA-256("cookiestore cookie digest v2\x00" ‖ ID). It finds the cookie, and
// it cannot be turned back into the ID: an ID of 24 characters carries 144
// random bits, so neither guessing an ID nor inverting 128 bits of SHA-256 is
// within reach of anyone holding a copy of the store. 128 bits also keep
// accidental collisions out of reach for any number of cookies a store can
// hold (about 2^-68 for a billion).
//
// Its bytes are uniformly distributed, so an index may hash by them
// directly: only the holder of an ID can place a digest, and an attacker
// cannot choose digests to collide in a table.
type Digest [DigestSize]byte

// DigestOf returns the digest of cookie ID id.
// It does not allocate for IDs of up to MaxIDLength characters.
func DigestOf(id string) Digest { return digestOf(id) }

// digestOf is DigestOf for an ID as a string or, in a payload, as bytes.
func digestOf[ID string | []byte](id ID) Digest {
	var buf [len(digestDomain) + MaxIDLength]byte
	sum := sha256.Sum256(append(append(buf[:0], digestDomain...), id...))
	return Digest(sum[:DigestSize])
}

// IsZero reports whether d is the zero Digest, which no ID has in practice
// and which marks "none" (for example a Delete without a successor).
func (d Digest) IsZero() bool { return d == Digest{} }

// String returns d as 32 lower-case hex digits.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes d as 32 lower-case hex digits, as String does.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses 32 hex digits, as ParseDigest does.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ParseDigest parses the 32 hex digits that String writes.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*DigestSize {
		return d, fmt.Errorf("cookie digest %q: want %d hex digits", clip(s), 2*DigestSize)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("cookie digest %q: %w", clip(s), err)
	}
	return d, nil
}

// clip bounds a string quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
