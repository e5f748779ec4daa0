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

func TestMain(m *testing.M) {
	peers.RunChildIfAsked() // the quick run opens its stores in children: this binary again
	os.Exit(m.Run())
}

// TestQuickRun runs the whole command with -quick into a temporary folder
// and checks that the page has every table and the plot is an SVG.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a quick run takes seconds")
	}
	t.Setenv("COOKIESTORE_BENCH_DIR", t.TempDir())
	out := t.TempDir()
	saved := filepath.Join(t.TempDir(), "results.json")
	if err := run(out, true, saved, "", "", ""); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(out, peers.PageName))
	if err != nil {
		t.Fatal(err)
	}
	// Rendering the saved results again gives the same page.
	if err := run(out, true, "", saved, "", ""); err != nil {
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
	if strings.Contains(md, "## Before and after") {
		t.Error("a page without a baseline compares with one")
	}
	// The saved results as the baseline of themselves: the page compares.
	if err := run(out, true, "", saved, saved, "this build"); err != nil {
		t.Fatal(err)
	}
	if page, err := os.ReadFile(filepath.Join(out, peers.PageName)); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(string(page), "## Before and after\n\ncookiestore in this run (this build) against the baseline") {
		t.Error("the page rendered with a baseline has no before-and-after section")
	}
	if err := run(out, true, "", saved, filepath.Join(t.TempDir(), "none.json"), ""); err != nil {
		t.Errorf("a missing baseline: %v, want the page without the section", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(out, true, "", saved, bad, ""); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("a baseline that does not decode: %v, want an error that names it", err)
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
