package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/node"
	"cookiestore/record"
)

// Disk faults under a real server: the file store of a node.Opener runs on
// a file layer that fails on request, and clients see what a browser
// would.

// journalState opens the journal at path on the real file system, as a
// restarted server would, and returns its live cookies by digest: the
// journal knows no ID. Look a delivered cookie up by record.DigestOf(id).
// A nil clock is a test clock at its start, where the servers of these
// tests run unless they move theirs.
func journalState(t *testing.T, path string, clock func() time.Time) map[record.Digest]record.Cookie {
	t.Helper()
	if clock == nil {
		clock = testkit.NewClock().Now
	}
	st, err := filestore.Open(path, filestore.Options{Clock: clock, JanitorInterval: -1, CompactMinBytes: -1})
	if err != nil {
		t.Fatalf("reopen %s: %v", path, err)
	}
	defer st.Close()
	got := make(map[record.Digest]record.Cookie)
	for c := range st.All() {
		got[c.Digest] = c
	}
	return got
}

// sameIDs fails unless the journal holds exactly the cookies want, with
// the authids given ("" = no auth).
func sameIDs(t *testing.T, got map[record.Digest]record.Cookie, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("the journal holds %d cookies, want exactly the %d delivered", len(got), len(want))
	}
	for id, authid := range want {
		c, ok := got[record.DigestOf(id)]
		if !ok {
			t.Errorf("a delivered cookie is missing from the journal")
			continue
		}
		if c.Auth.AuthID != authid {
			t.Errorf("a delivered cookie has authid %q, want %q", c.Auth.AuthID, authid)
		}
	}
}

func TestFullDiskRefusesCookiesAndLeavesNoHalfFrame(t *testing.T) {
	tests := []struct {
		name     string
		keep     func(n int) int // bytes of a write that reach the disk before ENOSPC
		truncErr error           // the journal's cut-back of the failed write fails too
		wantTorn bool            // so the reopen drops a torn tail
	}{
		{name: "nothing written", keep: func(int) int { return 0 }},
		{name: "half written, cut back", keep: func(n int) int { return n / 2 }},
		{name: "half written, cut back fails", keep: func(n int) int { return n / 2 }, truncErr: syscall.EIO, wantTorn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cookies.dat")
			fsys := newFaultFS("cookies.dat")
			ts := startServer(t, trackingConfig(3600, "always"), dir, serverOptions{opener: &node.Opener{FS: fsys}})

			delivered := map[string]string{} // cookie → authid
			var kept *wsClient
			for i := range 3 {
				c := mustDial(t, ts.wsURL(), "")
				if i == 0 {
					next, err := c.loginRotate(ts.wsURL(), c.cookie, "alice")
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					delivered[next] = "alice"
					c.cookie = next
					kept = c
					continue
				}
				delivered[c.cookie] = ""
				c.close()
			}
			size := ts.fileStore().Stats().Journal.Size

			fsys.Set(func(f *testkit.Faults) {
				f.Write = func(_ int64, n int) (int, error) { return tt.keep(n), syscall.ENOSPC }
				f.TruncateErr = tt.truncErr
			})
			for range 3 {
				mustRefuse(t, ts.wsURL(), http.StatusServiceUnavailable)
			}
			// A returning browser needs no write and still gets in; what
			// needs one is refused and the connection stays usable.
			back := mustDial(t, ts.wsURL(), kept.cookie)
			if back.hello.New || back.cookie != "" || back.hello.Auth == nil || back.hello.Auth.AuthID != "alice" {
				t.Fatalf("returning visitor on a full disk: hello %+v, cookie set %v", back.hello, back.cookie != "")
			}
			if _, err := back.loginRotate(ts.wsURL(), kept.cookie, "bob"); !isStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("rotation of a login on a full disk: %v, want 503", err)
			}
			if m, err := back.request(map[string]string{"type": "whoami"}); err != nil || m.Type != "hello" || m.Auth == nil || m.Auth.AuthID != "bob" || m.Auth.AuthProvider != "static" {
				t.Fatalf("whoami after the refused rotation: %+v %v, want bob on this connection only", m, err)
			}
			if again := mustDial(t, ts.wsURL(), kept.cookie); again.hello.Auth == nil || again.hello.Auth.AuthID != "alice" {
				t.Fatalf("the cookie after the refused rotation: %+v, want alice still", again.hello.Auth)
			}
			doc := ts.status()
			if st := doc.Services[0].Store; !doc.ReadOnly || st == nil || !st.ReadOnly || !strings.Contains(st.Error, "no space left on device") {
				t.Fatalf("status after ENOSPC: %+v %+v", doc, st)
			}
			if n := ts.metric(`cookiestore_handshakes_total{result="error"}`); n != 3 {
				t.Fatalf("%v handshakes counted as errors, want the 3 refused", n)
			}

			// The store reports the failed write when it closes.
			kept.close()
			back.close()
			if err := ts.stop(); !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, journal.ErrReadOnly) {
				t.Fatalf("Serve = %v, want the store's read-only ENOSPC error", err)
			}

			// Reopen on the real file system: no half frame is read as an
			// event, and nothing the server refused is there.
			j, err := journal.Open(path, journal.Options{}, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			rec := j.Recovery()
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.wantTorn {
				if rec.DroppedBytes == 0 || rec.Bytes != size || rec.Reason == "" {
					t.Fatalf("Recovery %+v: want the half frame cut as a torn tail at %d", rec, size)
				}
			} else if rec.DroppedBytes != 0 || rec.Bytes != size {
				t.Fatalf("Recovery %+v: want the file cut back to %d bytes, nothing to drop", rec, size)
			}
			sameIDs(t, journalState(t, path, nil), delivered)
		})
	}
}

