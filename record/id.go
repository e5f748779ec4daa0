package record

import (
	"crypto/rand"
	"fmt"
	"io"
)

// Limits and default of a cookie ID's length, in characters. Each character
// carries 6 bits, so the default of 24 is 144 bits of randomness.
const (
	MinIDLength     = 6
	MaxIDLength     = 64
	DefaultIDLength = 24
)

// idAlphabet is the URL-safe base64 alphabet: 64 symbols that need no
// quoting in a Cookie header.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// idSymbol maps a byte to its index in idAlphabet, or to 0xff if the byte is
// not in it.
var idSymbol = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(idAlphabet) {
		t[idAlphabet[i]] = byte(i)
	}
	return t
}()

// NewID returns a random cookie ID of length characters drawn from r, or from
// crypto/rand when r is nil. Because 64 divides 256, the low six bits of a
// uniform byte are uniform over the alphabet: there is no modulo bias and no
// byte is thrown away.
func NewID(r io.Reader, length int) (string, error) {
	if length < MinIDLength || length > MaxIDLength {
		return "", fmt.Errorf("cookie ID length must be between %d and %d, got %d", MinIDLength, MaxIDLength, length)
	}
	if r == nil {
		r = rand.Reader
	}
	var buf [MaxIDLength]byte
	b := buf[:length]
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read randomness for a cookie ID: %w", err)
	}
	for i, x := range b {
		b[i] = idAlphabet[x&63]
	}
	return string(b), nil
}

// ValidID reports whether id could have come from [NewID]: only alphabet
// symbols, and exactly length characters, or any length from MinIDLength to
// MaxIDLength when length is 0. Servers check this before an ID from a client
// reaches a map.
func ValidID(id string, length int) bool {
	if length == 0 {
		if len(id) < MinIDLength || len(id) > MaxIDLength {
			return false
		}
	} else if len(id) != length {
		return false
	}
	for i := range len(id) {
		if idSymbol[id[i]] == 0xff {
			return false
		}
	}
	return true
}
