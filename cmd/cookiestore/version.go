package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
)

func versionCommand() *command {
	return &command{
		name:     "version",
		synopsis: "",
		summary:  "print the version of this build",
		help: `Version prints the version of this build on one line, as the server's /status
reports it: the module version that the Go toolchain stamped into the binary
(a tag, or a pseudo-version of the commit it was built from), or "(devel)".`,
		exits: []exit{
			{exitOK, "success"},
			{exitUsage, "a bad command line"},
		},
		setup: func(*flag.FlagSet) func(context.Context, *output, []string) error {
			return func(_ context.Context, out *output, _ []string) error {
				_, err := fmt.Fprintf(out.stdout, "cookiestore %s\n", buildVersion())
				return err
			}
		},
	}
}

// buildVersion is the version of this build, which serve hands to the
// server for /status, so that the two always agree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
