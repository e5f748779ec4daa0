package replay

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"cookiestore/index"
	"cookiestore/internal/testkit"
	"cookiestore/internal/testkit/journaltest"
	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/record"
)

var noSync = journal.Options{Sync: journal.SyncNone}

// newIndex returns an empty index on a test clock that stays at t0.
func newIndex(t *testing.T) *index.Index {
	t.Helper()
	return index.New(index.Options{Clock: testkit.NewClock().Now})
}

// openT replays the journal at path into idx, or fails the test, and
// closes the journal when the test ends.
func openT(t *testing.T, path string, idx *index.Index) (*journal.Journal, Stats) {
	t.Helper()
	j, st, err := Open(path, idx, noSync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, st
}

// dgs returns the digests of ids, sorted.
func dgs(ids ...string) []record.Digest {
	var out []record.Digest
	for _, id := range ids {
		out = append(out, dg(id))
	}
	slices.SortFunc(out, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// liveIDs returns the digests of the live cookies of idx, sorted.
func liveIDs(idx interface {
	All() iter.Seq[record.Cookie]
}) []record.Digest {
	var ids []record.Digest
	for c := range idx.All() {
		ids = append(ids, c.Digest)
	}
	slices.SortFunc(ids, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

func TestOpen(t *testing.T) {
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthExtra: map[string]any{"tenant": "t7"}}
	single := journaltest.Events(t,
		record.Create(dg("cookie01"), t0, time.Hour),
		record.Create(dg("cookie02"), t0, time.Hour),
		record.Update(dg("cookie01"), alice),
		record.Delete(dg("cookie02"), record.ReasonUnspecified),
		record.Create(dg("expired1"), t0.Add(-2*time.Hour), time.Hour),
	)
	batch, err := AppendBatch(nil, []record.Event{
		record.Create(dg("cookie03"), t0, time.Hour),
		record.Create(dg("cookie04"), t0, time.Hour),
		record.Update(dg("cookie03"), alice),
		record.Delete(dg("cookie04"), record.ReasonUnspecified),
		record.Delete(dg("cookie02"), record.ReasonUnspecified), // already gone: still counted, changes nothing
	})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := AppendBatch(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cookies.dat")
	journaltest.Write(t, path, append(single, batch, empty, journaltest.Events(t, record.Update(dg("cookie04"), alice))[0])...)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	idx := newIndex(t)
	j, st := openT(t, path, idx)
	want := Stats{Version: journal.Version, Events: 11, Creates: 5, Updates: 3, Deletes: 3, Batches: 2, Cookies: 3, Bytes: fi.Size(), DroppedBytes: 0}
	got := st
	got.Duration = 0
	if got != want {
		t.Fatalf("stats = %+v\nwant    %+v", got, want)
	}
	if st.Duration <= 0 {
		t.Fatalf("Duration = %v", st.Duration)
	}
	if ids := liveIDs(idx); !slices.Equal(ids, dgs("cookie01", "cookie03")) {
		t.Fatalf("live cookies %v", ids)
	}
	if c, _ := idx.Get(dg("cookie03")); c.Auth.AuthID != "alice" || c.Auth.AuthExtra["tenant"] != "t7" {
		t.Fatalf("cookie03 auth = %+v", c.Auth)
	}
	if ids := idx.DigestsByAuthID("alice"); !slices.Equal(ids, dgs("cookie01", "cookie03")) {
		t.Fatalf("alice's cookies %v", ids)
	}
	// The journal is open for appends where replay left it.
	if j.Size() != fi.Size() {
		t.Fatalf("journal size %d, file %d", j.Size(), fi.Size())
	}
	if _, err := j.Append(single[0]); err != nil {
		t.Fatal(err)
	}
}

func TestOpenNewJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "cookies.dat")
	idx := newIndex(t)
	_, st := openT(t, path, idx)
	st.Duration = 0
	if want := (Stats{Version: journal.Version, Bytes: journal.HeaderSize}); st != want {
		t.Fatalf("stats = %+v, want %+v", st, want)
	}
}

func TestOpenTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	journaltest.Write(t, path, journaltest.Events(t, record.Create(dg("cookie01"), t0, time.Hour), record.Create(dg("cookie02"), t0, time.Hour))...)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A frame header that promises 100 bytes, and 10 of them: a write that a
	// crash cut short.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := append([]byte{100, 0, 0, 0, 1, 2, 3, 4}, make([]byte, 10)...)
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	idx := newIndex(t)
	_, st := openT(t, path, idx)
	if st.DroppedBytes != int64(len(torn)) || st.Bytes != fi.Size() || st.Events != 2 || st.Cookies != 2 {
		t.Fatalf("stats = %+v; want %d bytes dropped, %d kept, 2 events", st, len(torn), fi.Size())
	}
}

func TestOpenMalformedPayload(t *testing.T) {
	good := journaltest.Events(t, record.Create(dg("cookie01"), t0, time.Hour))[0]
	badBatch, err := AppendBatch(nil, []record.Event{record.Delete(dg("abcdef"), record.ReasonUnspecified)})
	if err != nil {
		t.Fatal(err)
	}
	badBatch[2]++ // the count no longer matches
	tests := []struct {
		name string
		bad  []byte
	}{
		{"unknown kind", []byte{0x92, 0x09, 0xa0}},
		{"not msgpack", []byte("hello")},
		{"batch count mismatch", badBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cookies.dat")
			offs := journaltest.Write(t, path, good, tt.bad, good)
			j, _, err := Open(path, newIndex(t), noSync)
			if err == nil {
				j.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("err = %v, want one wrapping record.ErrMalformed", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprint("offset ", offs[1])) {
				t.Fatalf("error %q does not name the file and offset %d", msg, offs[1])
			}
			// The journal was released: it opens again.
			j, err = journal.Open(path, noSync, nil)
			if err != nil {
				t.Fatalf("journal still held after a failed replay: %v", err)
			}
			j.Close()
		})
	}
}

// TestOpenLeavesNoGoroutine checks that the applier goroutine ends with
// Open, whether the replay succeeds or fails.
func TestOpenLeavesNoGoroutine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.dat")
	bad := filepath.Join(dir, "bad.dat")
	journaltest.Write(t, good, journaltest.Events(t, record.Create(dg("cookie01"), t0, time.Hour))...)
	journaltest.Write(t, bad, []byte("not an event"))
	before := runtime.NumGoroutine()
	for range 20 {
		j, _, err := Open(good, newIndex(t), noSync)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Open(bad, newIndex(t), noSync); err == nil {
			t.Fatal("Open of a malformed journal succeeded")
		}
	}
	for range 100 {
		if runtime.NumGoroutine() < before+5 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutines after 40 replays, %d before", runtime.NumGoroutine(), before)
}

func TestOpenCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	offs := journaltest.Write(t, path, journaltest.Events(t, record.Create(dg("cookie01"), t0, time.Hour), record.Create(dg("cookie02"), t0, time.Hour), record.Create(dg("cookie03"), t0, time.Hour))...)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, offs[1]+10); err != nil { // inside the second payload
		t.Fatal(err)
	}
	f.Close()
	_, _, err = Open(path, newIndex(t), noSync)
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	j, _, err := Open(path, newIndex(t), noSync)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, _, err := Open(path, newIndex(t), noSync); !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
}

