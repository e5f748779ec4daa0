package peers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cookiestore/bench"
)

// Settings size a benchmark run.
type Settings struct {
	Runs    int   // measured runs per figure (the median of them is reported)
	Writers []int // concurrent writers of the durable append runs

	// DurableCookies is the number of cookies (two events each) one durable
	// append run writes at w writers, unless RunLimit passes first.
	DurableCookies func(w int) int `json:"-"`
	// WarmCookies is the number of cookies written before the clock starts.
	WarmCookies func(w int) int `json:"-"`
	// NotDurableCookies is the same for the not-durable run (one writer).
	NotDurableCookies int
	// RunLimit bounds one append run; the rate is then of what it finished.
	RunLimit time.Duration

	OpenCookies  int           // cookies of the open, get and disk comparison
	ScaleCookies []int         // cookies of cookiestore's open scaling
	GetDuration  time.Duration // length of one parallel get run

	FdatasyncCount int   // 100-byte write+fdatasync per limit run (or 1s)
	SeqBytes       int64 // bytes of the sequential write and read runs

	// Budget is the time the whole run should fit in; the open scaling
	// takes fewer runs (at least 3), or skips a size, to stay within it.
	// Zero means no limit.
	Budget time.Duration

	Dir      string    `json:"-"` // where the stores' fresh folders are made
	Progress io.Writer `json:"-"` // progress lines; nil = none
	Quick    bool      // the settings of QuickSettings
}

// DefaultSettings is the full run: a few minutes on a 2-core machine.
func DefaultSettings(dir string) Settings {
	return Settings{
		Runs:              5,
		Writers:           []int{1, 4, 16, 64, 256},
		DurableCookies:    func(w int) int { return 1000 * max(1, w/4) },
		WarmCookies:       func(w int) int { return max(100, 4*w) },
		NotDurableCookies: 100000,
		RunLimit:          time.Second,
		OpenCookies:       1000000,
		ScaleCookies:      []int{100000, 1000000, 4000000},
		GetDuration:       400 * time.Millisecond,
		FdatasyncCount:    2000,
		SeqBytes:          256 << 20,
		Budget:            9*time.Minute + 30*time.Second,
		Dir:               dir,
		Progress:          os.Stderr,
	}
}

// QuickSettings is a smoke run of a few seconds with tiny sizes, for tests.
func QuickSettings(dir string) Settings {
	return Settings{
		Runs:              3,
		Writers:           []int{1, 4, 16, 64, 256},
		DurableCookies:    func(w int) int { return w + 10 },
		WarmCookies:       func(w int) int { return max(5, w) },
		NotDurableCookies: 500,
		RunLimit:          100 * time.Millisecond,
		OpenCookies:       2000,
		ScaleCookies:      []int{500, 2000, 4000},
		GetDuration:       20 * time.Millisecond,
		FdatasyncCount:    20,
		SeqBytes:          4 << 20,
		Dir:               dir,
		Progress:          io.Discard,
		Quick:             true,
	}
}

// Sample is one figure: the median of several runs, with their range.
type Sample struct {
	Median, Min, Max float64
	Runs             []float64
}

