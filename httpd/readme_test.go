package httpd_test

import (
	"os"
	"strings"
	"testing"
)

// funcSource returns the source of the top-level function name in src:
// from its "func name(" line to its closing brace at the start of a line.
func funcSource(t *testing.T, src, name string) string {
	t.Helper()
	i := strings.Index(src, "\nfunc "+name+"(")
	if i < 0 {
		t.Fatalf("no func %s", name)
	}
	j := strings.Index(src[i:], "\n}\n")
	if j < 0 {
		t.Fatalf("func %s has no closing brace at the start of a line", name)
	}
	return src[i+1 : i+j+2]
}

// The README's embedding program is Example_embed's: its run function is
// this package's, letter for letter, so that the README cannot drift from
// code that go test compiles and runs. (A test of the e2e module builds the
// README's whole program as a module of its own, with the README's
// commands.)
func TestREADMEEmbeddingIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_embed_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, program, ok := strings.Cut(string(readme), "```go\npackage main\n")
	if !ok {
		t.Fatal("the README has no Go program (a fenced block that starts with package main)")
	}
	program, _, _ = strings.Cut(program, "```")
	got, want := funcSource(t, "\n"+program, "run"), funcSource(t, string(example), "run")
	if got != want {
		t.Fatalf("the README's run differs from Example_embed's:\n--- README\n%s\n--- example_embed_test.go\n%s", got, want)
	}
}
