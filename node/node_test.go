package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/record"
)

// t0 is where every test clock starts.
var t0 = testkit.Start()

func newCookie(t *testing.T, now time.Time) record.Cookie {
	t.Helper()
	id, err := record.NewID(nil, record.DefaultIDLength)
	if err != nil {
		t.Fatal(err)
	}
	return record.Cookie{Digest: record.DigestOf(id), Created: now, MaxAge: time.Hour}
}

func TestSnapshotFile(t *testing.T) {
	got := SnapshotFile("node", config.Store{Type: config.StoreNATS})
	if want := filepath.Join("node", "nats-COOKIES-cookies.snapshot"); got != want {
		t.Fatalf("SnapshotFile = %q, want %q", got, want)
	}
	got = SnapshotFile("node", config.Store{Type: config.StoreNATS, Stream: "S", SubjectPrefix: "site.c"})
	if want := filepath.Join("node", "nats-S-site.c.snapshot"); got != want {
		t.Fatalf("SnapshotFile = %q, want %q", got, want)
	}
}

func TestOpenStoreTypes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		sc      config.Store
		wantErr string
		file    bool
	}{
		{name: "memory", sc: config.Store{Type: config.StoreMemory}},
		{name: "file always", sc: config.Store{Type: config.StoreFile, Filename: filepath.Join(dir, "a", "cookies.dat"), Sync: journal.SyncAlways}, file: true},
		{name: "file default sync", sc: config.Store{Type: config.StoreFile, Filename: filepath.Join(dir, "b", "cookies.dat")}, file: true},
		{name: "file interval", sc: config.Store{Type: config.StoreFile, Filename: filepath.Join(dir, "c", "cookies.dat"), Sync: journal.SyncInterval, SyncInterval: 5 * time.Millisecond}, file: true},
		{name: "bad sync", sc: config.Store{Type: config.StoreFile, Filename: filepath.Join(dir, "d", "cookies.dat"), Sync: journal.SyncMode(7)}, wantErr: `unknown sync mode 7`},
		{name: "unknown type", sc: config.Store{Type: "redis"}, wantErr: `store type "redis" is not supported`},
		// A running NATS server is in the e2e module's tests (e2e/cluster).
		{name: "nats unreachable", sc: config.Store{Type: config.StoreNATS, URLs: []string{"nats://127.0.0.1:1"}}, wantErr: `nats store: connect to nats://127.0.0.1:1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Opener{Clock: testkit.NewClock().Now}
			st, err := o.Open(tt.sc, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_, isFile := st.(FileStore)
			_, reports := st.(httpd.StatsReporter)
			if isFile != tt.file || reports != tt.file {
				t.Fatalf("store %T: file store %v, StatsReporter %v; want %v", st, isFile, reports, tt.file)
			}
			// The injected clock is the store's: a cookie created at t0
			// with an hour to live is live at t0.
			c := newCookie(t, t0)
			if err := st.Create(c); err != nil {
				t.Fatal(err)
			}
			if _, ok := st.Get(c.Digest); !ok {
				t.Fatal("a cookie that the clock says is live is missing")
			}
			if tt.file {
				fi, err := os.Stat(tt.sc.Filename)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("journal file: %v, mode %v; want 0600", err, fi.Mode().Perm())
				}
			}
		})
	}
}

func TestOpenUsesTheClock(t *testing.T) {
	for _, typ := range []config.StoreType{config.StoreMemory, config.StoreFile} {
		t.Run(string(typ), func(t *testing.T) {
			clk := testkit.NewClock()
			o := &Opener{Clock: clk.Now}
			st, err := o.Open(config.Store{Type: typ, Filename: filepath.Join(t.TempDir(), "cookies.dat")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c := newCookie(t, t0)
			if err := st.Create(c); err != nil {
				t.Fatal(err)
			}
			// Live at t0 and gone at t0+max_age: whatever the real date,
			// a store on time.Now fails one of the two.
			if _, ok := st.Get(c.Digest); !ok {
				t.Fatal("the store did not use the Opener's clock: a cookie created now is not live")
			}
			clk.Add(time.Hour)
			if _, ok := st.Get(c.Digest); ok {
				t.Fatal("the store did not use the Opener's clock: a cookie at created+max_age is still live")
			}
		})
	}
}

// TestLockedJournal: a journal that another server holds fails the second
// server's start with the journal's own one-line error, naming the file.
func TestLockedJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.dat")
	first := &Opener{}
	st, err := first.Open(config.Store{Type: config.StoreFile, Filename: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	want := "journal " + path + ": in use by another process"
	_, err = (&Opener{}).Open(config.Store{Type: config.StoreFile, Filename: path}, nil)
	if !errors.Is(err, journal.ErrLocked) || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("second Open = %v, want ErrLocked ending in %q", err, want)
	}
	// What a server started on the same node directory returns: httpd adds
	// where in the config the store is, and nothing rewrites the rest.
	_, err = httpd.New(config.Default(dir), httpd.Options{OpenStore: (&Opener{}).Open})
	if !errors.Is(err, journal.ErrLocked) || !strings.HasSuffix(err.Error(), want) || strings.Count(err.Error(), "in use") != 1 {
		t.Fatalf("httpd.New = %v, want ErrLocked ending in %q", err, want)
	}
}

// TestFileStoreStats checks what /status and /metrics get from a file
// store, healthy and after a failed fdatasync.
func TestFileStoreStats(t *testing.T) {
	disk := testkit.NewFaultFS[journal.File](journal.OSFS(), testkit.Faults{})
	var syncs, syncErrs atomic.Int64
	onSync := func(_ time.Duration, err error) {
		syncs.Add(1)
		if err != nil {
			syncErrs.Add(1)
		}
	}
	o := &Opener{FS: disk, Clock: testkit.NewClock().Now}
	st, err := o.Open(config.Store{Type: config.StoreFile, Filename: filepath.Join(t.TempDir(), "cookies.dat")}, onSync)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := st.(httpd.StatsReporter)
	for range 3 {
		if err := st.Create(newCookie(t, t0)); err != nil {
			t.Fatal(err)
		}
	}
	got := r.StoreStats()
	if got.Cookies != 3 || got.EventsAppended != 3 || got.Syncs != 3 || got.JournalBytes <= journal.HeaderSize ||
		got.SyncErrors != 0 || got.ReadOnly || got.Err != "" {
		t.Fatalf("healthy stats %+v", got)
	}
	if syncs.Load() != 3 {
		t.Fatalf("onSync called %d times, want 3: the server's metrics would miss fsyncs", syncs.Load())
	}

	disk.Set(func(f *testkit.Faults) { f.DatasyncErr = syscall.EIO })
	if err := st.Create(newCookie(t, t0)); !errors.Is(err, syscall.EIO) || !errors.Is(err, journal.ErrReadOnly) {
		t.Fatalf("Create with a failing fdatasync: %v", err)
	}
	got = r.StoreStats()
	if !got.ReadOnly || got.SyncErrors != 1 || !strings.Contains(got.Err, "fdatasync") || !strings.Contains(got.Err, "input/output error") {
		t.Fatalf("stats after a failed fdatasync %+v: want read-only with the error", got)
	}
	if syncErrs.Load() != 1 {
		t.Fatalf("onSync saw %d errors, want 1", syncErrs.Load())
	}
}
