package testkit

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FormatDoc is docs/FORMAT.md from a package folder of this repository,
// where tests run.
const FormatDoc = "../docs/FORMAT.md"

// ReadDoc returns the text of the file at path.
func ReadDoc(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// DocExample returns the bytes of the hex dump, in the layout of hexdump -C
// and Go's hex.Dump, in the fenced block that follows the line
// "Example: " + title in doc, and the text after the block. The packages
// that own a format decode the examples of docs/FORMAT.md with it, so that
// the page cannot drift from the code.
func DocExample(t testing.TB, doc, title string) ([]byte, string) {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\nExample: "+title)
	if !ok {
		t.Fatalf("the format doc has no line %q", "Example: "+title)
	}
	_, rest, ok = strings.Cut(rest, "\n```\n")
	block, after, ok2 := strings.Cut(rest, "\n```\n")
	if !ok || !ok2 {
		t.Fatalf("the format doc: no fenced block after %q", "Example: "+title)
	}
	var b []byte
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "|") // the ASCII column
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		off, err := strconv.ParseInt(fields[0], 16, 64)
		if err != nil || off != int64(len(b)) {
			t.Fatalf("the format doc, example %q: line %q starts at %q, want offset %08x", title, line, fields[0], len(b))
		}
		for _, f := range fields[1:] {
			x, err := hex.DecodeString(f)
			if err != nil || len(x) != 1 {
				t.Fatalf("the format doc, example %q: %q is not a hex byte", title, f)
			}
			b = append(b, x[0])
		}
	}
	return b, after
}