func TestFsyncFailureTurnsTheServerReadOnly(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS("cookies.dat")
	ts := startServer(t, trackingConfig(3600, "always"), dir, serverOptions{opener: &node.Opener{FS: fsys}})

	a := mustDial(t, ts.wsURL(), "")
	next, err := a.loginRotate(ts.wsURL(), a.cookie, "alice")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	a.cookie = next
	if n := ts.metric("cookiestore_fsync_errors_total"); n != 0 {
		t.Fatalf("fsync errors before the fault: %v", n)
	}

	fsys.Datasyncs.Store(0)
	fsys.Set(func(f *testkit.Faults) { f.DatasyncErr = syscall.EIO })
	mustRefuse(t, ts.wsURL(), http.StatusServiceUnavailable)
	// Were the sync retried, it would now succeed and the store would
	// take writes again.
	fsys.Set(func(f *testkit.Faults) { f.DatasyncErr = nil })
	for range 3 {
		mustRefuse(t, ts.wsURL(), http.StatusServiceUnavailable)
	}
	if _, err := a.loginRotate(ts.wsURL(), a.cookie, "bob"); !isStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("rotation of a login on a read-only store: %v, want 503", err)
	}
	if m, err := a.logout(); err != nil || m.Type != "error" || !strings.Contains(m.Error, "logout failed") {
		t.Fatalf("logout on a read-only store: %+v %v; want an error, and the cookie kept", m, err)
	}
	// The cookie that was durable before the failure still works.
	b := mustDial(t, ts.wsURL(), a.cookie)
	if b.hello.New || b.hello.Auth == nil || b.hello.Auth.AuthID != "alice" {
		t.Fatalf("returning visitor on a read-only store: %+v", b.hello)
	}

	doc := ts.status()
	st := doc.Services[0].Store
	if !doc.ReadOnly || st == nil || !st.ReadOnly || st.SyncErrors != 1 ||
		!strings.Contains(st.Error, "fdatasync") || !strings.Contains(st.Error, "input/output error") || !strings.Contains(st.Error, "read-only") {
		t.Fatalf("status after a failed fdatasync: read_only %v, store %+v", doc.ReadOnly, st)
	}
	if n := ts.metric("cookiestore_fsync_errors_total"); n != 1 {
		t.Fatalf("cookiestore_fsync_errors_total = %v, want 1", n)
	}
	if n := ts.metric("cookiestore_store_read_only"); n != 1 {
		t.Fatalf("cookiestore_store_read_only = %v, want 1", n)
	}
	a.close()
	b.close()
	if err := ts.stop(); !errors.Is(err, journal.ErrReadOnly) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Serve = %v, want the store's read-only error", err)
	}
	if n := fsys.Datasyncs.Load(); n != 1 {
		t.Fatalf("%d fdatasyncs since the fault, want exactly the one that failed (no retry, none at close)", n)
	}
	// What was acknowledged before the failure survives it. The frame
	// whose fdatasync failed was written, so it may be on disk or not:
	// its cookie was never sent to anyone, and it carries no auth.
	got := journalState(t, filepath.Join(dir, "cookies.dat"), nil)
	if c, ok := got[record.DigestOf(a.cookie)]; !ok || c.Auth.AuthID != "alice" {
		t.Fatalf("the cookie acknowledged before the failure: %+v, present %v", c, ok)
	}
	delete(got, record.DigestOf(a.cookie))
	for _, c := range got {
		if len(got) > 1 || !c.Auth.IsZero() {
			t.Fatalf("%d cookies besides the acknowledged one (auth %+v); want at most the one whose sync failed", len(got), c.Auth)
		}
	}
}

