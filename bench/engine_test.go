package bench

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cookiestore/filestore"
	"cookiestore/index"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/record"
	"cookiestore/replay"
)

// idList is the cookies a benchmark uses, by the digests that a store
// keeps, in one array that holds no pointers, so that garbage collections
// during the benchmark have nothing of the input to mark.
type idList struct {
	digests []record.Digest
	n       int
}

// ids returns the digests of n distinct 24-character cookie IDs from a
// fixed seed, so that every run appends the same bytes. The server digests
// an ID once per handshake; the engine's benchmarks start from the digest.
func ids(n int) idList {
	rng := rand.NewChaCha8([32]byte{'c', 'o', 'o', 'k', 'i', 'e'})
	l := idList{digests: make([]record.Digest, n), n: n}
	for i := range n {
		id, err := record.NewID(rng, record.DefaultIDLength)
		if err != nil {
			panic(err)
		}
		l.digests[i] = record.DigestOf(id)
	}
	return l
}

// at returns the i-th cookie.
func (l idList) at(i int) record.Digest { return l.digests[i] }

var created = testkit.Start()

// BenchmarkAppend measures events per second through the file store:
// encode, append, sync as the mode says, apply to the index. Every event
// creates a new cookie, so the index grows all the way to b.N: the costliest
// case for the index. sync=none and sync=interval run one writer, as the
// not-durable run of bench/peers does; sync=none/writers=2 shows what a
// second writer adds on this machine's two cores. sync=none/create+update
// runs the workload of bench/peers instead, each cookie created and then
// logged in on, so that half the events update a cookie already in the
// index.
func BenchmarkAppend(b *testing.B) {
	b.Run("sync=none", func(b *testing.B) { benchAppend(b, journal.SyncNone, 1, false) })
	b.Run("sync=none/writers=2", func(b *testing.B) { benchAppend(b, journal.SyncNone, 2, false) })
	b.Run("sync=none/create+update", func(b *testing.B) { benchAppend(b, journal.SyncNone, 1, true) })
	b.Run("sync=always/writers=1", func(b *testing.B) { benchAppend(b, journal.SyncAlways, 1, false) })
	b.Run("sync=always/writers=64", func(b *testing.B) { benchAppend(b, journal.SyncAlways, 64, false) })
	b.Run("sync=interval", func(b *testing.B) { benchAppend(b, journal.SyncInterval, 1, false) })
}

