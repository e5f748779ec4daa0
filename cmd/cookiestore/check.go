package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"cookiestore/config"
)

func checkCommand() *command {
	return &command{
		name:     "check",
		synopsis: "--config FILE [--dir NODEDIR]",
		summary:  "validate a config file",
		help: `Check parses and validates a config file (Crossbar's JSON shape: a node config
with workers[].transports, or a bare {"transports": [...]}) exactly as serve
would, including the existence of static folders and TLS key files. It prints
every problem on its own line, each naming the JSON path of the bad value, e.g.

  config.json: transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3

Crossbar settings that are accepted but have no effect are printed as warnings,
and safer settings the config could use (a __Host- cookie name on a TLS
endpoint) as recommendations. Neither makes the config invalid.`,
		exits: []exit{
			{exitOK, "the config is valid (warnings do not count)"},
			{exitFailure, "the file cannot be read"},
			{exitUsage, "the config is invalid, or a bad command line"},
		},
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			configFile := fs.String("config", "", "the config `FILE` to check (required)")
			dir := fs.String("dir", "", "the node directory `NODEDIR` against which relative file names resolve (default: the config file's folder)")
			return func(_ context.Context, out *output, _ []string) error {
				if *configFile == "" {
					return &usageError{cmd: "check", msg: "--config FILE is required"}
				}
				cfg, err := loadConfig(out, *configFile, nodeDir(*dir, *configFile))
				if err != nil {
					return err
				}
				for _, w := range cfg.Warnings {
					fmt.Fprintf(out.stderr, "%s: warning: %s\n", *configFile, w)
				}
				for _, r := range cfg.Recommendations {
					fmt.Fprintf(out.stderr, "%s: recommendation: %s\n", *configFile, r)
				}
				fmt.Fprintf(out.stdout, "%s: ok, %s\n", *configFile, plural(len(cfg.Transports), "transport", "transports"))
				return nil
			}
		},
	}
}

// defaultNodeDir is the node directory of `serve` without a config: the
// built-in store goes to .cookiestore/cookies.dat.
const defaultNodeDir = ".cookiestore"

// nodeDir is the folder against which a config's relative file names
// resolve: --dir if given, else the config file's own folder (a Crossbar
// node keeps config.json and cookies.dat side by side in .crossbar/), else
// the default node directory.
func nodeDir(dirFlag, configPath string) string {
	switch {
	case dirFlag != "":
		return dirFlag
	case configPath != "":
		return filepath.Dir(configPath)
	default:
		return defaultNodeDir
	}
}

// loadConfig reads the config at path. An invalid config prints one line
// per problem and exits 2, for check and serve alike.
func loadConfig(out *output, path, dir string) (*config.Config, error) {
	cfg, err := config.Load(path, dir)
	var problems config.Errors
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(out.stderr, p.Error())
		}
		return nil, &exitError{code: exitUsage}
	}
	return cfg, err
}
