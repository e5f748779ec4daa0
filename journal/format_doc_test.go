package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cookiestore/internal/testkit"
)

// The package comment is the specification of the file; docs/FORMAT.md
// shows it by example. These tests decode the examples in both with the
// package, so that neither can drift from the code.

const formatDoc = testkit.FormatDoc

// tableRows returns the cells of the rows of the first Markdown table in
// text, without the header and separator rows.
func tableRows(text string) [][]string {
	var rows [][]string
	in := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		in = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		return nil
	}
	return rows[2:]
}

// hexBytes decodes "`43 4b 53`" to its bytes.
func hexBytes(t *testing.T, cell string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Trim(cell, "`"), " ", ""))
	if err != nil {
		t.Fatalf("%s: %q is not hex bytes", formatDoc, cell)
	}
	return b
}

var (
	firstNumber = regexp.MustCompile(`\d+`)
	firstCode   = regexp.MustCompile("`[^`]*`")
	hexNumber   = regexp.MustCompile(`0x[0-9a-fA-F]{8}`)
	lengthClaim = regexp.MustCompile(`frame length (\d+)`)
	versionSaid = regexp.MustCompile(`^version (\d+)`)
)

func TestFormatDocConstants(t *testing.T) {
	_, rest, ok := strings.Cut(testkit.ReadDoc(t, formatDoc), "\n### Constants\n")
	if !ok {
		t.Fatalf("%s has no section Constants", formatDoc)
	}
	want := map[string]int{
		"HeaderSize":      HeaderSize,
		"FrameHeaderSize": FrameHeaderSize,
		"MaxFrameSize":    MaxFrameSize,
		"Version":         Version,
		"MinVersion":      MinVersion,
	}
	seen := map[string]bool{}
	for _, row := range tableRows(rest) {
		if len(row) != 3 {
			t.Fatalf("%s, Constants: row %q does not have 3 cells", formatDoc, row)
		}
		name := strings.Trim(row[2], "`")
		seen[name] = true
		if name == "Magic" {
			if got := hexBytes(t, firstCode.FindString(row[1])); string(got) != Magic {
				t.Errorf("%s says the magic is % x; the code says % x", formatDoc, got, Magic)
			}
			continue
		}
		v, ok := want[name]
		if !ok {
			t.Errorf("%s, Constants: unknown name %q", formatDoc, name)
			continue
		}
		if got, _ := strconv.Atoi(firstNumber.FindString(row[1])); got != v {
			t.Errorf("%s says %s is %q; the code says %d", formatDoc, name, row[1], v)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s, Constants: %s is missing", formatDoc, name)
		}
	}
	if !seen["Magic"] {
		t.Errorf("%s, Constants: Magic is missing", formatDoc)
	}
}

// TestFormatDocExample decodes the worked example with NewReader and
// checks every row of the table that explains it.
func TestFormatDocExample(t *testing.T) {
	doc := testkit.ReadDoc(t, formatDoc)
	file, after := testkit.DocExample(t, doc, "a version 2 journal holding the payloads `hello` and `world`.")

	if !bytes.Equal(file[:HeaderSize], appendHeader(nil, 2)) {
		t.Fatalf("the example's header is % x; a version 2 header is % x", file[:HeaderSize], appendHeader(nil, 2))
	}
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("NewReader of the example: %v", err)
	}
	if r.Version() != 2 {
		t.Fatalf("the example is version %d, want 2", r.Version())
	}
	var payloads []string
	for {
		off, p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the example's frames: %v", err)
		}
		frame := file[off : off+FrameHeaderSize+int64(len(p))]
		if reason := checkFrame(frame); reason != "" {
			t.Fatalf("frame at %d: %s", off, reason)
		}
		if enc := appendFrame(nil, p); !bytes.Equal(enc, frame) {
			t.Fatalf("frame at %d is % x; the code encodes its payload as % x", off, frame, enc)
		}
		payloads = append(payloads, string(p))
	}
	if fmt.Sprint(payloads) != "[hello world]" {
		t.Fatalf("the example holds %q, want hello and world", payloads)
	}

	// The table: each row's bytes are the file's at its offset, rows
	// cover the file, and the numbers it states are the bytes'.
	rows := tableRows(after)
	if len(rows) == 0 {
		t.Fatalf("%s: no table after the example", formatDoc)
	}
	next := 0
	for _, row := range rows {
		off, err := strconv.Atoi(row[0])
		if err != nil || off != next {
			t.Fatalf("%s, example table: row %q at offset %q, want %d", formatDoc, row, row[0], next)
		}
		if row[1] == "" {
			if off != len(file) {
				t.Fatalf("%s, example table: the file ends at %d, not %d", formatDoc, len(file), off)
			}
			next = -1
			break
		}
		b := hexBytes(t, row[1])
		if off+len(b) > len(file) || !bytes.Equal(file[off:off+len(b)], b) {
			t.Fatalf("%s, example table: row %q; the file holds other bytes there", formatDoc, row)
		}
		if m := hexNumber.FindString(row[2]); m != "" {
			if v, _ := strconv.ParseUint(m[2:], 16, 32); len(b) != 4 || uint32(v) != binary.LittleEndian.Uint32(b) {
				t.Errorf("%s, example table: %q says %s; the bytes are % x", formatDoc, row[2], m, b)
			}
		}
		if m := lengthClaim.FindStringSubmatch(row[2]); m != nil {
			if v, _ := strconv.Atoi(m[1]); len(b) != 4 || uint32(v) != binary.LittleEndian.Uint32(b) {
				t.Errorf("%s, example table: %q; the bytes are % x", formatDoc, row[2], b)
			}
		}
		if m := versionSaid.FindStringSubmatch(row[2]); m != nil {
			if v, _ := strconv.Atoi(m[1]); len(b) != 2 || uint16(v) != binary.LittleEndian.Uint16(b) {
				t.Errorf("%s, example table: %q; the bytes are % x", formatDoc, row[2], b)
			}
		}
		next = off + len(b)
	}
	if next != -1 {
		t.Fatalf("%s, example table: no row for the end of the file", formatDoc)
	}

	v1, _ := testkit.DocExample(t, doc, "the version 1 header.")
	if !bytes.Equal(v1, appendHeader(nil, 1)) {
		t.Fatalf("%s's version 1 header is % x; the code writes % x", formatDoc, v1, appendHeader(nil, 1))
	}
	if r, err := NewReader(bytes.NewReader(v1)); err != nil || r.Version() != 1 {
		t.Fatalf("NewReader of the version 1 header: %v", err)
	}
}

