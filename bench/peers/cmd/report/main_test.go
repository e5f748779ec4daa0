package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cookiestore/bench/peers"
)

// TestQuickRun runs the whole command with -quick into a temporary folder
// and checks that the page has every table and the plot is an SVG.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a quick run takes seconds")
	}
	t.Setenv("COOKIESTORE_BENCH_DIR", t.TempDir())
	out := t.TempDir()
	saved := filepath.Join(t.TempDir(), "results.json")
	if err := run(out, true, saved, ""); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(out, peers.PageName))
	if err != nil {
		t.Fatal(err)
	}
	// Rendering the saved results again gives the same page.
	if err := run(out, true, "", saved); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, peers.PageName))
	if err != nil {
		t.Fatal(err)
	}
	md := string(page)
	if md != string(first) {
		t.Error("the page rendered from the saved results differs from the measured run's")
	}
	for _, s := range []string{
		"## Machine\n", "## Machine limits", "## Appends, durable", "## Appends, not durable", "## Ceiling fractions",
		"## Open, get and memory", "## Bytes on disk per live cookie", "## Where cookiestore loses", peers.SoakBegin, peers.SoakEnd,
	} {
		if !strings.Contains(md, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	for _, e := range peers.Engines() {
		if !strings.Contains(md, "| "+e.Name+" |") && !strings.Contains(md, " "+e.Name+" |") {
			t.Errorf("the page has no column or row for %s", e.Name)
		}
	}
	if entries, err := os.ReadDir(os.Getenv("COOKIESTORE_BENCH_DIR")); err != nil || len(entries) != 0 {
		t.Errorf("the run left %d entries in the benchmark folder (%v)", len(entries), err)
	}
	svg, err := os.ReadFile(filepath.Join(out, peers.PlotName))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the plot is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("the plot's root element is %q, want svg", root)
	}
}
