package journal

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildFileVersion is buildFile with a header of the given version.
func buildFileVersion(version int, payloads ...[]byte) ([]byte, []int64) {
	b, offs := buildFile(payloads...)
	copy(b, appendHeader(nil, version))
	return b, offs
}

// writeVersion1 writes a version 1 file of payloads into a fresh folder
// and returns its path.
func writeVersion1(t *testing.T, payloads ...[]byte) string {
	t.Helper()
	file, _ := buildFileVersion(1, payloads...)
	return writeFileT(t, file)
}

// fileVersion returns the version field of the header of the file at path.
func fileVersion(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < HeaderSize {
		t.Fatalf("%s is %d bytes, shorter than a header", path, len(b))
	}
	return int(binary.LittleEndian.Uint16(b[8:]))
}

func TestNewFilesAreTheCurrentVersion(t *testing.T) {
	if Version != 2 || MinVersion != 1 {
		t.Fatalf("Version %d, MinVersion %d: this test, the package comment and docs/FORMAT.md say 2 and 1", Version, MinVersion)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.dat") // a creation cut short
	os.WriteFile(empty, nil, 0o600)
	for _, path := range []string{filepath.Join(dir, "new.dat"), empty} {
		j, _ := openT(t, path, Options{})
		if rec := j.Recovery(); !rec.Created || rec.Version != Version || j.Version() != Version {
			t.Fatalf("%s: Recovery %+v, Version() %d; want created, version %d", path, rec, j.Version(), Version)
		}
		j.Close()
		if v := fileVersion(t, path); v != Version {
			t.Fatalf("%s: header says version %d, want %d", path, v, Version)
		}
	}
}

// TestVersion1Appends: a version 1 file opens, and appending to it keeps
// it a version 1 file, since its payloads are in version 1's encoding.
func TestVersion1Appends(t *testing.T) {
	payloads := testPayloads("v1", 3)
	path := writeVersion1(t, payloads...)

	j, got := openT(t, path, Options{})
	samePayloads(t, got, payloads)
	if rec := j.Recovery(); rec.Version != 1 || rec.Created || j.Version() != 1 {
		t.Fatalf("Recovery %+v, Version() %d; want version 1", rec, j.Version())
	}
	more := testPayloads("more", 2)
	appendT(t, j, more)
	if j.Version() != 1 {
		t.Fatalf("Version() = %d after appends, want 1", j.Version())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if v := fileVersion(t, path); v != 1 {
		t.Fatalf("header says version %d after appends, want 1", v)
	}
	all, rec := readAllT(t, path)
	samePayloads(t, all, append(payloads, more...))
	if rec.Version != 1 {
		t.Fatalf("reopened: Recovery %+v, want version 1", rec)
	}
}

// TestRewriteUpgrades: a committed rewrite of a version 1 file is a
// version 2 file, and the journal goes on appending to it as one.
func TestRewriteUpgrades(t *testing.T) {
	path := writeVersion1(t, testPayloads("old", 4)...)
	j, _ := openT(t, path, Options{})
	defer j.Close()

	rw := beginRewriteT(t, j)
	state := [][]byte{[]byte("state in version 2")}
	for _, p := range state {
		if err := rw.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	if j.Version() != 1 {
		t.Fatalf("Version() = %d before Commit, want 1", j.Version())
	}
	if _, _, err := rw.Commit(); err != nil {
		t.Fatal(err)
	}
	if j.Version() != Version {
		t.Fatalf("Version() = %d after Commit, want %d", j.Version(), Version)
	}
	if v := fileVersion(t, path); v != Version {
		t.Fatalf("header says version %d after Commit, want %d", v, Version)
	}
	after := []byte("appended in version 2")
	appendT(t, j, [][]byte{after})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, rec := readAllT(t, path)
	samePayloads(t, got, append(state, after))
	if rec.Version != Version {
		t.Fatalf("reopened: Recovery %+v, want version %d", rec, Version)
	}
}

// TestUpgradeRefusesAppendedFrames: Commit copies the frames appended
// since BeginRewrite as they are, so a rewrite that changes the version
// must not carry them: they would be version 1 payloads in a version 2
// file. Commit fails, and the journal goes on with its old file, whole.
func TestUpgradeRefusesAppendedFrames(t *testing.T) {
	payloads := testPayloads("old", 3)
	path := writeVersion1(t, payloads...)
	j, _ := openT(t, path, Options{})
	defer j.Close()

	rw := beginRewriteT(t, j)
	if err := rw.Append([]byte("state")); err != nil {
		t.Fatal(err)
	}
	during := []byte("appended during the rewrite")
	appendT(t, j, [][]byte{during})
	_, _, err := rw.Commit()
	if err == nil || !strings.Contains(err.Error(), "from format version 1 to 2") {
		t.Fatalf("Commit = %v, want a refusal naming the versions", err)
	}
	if j.Version() != 1 || j.Err() != nil {
		t.Fatalf("after the refused Commit: Version() %d, Err() %v; want 1 and a writable journal", j.Version(), j.Err())
	}
	if names := tempFiles(t, path); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
	last := []byte("appended after")
	appendT(t, j, [][]byte{last})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, rec := readAllT(t, path)
	samePayloads(t, got, append(payloads, during, last))
	if rec.Version != 1 {
		t.Fatalf("reopened: Recovery %+v, want version 1", rec)
	}
}

// TestToolsReportVersion: Verify and Reader report the version in the
// header, and Repair keeps it.
func TestToolsReportVersion(t *testing.T) {
	payloads := testPayloads("ev", 4)
	for _, version := range []int{1, 2} {
		file, offs := buildFileVersion(version, payloads...)
		path := writeFileT(t, file)

		r, err := NewReader(bytes.NewReader(file))
		if err != nil || r.Version() != version {
			t.Fatalf("version %d: NewReader: Version() %v, %v", version, r.Version(), err)
		}
		if rep, err := Verify(path, Options{}); err != nil || rep.Version != version || !rep.OK() {
			t.Fatalf("version %d: Verify = %+v, %v", version, rep, err)
		}

		corrupt := bytes.Clone(file)
		corrupt[offs[1]+FrameHeaderSize] ^= 0xff
		os.WriteFile(path, corrupt, 0o600)
		if rep, err := Verify(path, Options{}); err != nil || rep.Version != version || rep.OK() {
			t.Fatalf("version %d, corrupt: Verify = %+v, %v", version, rep, err)
		}
		rep, err := Repair(path, Options{})
		if err != nil || len(rep.Dropped) != 1 {
			t.Fatalf("version %d: Repair = %+v, %v", version, rep, err)
		}
		if v := fileVersion(t, path); v != version {
			t.Fatalf("version %d: header says version %d after Repair", version, v)
		}
		got, rec := readAllT(t, path)
		samePayloads(t, got, [][]byte{payloads[0], payloads[2], payloads[3]})
		if rec.Version != version {
			t.Fatalf("version %d: reopened after Repair: Recovery %+v", version, rec)
		}
	}
}
