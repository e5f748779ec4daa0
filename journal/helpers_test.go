package journal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit"
)

// testPayloads returns n distinct payloads of varied sizes.
func testPayloads(prefix string, n int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = []byte(fmt.Sprintf("%s-%03d-%s", prefix, i, strings.Repeat("x", i*7%50)))
	}
	return ps
}

// buildFile returns the bytes of a journal holding payloads, and the offset
// of each frame followed by the end of the file.
func buildFile(payloads ...[]byte) ([]byte, []int64) {
	b := appendHeader(nil, Version)
	offs := []int64{int64(len(b))}
	for _, p := range payloads {
		b = appendFrame(b, p)
		offs = append(offs, int64(len(b)))
	}
	return b, offs
}

// openT opens the journal at path and returns it with copies of the
// payloads Open visited.
func openT(t *testing.T, path string, opts Options) (*Journal, [][]byte) {
	t.Helper()
	j, got, err := openCollect(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, got
}

func openCollect(path string, opts Options) (*Journal, [][]byte, error) {
	var got [][]byte
	j, err := Open(path, opts, func(_ int, _ int64, p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	return j, got, err
}

// readAllT opens the journal at path, closes it, and returns its payloads.
func readAllT(t *testing.T, path string) ([][]byte, Recovery) {
	t.Helper()
	j, got := openT(t, path, Options{})
	rec := j.Recovery()
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return got, rec
}

func appendT(t *testing.T, j *Journal, payloads [][]byte) {
	t.Helper()
	for _, p := range payloads {
		if _, err := j.Append(p); err != nil {
			t.Fatalf("Append(%q): %v", p, err)
		}
	}
}

// writeFileT writes data as the file j.dat of a fresh folder, a journal
// as a test built it, and returns its path.
func writeFileT(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.dat")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// beginRewriteT begins a rewrite of j, or fails the test.
func beginRewriteT(t *testing.T, j *Journal) *Rewrite {
	t.Helper()
	rw, err := j.BeginRewrite()
	if err != nil {
		t.Fatalf("BeginRewrite: %v", err)
	}
	return rw
}

func samePayloads(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d payloads, want %d\ngot:  %q\nwant: %q", len(got), len(want), got, want)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("payload %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newFaultFS returns the operating system's file system with faults
// injected into the files whose base name is target ("" is all of them).
func newFaultFS(target string) *testkit.FaultFS[File] {
	return testkit.NewFaultFS[File](osFS{}, testkit.Faults{Target: target})
}

// readFile reads a journal through Reader.
func readFile(t *testing.T, path string) [][]byte {
	t.Helper()
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	r, err := NewReader(fd)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for {
		_, p, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Reader.Next: %v", err)
		}
		got = append(got, bytes.Clone(p))
	}
}