func TestSizeHint(t *testing.T) {
	tests := []struct {
		name string
		rest int64
		s    sample
		want index.Size
	}{
		{"empty journal", 0, sample{}, index.Size{}},
		{"nothing in the sample", 1000, sample{}, index.Size{}},
		{"creates", 53_000_000, sample{bytes: 5300, cookies: 100}, index.Size{Cookies: 1_000_000}},
		{"creates and logins", 138_000_000, sample{bytes: 13_800, cookies: 100, logins: 100, extraBytes: 2000},
			index.Size{Cookies: 1_000_000, Logins: 1_000_000, ExtraBytes: 20_000_000}},
		{"more deletes than creates", 1 << 20, sample{bytes: 1000, cookies: -3}, index.Size{}},
		{"huge file", 1 << 50, sample{bytes: 53, cookies: 1}, index.Size{Cookies: maxSizeHint}},
		{"more cookies than the file can hold", 1600, sample{bytes: 10, cookies: 1000, logins: 1000}, index.Size{Cookies: 100, Logins: 100}},
	}
	for _, tt := range tests {
		if got := sizeHint(tt.rest, tt.s); got != tt.want {
			t.Errorf("%s: sizeHint = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestReplayMatchesCalls drives a Store through its methods, journals the
// events the calls stand for, mixed as single frames and batches, and
// checks that replaying the journal yields the same live cookies.
func TestReplayMatchesCalls(t *testing.T) {
	clk := testkit.NewClock()
	live := memstore.New(memstore.Options{Clock: clk.Now, JanitorInterval: -1})
	defer live.Close()
	var events []record.Event
	for i := range 3000 {
		id := fmt.Sprintf("cookie%03d", i%500)
		switch i % 7 {
		case 0, 1, 2:
			if live.Create(record.Cookie{Digest: dg(id), Created: clk.Now(), MaxAge: time.Duration(1+i%50) * time.Minute}) == nil {
				events = append(events, record.Create(dg(id), clk.Now(), time.Duration(1+i%50)*time.Minute))
			}
		case 3, 4:
			a := record.Auth{AuthID: fmt.Sprint("user", i%5), AuthExtra: map[string]any{"i": int64(i)}}
			if live.SetAuth(dg(id), a) == nil {
				events = append(events, record.Update(dg(id), a))
			}
		case 5:
			if live.Delete(dg(id), record.ReasonLogout) == nil {
				events = append(events, record.Delete(dg(id), record.ReasonUnspecified))
			}
		case 6:
			ids, _ := live.DeleteByAuthID(fmt.Sprint("user", i%5))
			for _, d := range ids {
				events = append(events, record.Delete(d, record.ReasonRevoke))
			}
			clk.Add(time.Minute)
		}
	}
	var payloads [][]byte
	for i := 0; i < len(events); {
		if i%3 == 0 {
			n := min(len(events)-i, 1+i%200)
			p, err := AppendBatch(nil, events[i:i+n])
			if err != nil {
				t.Fatal(err)
			}
			payloads = append(payloads, p)
			i += n
			continue
		}
		payloads = append(payloads, journaltest.Events(t, events[i])...)
		i++
	}
	path := filepath.Join(t.TempDir(), "cookies.dat")
	journaltest.Write(t, path, payloads...)
	idx := index.New(index.Options{Clock: clk.Now})
	_, st := openT(t, path, idx)
	if st.Events != int64(len(events)) || st.Creates+st.Updates+st.Deletes+st.States != st.Events {
		t.Fatalf("stats %+v for %d events", st, len(events))
	}
	want, got := liveIDs(live), liveIDs(idx)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("replayed %d live cookies, want %d", len(got), len(want))
	}
	for _, id := range want {
		a, _ := live.Get(id)
		b, _ := idx.Get(id)
		if !a.Created.Equal(b.Created) || a.MaxAge != b.MaxAge || a.Auth.AuthID != b.Auth.AuthID || a.Auth.AuthExtra["i"] != b.Auth.AuthExtra["i"] {
			t.Fatalf("%s: replayed %+v, want %+v", id, b, a)
		}
	}
}
