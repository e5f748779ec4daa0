package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"cookiestore/journal"
)

// Append two payloads, then read them back the way a program does at start:
// Open replays every frame through its visit function.
func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.dat")

	j, err := journal.Open(path, journal.Options{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []string{"hello", "world"} {
		if _, err := j.Append([]byte(p)); err != nil {
			log.Fatal(err) // not durable; the journal is now read-only
		}
	}
	if err := j.Close(); err != nil {
		log.Fatal(err)
	}

	j, err = journal.Open(path, journal.Options{}, func(_ int, off int64, payload []byte) error {
		fmt.Printf("offset %d: %s\n", off, payload)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	fmt.Println("size:", j.Size())
	// Output:
	// offset 16: hello
	// offset 29: world
	// size: 42
}

// A Reader walks the frames of a file without opening the journal, as a
// dump tool does.
func ExampleNewReader() {
	// A version 2 journal file holding the payload "hi", as bytes.
	file := []byte("CKSJRNL\x00\x02\x00\x00\x00\x23\xa0\xd5\x3d" +
		"\x02\x00\x00\x00\x59\x72\x5a\x88" + "hi")
	r, err := journal.NewReader(bytes.NewReader(file))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", r.Version()) // says how the payloads are encoded
	for {
		off, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err) // a *journal.FrameError names the bad offset
		}
		fmt.Printf("%d %q\n", off, payload)
	}
	// Output:
	// version 2
	// 16 "hi"
}

func ExampleParseSyncMode() {
	mode, err := journal.ParseSyncMode("interval")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(mode, mode == journal.SyncInterval)
	_, err = journal.ParseSyncMode("sometimes")
	fmt.Println(err)
	// Output:
	// interval true
	// journal: unknown sync mode "sometimes" (want always, interval or none)
}

// Compaction writes the live state to a new file while appends go on, then
// swaps it in.
func ExampleJournal_BeginRewrite() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(filepath.Join(dir, "events.dat"), journal.Options{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	for _, p := range []string{"set a=1", "set a=2", "set a=3"} {
		j.Append([]byte(p))
	}

	rw, err := j.BeginRewrite()
	if err != nil {
		log.Fatal(err)
	}
	defer rw.Abort()             // does nothing after a successful Commit
	j.Append([]byte("set b=1"))  // appended meanwhile: Commit copies it
	rw.Append([]byte("set a=3")) // the live state at BeginRewrite
	oldSize, newSize, err := rw.Commit()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(oldSize, "->", newSize, "bytes; Size() =", j.Size())
	// Output:
	// 76 -> 46 bytes; Size() = 46
}

// Verify tells a torn tail, which Open cuts off, from corruption, which
// needs Repair.
func ExampleVerify() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.dat")
	j, err := journal.Open(path, journal.Options{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	j.Append([]byte("first"))
	j.Append([]byte("second"))
	j.Close()

	// Damage the first frame's payload.
	b, _ := os.ReadFile(path)
	b[journal.HeaderSize+journal.FrameHeaderSize] ^= 0xff
	os.WriteFile(path, b, 0o600)

	r, err := journal.Verify(path, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok:", r.OK(), "bad offset:", r.BadOffset, "torn tail:", r.TornTail())

	_, err = journal.Open(path, journal.Options{}, nil)
	fmt.Println("open refused:", errors.Is(err, journal.ErrCorrupt))

	rep, err := journal.Repair(path, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kept", rep.Frames, "frame, dropped", rep.DroppedBytes, "bytes, backup", filepath.Base(rep.Backup))
	// Output:
	// ok: false bad offset: 16 torn tail: false
	// open refused: true
	// kept 1 frame, dropped 13 bytes, backup events.dat.bak
}