// TestFormatDocExampleRecovery checks what the doc says Open does with the
// example cut short or damaged.
func TestFormatDocExampleRecovery(t *testing.T) {
	doc := testkit.ReadDoc(t, formatDoc)
	file, after := testkit.DocExample(t, doc, "a version 2 journal holding the payloads `hello` and `world`.")
	prose := strings.Join(strings.Fields(after), " ")
	claim := func(re string) []int {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(prose)
		if m == nil {
			t.Fatalf("%s: the example's text no longer says %q", formatDoc, re)
		}
		var n []int
		for _, s := range m[1:] {
			v, _ := strconv.Atoi(s)
			n = append(n, v)
		}
		return n
	}
	dir := t.TempDir()
	open := func(data []byte) (Recovery, error) {
		path := filepath.Join(dir, "example.dat")
		os.WriteFile(path, data, 0o600)
		j, err := Open(path, Options{Sync: SyncNone}, nil)
		if err != nil {
			return Recovery{}, err
		}
		return j.Recovery(), j.Close()
	}
	flip := func(i int) []byte {
		b := bytes.Clone(file)
		b[i] ^= 0xff
		return b
	}

	cut := claim(`Cut this file anywhere from byte (\d+) to byte (\d+) and Open drops the partial second frame as a torn tail, keeping the first`)
	for n := cut[0]; n <= cut[1]; n++ {
		if rec, err := open(file[:n]); err != nil || rec.Frames != 1 || rec.DroppedBytes == 0 {
			t.Errorf("cut to %d bytes: Recovery %+v, %v; want the first frame kept and a torn tail dropped", n, rec, err)
		}
	}
	second := claim(`Change any byte from (\d+) to (\d+) and the second frame is bad; as nothing valid follows, that too is a torn tail`)
	for i := second[0]; i <= second[1]; i++ {
		if rec, err := open(flip(i)); err != nil || rec.Frames != 1 || rec.DroppedBytes == 0 {
			t.Errorf("byte %d changed: Recovery %+v, %v; want a torn tail after the first frame", i, rec, err)
		}
	}
	first := claim(`Change any byte from (\d+) to (\d+) and the first frame is bad with a valid frame after it: corruption at offset (\d+)`)
	for i := first[0]; i <= first[1]; i++ {
		var ce *CorruptError
		if _, err := open(flip(i)); !errors.As(err, &ce) || ce.Offset != int64(first[2]) {
			t.Errorf("byte %d changed: %v; want corruption at offset %d", i, err, first[2])
		}
	}
}

// TestPackageDocHeaders checks the headers and the check value that the
// package comment spells out.
func TestPackageDocHeaders(t *testing.T) {
	doc := testkit.ReadDoc(t, "doc.go")
	for v := MinVersion; v <= Version; v++ {
		h := appendHeader(nil, v)
		want := fmt.Sprintf("version %d: % x  % x  % x  % x", v, h[:8], h[8:10], h[10:12], h[12:16])
		if !strings.Contains(doc, want) {
			t.Errorf("doc.go does not spell the version %d header as %q", v, want)
		}
	}
	if sum := crc32.Checksum([]byte("123456789"), castagnoli); sum != 0xE3069283 || !strings.Contains(doc, `"123456789" is 0xE3069283`) {
		t.Errorf("the CRC-32C check value is %#08X; doc.go must say so", sum)
	}
}
