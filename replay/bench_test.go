package replay

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"cookiestore/index"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/record"
)

// createEvents returns n Create events for distinct random 24-character
// IDs, issued a millisecond apart, as a busy server writes them.
func createEvents(tb testing.TB, n int) []record.Event {
	tb.Helper()
	r := rand.NewChaCha8([32]byte{7})
	t0 := testkit.Start()
	evs := make([]record.Event, n)
	for i := range evs {
		id, err := record.NewID(r, record.DefaultIDLength)
		if err != nil {
			tb.Fatal(err)
		}
		evs[i] = record.Create(dg(id), t0.Add(time.Duration(i)*time.Millisecond), 30*24*time.Hour)
	}
	return evs
}

// BenchmarkReplayPayloads decodes and applies a million Create events held
// in memory, as single-event payloads and as batches of 4096, into a fresh
// index per iteration: replay without the disk.
func BenchmarkReplayPayloads(b *testing.B) {
	const n = 1_000_000
	evs := createEvents(b, n)
	single := make([][]byte, n)
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			b.Fatal(err)
		}
		single[i] = p
	}
	var batches [][]byte
	for i := 0; i < n; i += 4096 {
		p, err := AppendBatch(nil, evs[i:min(i+4096, n)])
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, p)
	}
	journalBytes := func(payloads [][]byte) int64 {
		n := int64(journal.HeaderSize)
		for _, p := range payloads {
			n += int64(8 + len(p))
		}
		return n
	}
	for _, bc := range []struct {
		name     string
		payloads [][]byte
		bytes    int64
	}{{"single", single, journalBytes(single)}, {"batch", batches, journalBytes(batches)}} {
		b.Run(fmt.Sprintf("payloads=%s/events=%d", bc.name, n), func(b *testing.B) {
			b.ReportAllocs()
			clk := testkit.NewClock()
			for b.Loop() {
				idx := index.New(index.Options{Clock: clk.Now})
				r := newReplayer(idx, appliers())
				r.fileSize = bc.bytes // as Open does from the file's size
				off := int64(journal.HeaderSize)
				for _, p := range bc.payloads {
					if err := r.visit(record.V2, off, p); err != nil {
						b.Fatal(err)
					}
					off += int64(journal.FrameHeaderSize + len(p))
				}
				r.finish()
				if idx.Len() != n {
					b.Fatalf("Len = %d, want %d", idx.Len(), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAppendBatch encodes batches of 4096 Create events, as a
// compaction writes them; MB/s counts the uncompressed events.
func BenchmarkAppendBatch(b *testing.B) {
	evs := createEvents(b, 4096)
	raw := 0
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			b.Fatal(err)
		}
		raw += len(p)
	}
	var out []byte
	b.SetBytes(int64(raw))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = AppendBatch(out[:0], evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100*float64(len(out))/float64(raw), "%size")
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeBatch decodes a batch of 4096 Create events without
// applying them.
func BenchmarkDecodeBatch(b *testing.B) {
	evs := createEvents(b, 4096)
	p, err := AppendBatch(nil, evs)
	if err != nil {
		b.Fatal(err)
	}
	var d decoder
	var raw []byte
	count := func(*record.View) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(p, record.V2, &raw, count); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
