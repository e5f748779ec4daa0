package fuzz

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
)

// FuzzJournalOpen writes arbitrary bytes as a journal file and opens it.
//   - Open never panics, hangs or fails with anything but a bad header or
//     corruption.
//   - When Open succeeds, it has only cut the file (a torn tail), and a
//     second Open sees the same payloads and drops nothing more; Verify
//     then finds the file clean.
//   - Open leaves a file it refuses untouched. When it refuses corruption,
//     Verify agrees, Repair fixes it, and Open then succeeds with nothing
//     more to drop, keeping every frame Repair kept.
func FuzzJournalOpen(f *testing.F) {
	for _, seed := range journalSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j.dat")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := journal.Options{FS: noSyncFS()}
		first, rec, err := openAll(path, opts)
		switch {
		case err == nil:
			if len(data) > 0 {
				if b, _ := os.ReadFile(path); !bytes.Equal(b, data[:rec.Bytes]) {
					t.Fatalf("Open did more than cut the file to %d bytes", rec.Bytes)
				}
			}
		case errors.Is(err, journal.ErrBadHeader):
			unchanged(t, path, data)
			return
		case errors.Is(err, journal.ErrCorrupt):
			unchanged(t, path, data)
			v, verr := journal.Verify(path, opts)
			if verr != nil || v.OK() || v.TornTail() {
				t.Fatalf("Open said %v; Verify said %+v, %v", err, v, verr)
			}
			rep, rerr := journal.Repair(path, opts)
			if rerr != nil {
				t.Fatalf("Repair: %v", rerr)
			}
			if first, rec, err = openAll(path, opts); err != nil {
				t.Fatalf("Open after Repair: %v", err)
			}
			if rec.DroppedBytes != 0 || int64(len(first)) != rep.Frames {
				t.Fatalf("Open after Repair: %d frames, Recovery %+v; Repair reported %+v", len(first), rec, rep)
			}
		default:
			t.Fatalf("Open: %v", err)
		}

		second, rec, err := openAll(path, opts)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		if rec.DroppedBytes != 0 {
			t.Fatalf("second Open dropped %d more bytes: %s", rec.DroppedBytes, rec.Reason)
		}
		if len(first) != len(second) {
			t.Fatalf("first Open saw %d frames, second %d", len(first), len(second))
		}
		for i := range first {
			if !bytes.Equal(first[i], second[i]) {
				t.Fatalf("frame %d changed between opens", i)
			}
		}
		if v, err := journal.Verify(path, opts); err != nil || !v.OK() {
			t.Fatalf("Verify after Open: %+v, %v", v, err)
		}
	})
}

// openAll opens and closes the journal at path and returns copies of its
// payloads and what recovery did.
func openAll(path string, opts journal.Options) ([][]byte, journal.Recovery, error) {
	var got [][]byte
	j, err := journal.Open(path, opts, func(_ int, _ int64, p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	if err != nil {
		return nil, journal.Recovery{}, err
	}
	rec := j.Recovery()
	return got, rec, j.Close()
}

func unchanged(t *testing.T, path string, data []byte) {
	t.Helper()
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Fatal("Open changed a file it refused")
	}
}

// journalSeeds returns a small valid journal and damaged variants of it.
func journalSeeds(f *testing.F) [][]byte {
	path := filepath.Join(f.TempDir(), "seed.dat")
	j, err := journal.Open(path, journal.Options{Sync: journal.SyncNone}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"\x93\x01\xa3abc\xcf\x00\x00\x00\x00\x00\x00\x00\x01", "second", "third frame"} {
		if _, err := j.Append([]byte(p)); err != nil {
			f.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	second := journal.HeaderSize + journal.FrameHeaderSize + 14
	flipped := bytes.Clone(valid)
	flipped[second+journal.FrameHeaderSize] ^= 0x20
	zeroLength := append(bytes.Clone(valid[:second]), append(make([]byte, 8), valid[second:]...)...)
	hugeLength := append(bytes.Clone(valid[:second]), append([]byte{0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0}, valid[second:]...)...)
	return [][]byte{
		nil,
		valid[:journal.HeaderSize],
		valid,
		valid[:len(valid)-4],
		flipped,
		zeroLength,
		hugeLength,
		append([]byte("CKSJRNL\x00\x02\x00"), valid[10:]...),
	}
}

// noSyncFS returns the operating system's file system without fsync:
// these targets check what Open makes of the bytes, not durability, and
// each sync would cost more than the rest of an execution.
func noSyncFS() journal.FS {
	return testkit.NewFaultFS[journal.File](journal.OSFS(), testkit.Faults{NoSync: true})
}