func newSample(runs []float64) Sample {
	s := slices.Clone(runs)
	slices.Sort(s)
	if len(s) == 0 {
		return Sample{}
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Sample{Median: m, Min: s[0], Max: s[len(s)-1], Runs: runs}
}

// Machine describes where the figures were measured.
type Machine struct {
	Cores      int
	GOOS       string
	GOARCH     string
	GoVersion  string
	CPU        string
	Kernel     string
	Memory     string
	FileSystem string
	Date       time.Time
	// LoadStart and LoadEnd are the 1-minute load averages when the run
	// started and ended (-1 if unknown): other work on the machine shows
	// in the figures, and here.
	LoadStart, LoadEnd float64
}

// Limits are the physical limits of the machine, measured in the same run.
type Limits struct {
	Fdatasync Sample // 100-byte write+fdatasync per second, appending
	// FdatasyncPrealloc is the same into blocks allocated ahead (Linux;
	// zero elsewhere).
	FdatasyncPrealloc Sample
	// FdatasyncZeroed is the same over zeros written ahead.
	FdatasyncZeroed Sample
	SeqWrite        Sample // bytes per second, 1 MiB writes then fdatasync
	SeqRead         Sample // bytes per second, from the page cache
}

// AppendResult is one store's figures for one append configuration.
type AppendResult struct {
	Rate       Sample  // events per second
	WriteBytes float64 // median bytes the process wrote per event (Linux /proc/self/io write_bytes), or -1
	// PerSync is the median number of events per fdatasync, for a store
	// that counts its syncs (cookiestore), or 0.
	PerSync float64
}

// syncCounter is a Store that counts its fdatasyncs.
type syncCounter interface{ Syncs() int64 }

// OpenFigures are the opens of one dataset, each in a fresh child process
// (see ChildEnv): medians of the runs.
type OpenFigures struct {
	Seconds          Sample  // open until the first get returns a value
	HeapPerCookie    float64 // Go heap after the open (GC'd) minus before, per cookie
	ObjectsPerCookie float64 // Go heap objects likewise
	RSSPerCookie     float64 // the process's peak resident memory over the open, per cookie; -1 if unknown
}

// OpenResult is one store's open figures for a dataset. The fields from
// DiskBefore on are measured only for the comparison dataset.
type OpenResult struct {
	Cookies      int
	Puts         int64   // events (cookiestore) or puts (peers) that built the dataset
	JournalBytes int64   // cookiestore: the journal's size; peers: 0
	OpenFigures          // the opens of the dataset as written
	LoadSeconds  float64 // time to build the dataset (not a result: for the budget)
	Skipped      bool    // not measured: it would not have fitted in the budget

	DiskBefore       int64       // allocated bytes as written
	DiskAfter        int64       // allocated bytes after compaction
	CompactSeconds   float64     // time of the compaction
	JournalCompacted int64       // cookiestore: the journal's size after compaction
	Compacted        OpenFigures // the opens after the compaction
	Get              Sample      // parallel gets per second
}

// Results is everything a run measured.
type Results struct {
	Settings      Settings
	Machine       Machine
	Limits        Limits
	Engines       []Engine
	FrameBytes    float64                         // cookiestore journal bytes per event of the workload
	Durable       map[string]map[int]AppendResult // engine → writers → result
	NotDurable    map[string]AppendResult         // engine → result (one writer)
	Open          map[string]OpenResult           // engine → the OpenCookies dataset
	Scaling       []OpenResult                    // cookiestore at each ScaleCookies
	Elapsed       time.Duration
	GetGoroutines int

	// Label names the build that was measured, for a page that compares
	// two runs.
	Label string `json:",omitempty"`
	// Baseline is an earlier run of the same command, on the build before
	// a change, that the page compares this run with; nil for none.
	Baseline *Results `json:",omitempty"`
}

// Runner runs the benchmarks.
type Runner struct {
	set     Settings
	engines []Engine
	start   time.Time
}

// NewRunner returns a runner of engines with set.
func NewRunner(set Settings, engines []Engine) *Runner {
	if set.Progress == nil {
		set.Progress = io.Discard
	}
	return &Runner{set: set, engines: engines}
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.set.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run measures everything and returns the results.
func (r *Runner) Run() (*Results, error) {
	r.start = time.Now()
	set := r.set
	res := &Results{
		Settings:      set,
		Engines:       r.engines,
		Machine:       machine(set.Dir),
		Durable:       map[string]map[int]AppendResult{},
		NotDurable:    map[string]AppendResult{},
		Open:          map[string]OpenResult{},
		GetGoroutines: runtime.GOMAXPROCS(0),
	}
	r.logf("file system: %s; load average %.2f", res.Machine.FileSystem, res.Machine.LoadStart)

	var err error
	if res.Limits, err = r.limits(); err != nil {
		return nil, err
	}
	if err := r.appends(res); err != nil {
		return nil, err
	}
	if err := r.opens(res); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(r.start)
	res.Machine.LoadEnd = loadAverage()
	r.logf("done in %s", res.Elapsed.Round(time.Second))
	return res, nil
}

// limits measures the sequential write and read rates. The fdatasync
// rates are measured by syncRates, between the one-writer append runs.
func (r *Runner) limits() (Limits, error) {
	set := r.set
	var writes, reads []float64
	for i := -1; i < set.Runs; i++ { // run -1 is the warm-up
		path, w, err := SeqWrite(set.Dir, set.SeqBytes)
		if err != nil {
			return Limits{}, err
		}
		rd, err := SeqRead(path)
		os.Remove(path)
		if err != nil {
			return Limits{}, err
		}
		if i >= 0 {
			writes, reads = append(writes, w), append(reads, rd)
			r.logf("limits run %d/%d: write %.0f MB/s, cached read %.0f MB/s", i+1, set.Runs, w/1e6, rd/1e6)
		}
	}
	return Limits{SeqWrite: newSample(writes), SeqRead: newSample(reads)}, nil
}

// syncCeiling is the fastest write+fdatasync rate measured: what one
// durable writer can at best reach, whichever way its file is laid out.
func (l Limits) syncCeiling() float64 {
	return max(l.Fdatasync.Median, l.FdatasyncPrealloc.Median, l.FdatasyncZeroed.Median)
}

// syncRates measures write+fdatasync per second, appending, into
// preallocated blocks (where fallocate exists; else prealloc is 0) and over
// zeros written ahead. It runs in each round of the one-writer append runs,
// next to the stores it is the ceiling of, because a shared disk's sync
// rate drifts over minutes.
func (r *Runner) syncRates() (plain, prealloc, zeroed float64, err error) {
	set := r.set
	if plain, err = FdatasyncRate(set.Dir, set.FdatasyncCount, time.Second, Growing); err != nil {
		return 0, 0, 0, err
	}
	prealloc, perr := FdatasyncRate(set.Dir, set.FdatasyncCount, time.Second, Fallocated)
	if perr != nil {
		prealloc = 0
	}
	if zeroed, err = FdatasyncRate(set.Dir, set.FdatasyncCount, time.Second, Zeroed); err != nil {
		return 0, 0, 0, err
	}
	return plain, prealloc, zeroed, nil
}

func (r *Runner) appends(res *Results) error {
	set := r.set
	need := set.NotDurableCookies + set.WarmCookies(1)
	for _, w := range set.Writers {
		need = max(need, set.DurableCookies(w)+set.WarmCookies(w))
	}
	cookies := Cookies(Seed, need)
	events, err := Events(cookies)
	if err != nil {
		return err
	}
	if fb, err := FrameBytes(events); err == nil {
		res.FrameBytes = float64(fb) / float64(len(events))
	} else {
		return err
	}
	r.logf("workload: %d cookies, %.1f journal bytes per event", len(cookies), res.FrameBytes)

	type key struct {
		name string
		w    int
	}
	rates := map[key][]float64{}
	wbytes := map[key][]float64{}
	perSync := map[key][]float64{}
	var syncs, pre, zeroed []float64
	for _, w := range set.Writers {
		for i := -1; i < set.Runs; i++ {
			if w == 1 {
				plain, prealloc, zero, err := r.syncRates()
				if err != nil {
					return err
				}
				if i >= 0 {
					syncs, zeroed = append(syncs, plain), append(zeroed, zero)
					if prealloc > 0 {
						pre = append(pre, prealloc)
					}
					r.logf("limits round %d/%d: %.0f fdatasync/s appending, %.0f into preallocated blocks, %.0f over zeros",
						i+1, set.Runs, plain, prealloc, zero)
				}
			}
			for _, eng := range r.engines {
				rate, wb, ps, err := r.appendRun(eng, Config{Durability: Durable, Writers: w}, events, set.WarmCookies(w), set.DurableCookies(w))
				if err != nil {
					return err
				}
				if i < 0 {
					continue // a whole warm-up run per configuration: files, caches, the disk's own state
				}
				k := key{eng.Name, w}
				rates[k], wbytes[k], perSync[k] = append(rates[k], rate), append(wbytes[k], wb), append(perSync[k], ps)
				r.logf("append durable writers=%d %s run %d/%d: %.0f events/s", w, eng.Name, i+1, set.Runs, rate)
			}
		}
	}
	for i := -1; i < set.Runs; i++ {
		for _, eng := range r.engines {
			rate, wb, _, err := r.appendRun(eng, Config{Durability: NotDurable, Writers: 1}, events, set.WarmCookies(1), set.NotDurableCookies)
			if err != nil {
				return err
			}
			if i < 0 {
				continue
			}
			k := key{eng.Name, 0}
			rates[k], wbytes[k] = append(rates[k], rate), append(wbytes[k], wb)
			r.logf("append not durable writers=1 %s run %d/%d: %.0f events/s", eng.Name, i+1, set.Runs, rate)
		}
	}
	res.Limits.Fdatasync, res.Limits.FdatasyncPrealloc = newSample(syncs), newSample(pre)
	res.Limits.FdatasyncZeroed = newSample(zeroed)
	for _, eng := range r.engines {
		res.Durable[eng.Name] = map[int]AppendResult{}
		for _, w := range set.Writers {
			k := key{eng.Name, w}
			res.Durable[eng.Name][w] = AppendResult{Rate: newSample(rates[k]), WriteBytes: newSample(wbytes[k]).Median, PerSync: newSample(perSync[k]).Median}
		}
		k := key{eng.Name, 0}
		res.NotDurable[eng.Name] = AppendResult{Rate: newSample(rates[k]), WriteBytes: newSample(wbytes[k]).Median}
	}
	return nil
}

// appendRun opens a fresh store, writes warm cookies with writers, then
// times count cookies (or what RunLimit allows) and returns events per
// second, the bytes the process wrote per timed event, and, for a store
// that counts its syncs, the timed events per fdatasync.
func (r *Runner) appendRun(eng Engine, cfg Config, events []Event, warm, count int) (rate, writeBytes, perSync float64, err error) {
	dir, err := os.MkdirTemp(r.set.Dir, "peers-"+eng.Name+"-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	s, err := eng.Open(dir, cfg)
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() {
		if cerr := s.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", eng.Name, cerr)
		}
	}()
	if _, err := drive(s, events[:2*warm], cfg.Writers, time.Time{}); err != nil {
		return 0, 0, 0, fmt.Errorf("%s warm-up: %w", eng.Name, err)
	}
	sc, counts := s.(syncCounter)
	var s0 int64
	if counts {
		s0 = sc.Syncs()
	}
	w0 := bench.DiskWriteBytes()
	start := time.Now()
	n, err := drive(s, events[2*warm:2*(warm+count)], cfg.Writers, start.Add(r.set.RunLimit))
	elapsed := time.Since(start)
	w1 := bench.DiskWriteBytes()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s %s writers=%d: %w", eng.Name, cfg.Durability, cfg.Writers, err)
	}
	writeBytes = -1
	if w0 >= 0 && w1 >= 0 && n > 0 {
		writeBytes = float64(w1-w0) / float64(n)
	}
	if counts {
		if syncs := sc.Syncs() - s0; syncs > 0 {
			perSync = float64(n) / float64(syncs)
		}
	}
	return float64(n) / elapsed.Seconds(), writeBytes, perSync, nil
}

// drive puts events (create/update pairs) from writers goroutines. A writer
// takes the next cookie and puts its create, then its update, so each
// cookie's events stay in order. It stops at deadline, if set, and returns
// the events put.
func drive(s Store, events []Event, writers int, deadline time.Time) (int, error) {
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	cookies := int64(len(events) / 2)
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= cookies || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				for _, e := range events[2*i : 2*i+2] {
					if err := s.Put(&e); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
				done.Add(2)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), firstErr
}

// stream returns the first n cookies of the workload as a dataset is
// loaded, generated as they are read so that millions need no memory. For
// cookiestore (peer false) that is each cookie's create and update events;
// a peer gets one put per cookie, of its final state, so that it builds
// the same million keys without writing half of them twice.
func stream(n int, peer bool) func() (Event, bool) {
	g := NewGenerator(Seed)
	i := 0
	var pending Event
	var havePending bool
	return func() (Event, bool) {
		if havePending {
			havePending = false
			return pending, true
		}
		if i >= n {
			return Event{}, false
		}
		i++
		c := g.Next()
		key := []byte(c.ID)
		if peer {
			v, err := EncodeValue(&c, true)
			if err != nil {
				panic(err) // a fixed struct of strings and ints always encodes
			}
			return Event{Kind: Update, Cookie: &c, Key: key, Value: v}, true
		}
		pending = Event{Kind: Update, Cookie: &c, Key: key}
		havePending = true
		return Event{Kind: Create, Cookie: &c, Key: key}, true
	}
}

// ids returns the keys of the first n cookies of the workload.
func ids(n int) [][]byte {
	g := NewGenerator(Seed)
	out := make([][]byte, n)
	for i := range out {
		c := g.Next()
		out[i] = []byte(c.ID)
	}
	return out
}

func (r *Runner) opens(res *Results) error {
	set := r.set
	keys := ids(set.OpenCookies)
	for _, eng := range r.engines {
		or, err := r.openDataset(eng, set.OpenCookies, keys)
		if err != nil {
			return err
		}
		res.Open[eng.Name] = or
	}
	cs, ok := res.Open["cookiestore"]
	if !ok {
		return nil
	}
	for _, n := range set.ScaleCookies {
		if n == set.OpenCookies {
			res.Scaling = append(res.Scaling, cs)
			continue
		}
		// Skip a size that would not fit in the budget with its minimum of
		// runs, estimated from the comparison dataset with room for an open
		// that grows faster than the journal (a bigger heap to collect).
		scale := float64(n) / float64(set.OpenCookies)
		need := scale * (cs.LoadSeconds + minRuns*1.5*cs.Seconds.Median)
		if left := (set.Budget - time.Since(r.start)).Seconds(); set.Budget > 0 && need > left {
			r.logf("scaling: skip %d cookies: about %.0fs needed, %.0fs left in the budget", n, need, left)
			res.Scaling = append(res.Scaling, OpenResult{Cookies: n, Skipped: true})
			continue
		}
		or, err := r.openDataset(Cookiestore(), n, nil)
		if err != nil {
			return err
		}
		res.Scaling = append(res.Scaling, or)
	}
	return nil
}

// minRuns is the fewest runs an open figure gets when the budget is short.
const minRuns = 3

// openDataset builds a dataset of n cookies with eng and times Runs opens
// until a get returns (fewer, down to minRuns, if the budget runs out), each
// in a child process. With keys, it then opens the store here, measures
// parallel gets of keys, compacts it, measures the disk before and after,
// and times the opens of the compacted store.
func (r *Runner) openDataset(eng Engine, n int, keys [][]byte) (OpenResult, error) {
	set := r.set
	f := OpenResult{Cookies: n, Puts: 2 * int64(n)}
	if eng.UsesValues {
		f.Puts = int64(n)
	}
	dir, err := os.MkdirTemp(set.Dir, "peers-open-"+eng.Name+"-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	if err := eng.Load(dir, stream(n, eng.UsesValues)); err != nil {
		return f, fmt.Errorf("load %s: %w", eng.Name, err)
	}
	f.LoadSeconds = time.Since(start).Seconds()
	r.logf("open %s: loaded %d cookies (%d puts) in %.1fs", eng.Name, n, f.Puts, f.LoadSeconds)
	f.JournalBytes = journalSize(eng, dir)
	if f.DiskBefore, _, err = DiskUsage(dir); err != nil {
		return f, err
	}
	if f.OpenFigures, err = r.timeOpens(eng, dir, n, "as written"); err != nil {
		return f, err
	}
	if keys == nil {
		return f, nil
	}
	s, err := eng.Open(dir, Config{Durability: Durable, Writers: 1})
	if err != nil {
		return f, err
	}
	if f.Get, err = r.gets(eng, s, keys); err != nil {
		s.Close()
		return f, err
	}
	cstart := time.Now()
	if err := s.Compact(); err != nil {
		s.Close()
		return f, fmt.Errorf("compact %s: %w", eng.Name, err)
	}
	f.CompactSeconds = time.Since(cstart).Seconds()
	if err := s.Close(); err != nil {
		return f, err
	}
	if f.DiskAfter, _, err = DiskUsage(dir); err != nil {
		return f, err
	}
	f.JournalCompacted = journalSize(eng, dir)
	r.logf("disk %s: %d bytes before compaction, %d after (%.1fs)", eng.Name, f.DiskBefore, f.DiskAfter, f.CompactSeconds)
	if f.Compacted, err = r.timeOpens(eng, dir, n, "compacted"); err != nil {
		return f, err
	}
	return f, nil
}

// journalSize is the size of cookiestore's journal in dir, or 0 for a peer.
func journalSize(eng Engine, dir string) int64 {
	if eng.UsesValues {
		return 0
	}
	st, err := os.Stat(filepath.Join(dir, JournalName))
	if err != nil {
		return 0
	}
	return st.Size()
}

func firstKey() []byte {
	c := NewGenerator(Seed).Next()
	return []byte(c.ID)
}

// timeOpens opens the store in dir Runs times, each in a child process, and
// returns the medians of what the children measured. If the budget runs
// out it stops after minRuns. There is no warm-up open: the files are in
// the page cache from being written, and a process opens its store once, so
// the first open is as real as the others.
func (r *Runner) timeOpens(eng Engine, dir string, n int, what string) (OpenFigures, error) {
	set := r.set
	probe := firstKey()
	var secs, heap, objects, rss []float64
	for i := 0; i < set.Runs; i++ {
		runStart := time.Now()
		run, err := openInChild(eng, dir, probe)
		if err != nil {
			return OpenFigures{}, err
		}
		secs = append(secs, run.Seconds)
		heap = append(heap, max(0, run.HeapBytes)/float64(n))
		objects = append(objects, max(0, run.HeapObjects)/float64(n))
		if run.PeakRSS >= 0 {
			rss = append(rss, run.PeakRSS/float64(n))
		}
		r.logf("open %s %d cookies %s run %d/%d: %.3fs, heap %.0f B and %.2f objects per cookie, peak RSS %.0f B per cookie",
			eng.Name, n, what, i+1, set.Runs, run.Seconds, heap[i], objects[i], run.PeakRSS/float64(n))
		over := set.Budget > 0 && time.Since(r.start)+time.Since(runStart) > set.Budget
		if over && i+1 >= minRuns {
			break
		}
	}
	f := OpenFigures{
		Seconds:          newSample(secs),
		HeapPerCookie:    newSample(heap).Median,
		ObjectsPerCookie: newSample(objects).Median,
		RSSPerCookie:     -1,
	}
	if len(rss) > 0 {
		f.RSSPerCookie = newSample(rss).Median
	}
	return f, nil
}

// gets runs GOMAXPROCS goroutines that look up random existing keys for
// GetDuration, Runs times after a warm-up, and returns gets per second.
func (r *Runner) gets(eng Engine, s Store, keys [][]byte) (Sample, error) {
	set := r.set
	procs := runtime.GOMAXPROCS(0)
	var rates []float64
	for i := -1; i < set.Runs; i++ {
		var total atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(set.GetDuration)
		for g := range procs {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(Seed+uint64(g), uint64(i+2)))
				n := 0
				for {
					for range 256 {
						found, err := s.Get(keys[rng.IntN(len(keys))])
						if err == nil && !found {
							err = fmt.Errorf("%s: an existing cookie was not found", eng.Name)
						}
						if err != nil {
							firstErr.CompareAndSwap(nil, err)
							total.Add(int64(n))
							return
						}
						n++
					}
					if time.Now().After(deadline) {
						total.Add(int64(n))
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if err, ok := firstErr.Load().(error); ok {
			return Sample{}, err
		}
		if i >= 0 {
			rates = append(rates, float64(total.Load())/elapsed.Seconds())
			r.logf("get %s run %d/%d: %.0f gets/s", eng.Name, i+1, set.Runs, rates[len(rates)-1])
		}
	}
	return newSample(rates), nil
}

// loadAverage returns the 1-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return -1
	}
	return v
}

func machine(dir string) Machine {
	m := Machine{
		Cores:      runtime.NumCPU(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GoVersion:  runtime.Version(),
		FileSystem: FSType(dir),
		Date:       time.Now().UTC(),
		CPU:        "unknown",
		Kernel:     "unknown",
		Memory:     "unknown",
		LoadStart:  loadAverage(),
		LoadEnd:    -1,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("model name")); ok {
				m.CPU = string(bytes.TrimSpace(bytes.TrimLeft(bytes.TrimSpace(v), ":")))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = string(bytes.TrimSpace(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range bytes.Lines(b) {
			if v, ok := bytes.CutPrefix(line, []byte("MemTotal:")); ok {
				f := bytes.Fields(v)
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return m
}
