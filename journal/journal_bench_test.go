package journal

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkJournalAppend appends 60-byte payloads, about the size of a
// cookie event, in each sync mode; events/s is the figure to compare.
func BenchmarkJournalAppend(b *testing.B) {
	payload := make([]byte, 60)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	run := func(b *testing.B, opts Options, writers int) {
		j, err := Open(filepath.Join(b.TempDir(), "bench.dat"), opts, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		b.SetBytes(int64(FrameHeaderSize + len(payload)))
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		if writers == 1 {
			for range b.N {
				if _, err := j.Append(payload); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			// RunParallel starts parallelism*GOMAXPROCS goroutines.
			b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := j.Append(payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		if err := j.Sync(); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.ReportMetric(float64(b.N)/took.Seconds(), "events/s")
		st := j.Stats()
		b.ReportMetric(float64(st.Frames)/float64(max(1, st.Writes)), "frames/write")
		if opts.Sync == SyncAlways && st.Syncs > 0 {
			b.ReportMetric(float64(st.Frames)/float64(st.Syncs), "frames/sync")
			// As in the store's benchmarks: a turn is one fdatasync and
			// the CPU time to release a group and let it queue again.
			b.ReportMetric(float64(st.SyncTime.Microseconds())/float64(st.Syncs), "µs/fdatasync")
			b.ReportMetric(float64(took.Microseconds())/float64(st.Syncs), "µs/turn")
		}
	}
	b.Run("sync=none", func(b *testing.B) { run(b, Options{Sync: SyncNone}, 1) })
	b.Run("sync=none/writers=64", func(b *testing.B) { run(b, Options{Sync: SyncNone}, 64) })
	b.Run("sync=interval", func(b *testing.B) { run(b, Options{Sync: SyncInterval}, 1) })
	b.Run("sync=always/writers=1", func(b *testing.B) { run(b, Options{Sync: SyncAlways}, 1) })
	b.Run("sync=always/writers=64", func(b *testing.B) { run(b, Options{Sync: SyncAlways}, 64) })
}
