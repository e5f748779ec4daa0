package memstore

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"cookiestore/record"
)

// newIDs returns n distinct random cookie IDs of the default length, drawn
// from a seeded generator so that runs are comparable.
func newIDs(tb testing.TB, n int, seed uint64) []string {
	tb.Helper()
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	ids := make([]string, n)
	for i := range ids {
		id, err := record.NewID(r, record.DefaultIDLength)
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// indexBytesPerCookie builds an index of n unauthenticated cookies and
// returns the heap it grew by, per cookie, counting the ID strings.
func indexBytesPerCookie(tb testing.TB, n int) float64 {
	before := heapAlloc()
	s := New(Options{JanitorInterval: -1})
	ids := newIDs(tb, n, 1)
	now := time.Now()
	for _, id := range ids {
		if err := s.Create(record.Cookie{Digest: dg(id), Created: now, MaxAge: time.Hour}); err != nil {
			tb.Fatal(err)
		}
	}
	ids = nil // only the index may keep the strings alive
	after := heapAlloc()
	if s.Len() != n {
		tb.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	runtime.KeepAlive(s)
	return float64(after-before) / float64(n)
}

// TestIndexMemory holds the index to its budget of 300 bytes per
// unauthenticated 24-character cookie.
func TestIndexMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes the heap's accounting")
	}
	const n = 200_000
	per := indexBytesPerCookie(t, n)
	t.Logf("%.1f bytes/cookie at %d cookies", per, n)
	if per > 300 {
		t.Fatalf("index uses %.1f bytes/cookie, budget 300", per)
	}
}

// BenchmarkIndexMemory and BenchmarkGet, the figures with contract names,
// live in package bench.

func BenchmarkCreate(b *testing.B) {
	s := New(Options{JanitorInterval: -1})
	defer s.Close()
	ids := newIDs(b, b.N, 3)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Create(record.Cookie{Digest: dg(ids[i]), Created: now, MaxAge: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
}

var getN = 1000000
