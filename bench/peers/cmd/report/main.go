// Command report measures cookiestore, bbolt and pebble on the same workload
// and the limits of the machine, and writes the results page BENCHMARKS.md
// and the plot append.svg:
//
//	cd bench/peers && go run ./cmd/report [-out ../../docs] [-quick] [-save results.json]
//
// With -load results.json it measures nothing and renders the page and the
// plot again from saved results, after a change to their wording.
//
// The page compares cookiestore's figures with those of a baseline, results
// saved with -save on the build before a change: baseline.json beside the
// command unless -baseline names another file (or "" for none). -label names
// the build measured, on the page and in saved results.
//
// Every open is timed in a fresh process: the command runs itself again as
// a child (see peers.ChildEnv).
//
// The stores work in fresh folders under the system's temporary folder, or
// under $COOKIESTORE_BENCH_DIR when it is set; the page names the file
// system they were on. Progress goes to stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"cookiestore/bench/peers"
)

func main() {
	peers.RunChildIfAsked()
	out := flag.String("out", "../../docs", "folder to write "+peers.PageName+" and "+peers.PlotName+" into")
	quick := flag.Bool("quick", false, "a seconds-long smoke run with tiny sizes (figures are meaningless)")
	save := flag.String("save", "", "also write the raw results as JSON to this file")
	load := flag.String("load", "", "measure nothing: render the page and the plot from results saved with -save")
	baseline := flag.String("baseline", peers.BaselineName, "results saved with -save on the build before, to compare with; \"\" for none")
	label := flag.String("label", "", "a name for the build measured, on the page and in saved results")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "report: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := run(*out, *quick, *save, *load, *baseline, *label); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		os.Exit(1)
	}
}

func run(out string, quick bool, save, load, baseline, label string) error {
	var base *peers.Results
	if baseline != "" {
		var err error
		if base, err = peers.LoadResults(baseline); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "report: no baseline %s: the page has no before-and-after section\n", baseline)
		} else if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	if load != "" {
		res, err := peers.LoadResults(load)
		if err != nil {
			return err
		}
		if base != nil {
			res.Baseline = base
		}
		if label != "" {
			res.Label = label
		}
		return write(out, res)
	}
	root := os.Getenv("COOKIESTORE_BENCH_DIR")
	if root == "" {
		root = os.TempDir()
	}
	dir, err := os.MkdirTemp(root, "cookiestore-peers-")
	if err != nil {
		return fmt.Errorf("make the benchmark folder: %w", err)
	}
	defer os.RemoveAll(dir)
	set := peers.DefaultSettings(dir)
	if quick {
		set = peers.QuickSettings(dir)
		set.Progress = os.Stderr
	}
	res, err := peers.NewRunner(set, peers.Engines()).Run()
	if err != nil {
		return err
	}
	res.Label = label
	if save != "" {
		if err := peers.SaveResults(save, res); err != nil {
			return err
		}
	}
	res.Baseline = base
	return write(out, res)
}

func write(out string, res *peers.Results) error {
	if err := peers.WriteReport(out, res); err != nil {
		return fmt.Errorf("write the results into %s: %w", out, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s/%s and %s/%s\n", out, peers.PageName, out, peers.PlotName)
	return nil
}
