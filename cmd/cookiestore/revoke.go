package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"cookiestore/config"
	"cookiestore/node"
)

// revokeTimeout bounds a revocation through a running server's control
// socket: the server deletes and syncs the cookies before it answers.
const revokeTimeout = time.Minute

func revokeCommand() *command {
	return &command{
		name:     "revoke",
		synopsis: "[--config FILE | --dir NODEDIR] AUTHID",
		summary:  "delete every cookie of a principal and close its connections",
		nargs:    1,
		argName:  "AUTHID",
		help: `Revoke deletes every cookie that the principal AUTHID is logged in on, in every
store of the node, and closes the connections of those cookies, and those that
logged in as AUTHID, with 4002 "revoked". It prints how many cookies and how
many connections it revoked, and the figures of each store when the node has
several. Revoking a principal that has no cookie is not an error.

When a server runs on the node directory, revoke asks it through the control
socket NODEDIR/cookiestore.sock (mode 0600), which 'cookiestore serve' creates
at start and removes at shutdown. When none runs, revoke opens the journal of
each file store itself, under its lock, and deletes there: the cookies stay
deleted when the server starts again. A journal that another process holds
while nothing answers on the socket (a server started with another --dir) is
an error. A server started with both --config FILE and --dir NODEDIR keeps its
socket in NODEDIR: while it runs, revoke with --dir NODEDIR.

The node directory is NODEDIR, or else the folder of the config FILE, or else
` + defaultNodeDir + `, as for serve. Without --config, the stores are those of the
built-in default config (NODEDIR/cookies.dat).`,
		exits: []exit{
			{exitOK, "the principal was revoked; the counts are printed"},
			{exitFailure, "an error: no such node directory, a journal in use, a store that failed"},
			{exitUsage, "a bad command line (no AUTHID, both --config and --dir), or an invalid config"},
		},
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			configFile := fs.String("config", "", "the config `FILE` of the node (its folder is the node directory)")
			dir := fs.String("dir", "", "the node directory `NODEDIR` of a node without a config file (default \""+defaultNodeDir+"\")")
			return func(ctx context.Context, out *output, args []string) error {
				if *configFile != "" && *dir != "" {
					return &usageError{cmd: "revoke", msg: "--config and --dir exclude each other: the node directory is the config file's folder"}
				}
				authid := args[0]
				if authid == "" {
					return &usageError{cmd: "revoke", msg: "AUTHID is empty"}
				}
				nodeDir := nodeDir(*dir, *configFile)
				var cfg *config.Config
				if *configFile == "" {
					cfg = config.Default(nodeDir)
				} else {
					var err error
					if cfg, err = loadConfig(out, *configFile, nodeDir); err != nil {
						return err
					}
				}
				ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
				defer cancel()
				// The stores' own messages (a torn tail cut off) are worth
				// seeing; their routine ones are not.
				log := slog.New(slog.NewTextHandler(out.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
				rep, err := node.Revoke(ctx, cfg, nodeDir, authid, &node.Opener{Logger: log})
				if err == nil || someDone(rep) {
					printRevoked(out, nodeDir, rep)
				}
				return err
			}
		},
	}
}

// someDone reports whether a store of rep did not fail: then the counts
// are worth printing beside the error.
func someDone(rep node.Report) bool {
	for _, s := range rep.Stores {
		if s.Err == nil {
			return true
		}
	}
	return false
}

// printRevoked prints the totals of a revocation, then the figures of each
// store when there are several.
func printRevoked(out *output, dir string, rep node.Report) {
	where := "in the stores, as no server runs on " + dir
	if rep.Running {
		where = "through the server running on " + dir
	}
	fmt.Fprintf(out.stdout, "revoked %q: %s, %s, %s\n", rep.AuthID,
		plural(rep.Cookies(), "cookie", "cookies"), plural(rep.Connections(), "connection", "connections"), where)
	if len(rep.Stores) < 2 {
		return
	}
	for _, s := range rep.Stores {
		kind := "no cookie store"
		if s.Store != "" {
			kind = string(s.Store) + " store"
		}
		status := plural(s.Cookies, "cookie", "cookies") + ", " + plural(s.Connections, "connection", "connections")
		if s.Err != nil {
			status += ", then failed (see the error)"
		}
		fmt.Fprintf(out.stdout, "  %s (%s): %s\n", s.Service, kind, status)
	}
}