// writeJournal creates a journal at path holding n cookies, and returns
// their IDs in order.
func writeJournal(t *testing.T, path string, n int) []string {
	t.Helper()
	st, err := filestore.Open(path, filestore.Options{Sync: journal.SyncNone, Clock: testkit.NewClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range n {
		id, err := record.NewID(nil, record.DefaultIDLength)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Create(record.Cookie{Digest: record.DigestOf(id), Created: testkit.Start(), MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestReadErrorAtOpenNamesFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.dat")
	ids := writeJournal(t, path, 50)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{5, journal.HeaderSize + 3, fi.Size() / 2, fi.Size() - 1} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			fsys := newFaultFS("cookies.dat")
			fsys.Set(func(f *testkit.Faults) { f.ReadFailAt = at })
			want := []string{path, fmt.Sprintf("offset %d", at), "input/output error"}

			o := &node.Opener{FS: fsys}
			_, err := o.Open(config.Store{Type: config.StoreFile, Filename: path, Sync: journal.SyncAlways}, nil)
			if !errors.Is(err, syscall.EIO) || !containsAll(err.Error(), want) {
				t.Fatalf("Opener.Open: %v; want EIO naming %q", err, want)
			}
			// The server refuses to start, with the config path in front.
			_, err = tryStartServer(trackingConfig(3600, "always"), dir, serverOptions{opener: &node.Opener{FS: fsys}})
			if !errors.Is(err, syscall.EIO) || !containsAll(err.Error(), append(want, "transports[0].paths.ws.cookie.store")) {
				t.Fatalf("server start: %v; want EIO naming the config path, %q", err, want)
			}
			// Nothing was cut or changed: the disk reads again, and every
			// cookie is there.
			got := journalState(t, path, nil)
			if len(got) != len(ids) {
				t.Fatalf("%d cookies after the read errors, want %d", len(got), len(ids))
			}
		})
	}
}

func TestShortWriteNamesFileAndOffset(t *testing.T) {
	tests := []struct {
		name  string
		fault func(off int64, n int) (int, error)
		want  error
	}{
		{name: "short without error", fault: func(_ int64, n int) (int, error) { return n - 3, nil }, want: io.ErrShortWrite},
		{name: "short with EIO", fault: func(_ int64, n int) (int, error) { return n / 3, syscall.EIO }, want: syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cookies.dat")
			ids := writeJournal(t, path, 5)
			fsys := newFaultFS("cookies.dat")
			o := &node.Opener{FS: fsys, Clock: testkit.NewClock().Now}
			st, err := o.Open(config.Store{Type: config.StoreFile, Filename: path, Sync: journal.SyncAlways}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			end := st.(node.FileStore).Stats().Journal.Size

			fsys.Set(func(f *testkit.Faults) { f.Write = tt.fault })
			id, _ := record.NewID(nil, record.DefaultIDLength)
			err = st.Create(record.Cookie{Digest: record.DigestOf(id), Created: testkit.Start(), MaxAge: time.Hour})
			want := []string{path, fmt.Sprintf("at offset %d", end)}
			if !errors.Is(err, tt.want) || !errors.Is(err, journal.ErrReadOnly) || !containsAll(err.Error(), want) {
				t.Fatalf("Create with a short write: %v; want %v naming %q", err, tt.want, want)
			}
			if _, ok := st.Get(record.DigestOf(id)); ok {
				t.Fatal("a cookie that was not written is in the index")
			}
			fsys.Set(func(f *testkit.Faults) { f.Write = nil })
			if err := st.Close(); !errors.Is(err, journal.ErrReadOnly) {
				t.Fatalf("Close: %v, want the read-only error", err)
			}
			got := journalState(t, path, nil)
			if len(got) != len(ids) {
				t.Fatalf("%d cookies after reopen, want the %d written before the short write", len(got), len(ids))
			}
			for _, id := range ids {
				if _, ok := got[record.DigestOf(id)]; !ok {
					t.Fatal("a cookie written before the short write is missing")
				}
			}
		})
	}
}

func containsAll(s string, subs []string) bool {
	return !slices.ContainsFunc(subs, func(sub string) bool { return !strings.Contains(s, sub) })
}