// benchAppend runs b.N events from writers goroutines: creations, or with
// update, a creation and then a login for each cookie, as bench/peers does.
func benchAppend(b *testing.B, mode journal.SyncMode, writers int, update bool) {
	s, err := filestore.Open(filepath.Join(b.TempDir(), "cookies.dat"), filestore.Options{
		Sync: mode, CompactMinBytes: -1, JanitorInterval: -1, Clock: testkit.NewClock().Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cookies, perCookie := b.N, 1
	if update {
		cookies, perCookie = (b.N+1)/2, 2
	}
	keys := ids(cookies)
	// The auth tuple of bench/peers' workload: 100,000 users, so that a
	// user is logged in on about ten cookies of a million.
	extra := map[string]any{"tenant": "t7", "plan": "pro"}
	auths := make([]record.Auth, 0, 100_000)
	for i := range cap(auths) {
		auths = append(auths, record.Auth{AuthID: "user-" + strconv.Itoa(i), AuthRole: "user",
			AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: extra})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	w0 := DiskWriteBytes()
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(keys.n) {
					return
				}
				id := keys.at(int(i))
				if err := s.Create(record.Cookie{Digest: id, Created: created, MaxAge: 24 * time.Hour}); err != nil {
					b.Error(err)
					return
				}
				if perCookie == 2 && int(i)*2+1 < b.N {
					if err := s.SetAuth(id, auths[int(i)%len(auths)]); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	perSecond := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSecond, "events/s")
	if w0 >= 0 && mode == journal.SyncAlways {
		// What the disk is asked to write per event: a page per
		// fdatasync at best, shared by the events of a group.
		b.ReportMetric(float64(DiskWriteBytes()-w0)/float64(b.N), "disk-B/event")
	}
	if st := s.Stats().Journal; st.Syncs > 0 {
		b.ReportMetric(float64(b.N)/float64(st.Syncs), "events/fdatasync")
		// A group's turn is its fdatasync and the time the CPU takes to
		// release the group and let its writers queue again; the two
		// show which of the disk and the CPU holds a run back.
		syncTime := st.SyncTime.Seconds() / float64(st.Syncs)
		b.ReportMetric(syncTime*1e6, "µs/fdatasync")
		b.ReportMetric(b.Elapsed().Seconds()/float64(st.Syncs)*1e6, "µs/turn")
		if mode == journal.SyncAlways {
			// The most this disk allows: every writer in every group,
			// and no CPU time between fdatasyncs.
			ceiling := float64(writers) / syncTime
			b.ReportMetric(ceiling, "max-events/s")
			// The part of that ceiling the run reached. A shared disk's
			// fdatasync time can double within minutes, and events/s
			// with it; this share moves far less, so it is the figure
			// by which to compare two builds run at different times.
			b.ReportMetric(perSecond/ceiling, "share-of-max")
		}
	}
}

// scratch is a folder for files that several benchmarks share, removed when
// the test binary exits.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cookiestore-bench-")
	if err != nil {
		panic(err)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// replayJournal is built once per process: a journal of a million create
// events, written with sync=none and closed (synced).
var replayJournal = sync.OnceValues(func() (string, error) {
	path := filepath.Join(scratch, "replay.dat")
	s, err := filestore.Open(path, filestore.Options{Sync: journal.SyncNone, CompactMinBytes: -1, JanitorInterval: -1,
		Clock: testkit.NewClock().Now})
	if err != nil {
		return "", err
	}
	keys := ids(1_000_000)
	for i := range keys.n {
		if err := s.Create(record.Cookie{Digest: keys.at(i), Created: created, MaxAge: 24 * time.Hour}); err != nil {
			return "", err
		}
	}
	return path, s.Close()
})

// BenchmarkReplay measures how fast a restart makes a million cookies
// readable: open, check every frame, decode every event, build the index.
func BenchmarkReplay(b *testing.B) {
	b.Run("events=1000000", func(b *testing.B) {
		path, err := replayJournal()
		if err != nil {
			b.Fatal(err)
		}
		var events int64
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			idx := index.New(index.Options{Clock: testkit.NewClock().Now})
			j, st, err := replay.Open(path, idx, journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			events += st.Events
			b.StopTimer()
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
}

// openCookies is the size of the datasets of BenchmarkOpen.
const openCookies = 1_000_000

// authJournal is built once per process: the journal that bench/peers opens,
// a million cookies of two events each, a Create and then an Update that
// logs a user in with a two-key authextra, written frame by frame with
// nothing compacted.
var authJournal = sync.OnceValues(func() (string, error) {
	path := filepath.Join(scratch, "auth.dat")
	j, err := journal.Open(path, journal.Options{Sync: journal.SyncNone}, nil)
	if err != nil {
		return "", err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := ids(openCookies)
	extra := map[string]any{"tenant": "t7", "plan": "pro"}
	var buf []byte
	for i := range keys.n {
		d := keys.at(i)
		// Created within the day before the clock's start, as bench/peers
		// creates them within a day, so that none has expired.
		born := created.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Millisecond)
		a := record.Auth{AuthID: "user-" + strconv.Itoa(rng.IntN(100_000)), AuthRole: "user",
			AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: extra}
		for _, ev := range []record.Event{record.Create(d, born, 30*24*time.Hour), record.Update(d, a)} {
			if buf, err = record.AppendEvent(buf[:0], &ev); err != nil {
				j.Close()
				return "", err
			}
			if _, err := j.Append(buf); err != nil {
				j.Close()
				return "", err
			}
		}
	}
	return path, j.Close()
})

// compactedAuthJournal is authJournal after a compaction: one Cookie event
// per cookie, in compressed batches.
var compactedAuthJournal = sync.OnceValues(func() (string, error) {
	src, err := authJournal()
	if err != nil {
		return "", err
	}
	path := filepath.Join(scratch, "auth-compacted.dat")
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	s, err := filestore.Open(path, openOptions())
	if err != nil {
		return "", err
	}
	if _, err := s.Compact(); err != nil {
		s.Close()
		return "", err
	}
	return path, s.Close()
})

// openOptions are the options of a store that BenchmarkOpen opens: the
// defaults, but nothing running in the background.
func openOptions() filestore.Options {
	return filestore.Options{Clock: testkit.NewClock().Now, CompactMinBytes: -1, JanitorInterval: -1}
}

// BenchmarkOpen measures what a restart costs with a million logged-in
// cookies, in this process: open the file store on the journal of
// bench/peers (auth) and on that journal compacted (auth/compacted), until
// the store answers. It reports the events replayed per second, the Go heap
// that the open store keeps per cookie (bytes/cookie) and the heap objects
// per cookie, and what the open allocated per event. A fresh process pays
// more for the same open, as the memory is new to it; bench/peers measures
// that.
func BenchmarkOpen(b *testing.B) {
	b.Run("auth/cookies=1000000", func(b *testing.B) { benchOpen(b, authJournal) })
	b.Run("auth/compacted/cookies=1000000", func(b *testing.B) { benchOpen(b, compactedAuthJournal) })
}

func benchOpen(b *testing.B, build func() (string, error)) {
	path, err := build()
	if err != nil {
		b.Fatal(err)
	}
	var events, mallocs int64
	var heap, objects float64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		s, err := filestore.Open(path, openOptions())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		mallocs += int64(after.Mallocs - before.Mallocs)
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / openCookies
		objects = (float64(after.HeapObjects) - float64(before.HeapObjects)) / openCookies
		st := s.Stats()
		if st.Cookies != openCookies {
			b.Fatalf("%d cookies after open, want %d", st.Cookies, openCookies)
		}
		events += st.Replay.Events
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(heap, "bytes/cookie")
	b.ReportMetric(objects, "objects/cookie")
	b.ReportMetric(float64(mallocs)/float64(events), "allocs/event")
}

// BenchmarkGet measures parallel lookups of random existing cookies in an
// index of a million.
func BenchmarkGet(b *testing.B) {
	idx := memstore.New(memstore.Options{Clock: testkit.NewClock().Now, JanitorInterval: -1})
	defer idx.Close()
	keys := ids(1_000_000)
	for i := range keys.n {
		if err := idx.Create(record.Cookie{Digest: keys.at(i), Created: created, MaxAge: 24 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			if _, ok := idx.Get(keys.at(rng.IntN(keys.n))); !ok {
				b.Error("missing cookie")
				return
			}
		}
	})
}

// BenchmarkIndexMemory reports the heap that the index takes per
// unauthenticated 24-character cookie, at a million cookies.
func BenchmarkIndexMemory(b *testing.B) {
	keys := ids(1_000_000)
	var perCookie float64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		idx := memstore.New(memstore.Options{Clock: testkit.NewClock().Now, JanitorInterval: -1})
		for i := range keys.n {
			if err := idx.Create(record.Cookie{Digest: keys.at(i), Created: created, MaxAge: 24 * time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		// The index keeps its own copy of each ID, so the growth of the
		// heap counts the IDs' bytes too.
		perCookie = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(keys.n)
		runtime.KeepAlive(idx)
		idx.Close()
	}
	b.ReportMetric(perCookie, "bytes/cookie")
}

// BenchmarkLimits measures the machine: the ceilings the figures above are
// compared against, in the same run and on the same file system.
func BenchmarkLimits(b *testing.B) {
	b.Run("fdatasync", func(b *testing.B) {
		// What sync=always/writers=1 can at best do: append 100 bytes to a
		// growing file and fdatasync, once per event.
		appendSync := rawAppender(b)
		b.ResetTimer()
		for range b.N {
			appendSync()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fdatasyncs/s")
	})
	// The fdatasync of a 4 KiB write, about what a group of 64 appends
	// writes: to a growing file, where each fdatasync also commits the
	// file's new size and blocks, and over blocks written ahead, as a
	// sync=always journal does (its unwritten space: go doc journal).
	for _, ahead := range []bool{false, true} {
		name := "fdatasync-4KiB/growing"
		if ahead {
			name = "fdatasync-4KiB/written-ahead"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			if ahead {
				if err := WriteZerosAhead(f, 0, int64(b.N*len(buf))); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(buf, int64(i*len(buf))); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fdatasyncs/s")
		})
	}
	b.Run("seqwrite", func(b *testing.B) {
		// Sequential write bandwidth: 1 MiB writes, one fdatasync at the end
		// of each 64 MiB, counted.
		const chunk = 1 << 20
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "seq"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, chunk)
		b.SetBytes(chunk)
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			if i%64 == 63 {
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Seek(0, 0); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("wakeup", benchWakeup)
}

// rawAppender opens a fresh file in b's temporary folder and returns a
// function that appends 100 bytes to it and fdatasyncs: one durable event
// with nothing of the store around it. An error fails b; the file is closed
// when b ends.
func rawAppender(b *testing.B) func() {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	buf := make([]byte, 100)
	return func() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWakeup measures what the first wake-up of a group's release costs the
// goroutine that returns from the fdatasync. While the fdatasync ran, every
// other core went idle, so making a goroutine runnable may mean waking one;
// on a virtual machine that interrupt can hold the waker for tens of
// microseconds, once per group, before any writer of the group runs. With
// one processor there is no core to wake, and this is the cost of a plain
// channel close.
func benchWakeup(b *testing.B) {
	appendSync := rawAppender(b)
	var waking time.Duration
	b.ResetTimer()
	for range b.N {
		wake, woken := make(chan struct{}), make(chan struct{})
		go func() { <-wake; close(woken) }()
		appendSync() // long enough for the goroutine to wait, and the other core to idle
		t0 := time.Now()
		close(wake)
		waking += time.Since(t0)
		<-woken
	}
	b.ReportMetric(float64(waking.Nanoseconds())/1e3/float64(b.N), "µs/wakeup")
}

// TestBenchmarksRun runs every benchmark once at a tiny size, so that plain
// go test keeps them compiling and working.
func TestBenchmarksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmarks once")
	}
	for _, bm := range []struct {
		name, metric string
		run          func(*testing.B)
	}{
		{"append-none", "events/s", func(b *testing.B) { benchAppend(b, journal.SyncNone, 2, false) }},
		{"append-update", "events/s", func(b *testing.B) { benchAppend(b, journal.SyncNone, 1, true) }},
		{"append-always", "share-of-max", func(b *testing.B) { benchAppend(b, journal.SyncAlways, 64, false) }},
		{"wakeup", "µs/wakeup", benchWakeup},
	} {
		r := testing.Benchmark(bm.run)
		if r.N == 0 {
			t.Fatalf("%s did not run", bm.name)
		}
		if r.Extra[bm.metric] <= 0 {
			t.Fatalf("%s reported no %s: %v", bm.name, bm.metric, r.Extra)
		}
	}
}
