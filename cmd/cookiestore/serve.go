package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"cookiestore/config"
	"cookiestore/node"
)

func serveCommand() *command {
	return &command{
		name:     "serve",
		synopsis: "[--config FILE] [--dir NODEDIR] [--listen ADDR]",
		summary:  "run the tracking server",
		help: `Serve runs the cookie tracking server until it gets SIGINT or SIGTERM, then
shuts down gracefully: it closes the WebSockets with 1001 "going away", syncs
the stores and releases their locks.

Without --config it serves the built-in default: a web transport on
127.0.0.1:8080 with a page at / that shows what the server knows of your
browser, WebSocket cookie tracking at /ws (cookie and ticket login, no ticket
principals), /status and /metrics, and a file store in NODEDIR/cookies.dat.

With --config it serves a Crossbar-style config file (see 'cookiestore check').
Relative file names in it resolve against NODEDIR, which defaults to the config
file's folder, as in a Crossbar node directory.

While it runs, serve answers 'cookiestore revoke' on the control socket
NODEDIR/cookiestore.sock (mode 0600), and removes it at shutdown. A socket left
by a server that crashed is replaced; a second server on the same NODEDIR is
refused.

Logs go to stderr, as logfmt lines.`,
		exits: []exit{
			{exitOK, "a clean shutdown"},
			{exitFailure, "a runtime error: a port in use, a journal in use by another process or corrupt"},
			{exitUsage, "a bad command line, or an invalid config"},
		},
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			configFile := fs.String("config", "", "serve the config `FILE` instead of the built-in default")
			dir := fs.String("dir", "", "the node directory `NODEDIR`: where the default store lives and relative names resolve (default \""+defaultNodeDir+"\", or the config file's folder with --config)")
			listen := fs.String("listen", "", "listen on `ADDR` (host:port, e.g. 127.0.0.1:9000 or :8080) instead of the first transport's endpoint")
			return func(ctx context.Context, out *output, _ []string) error {
				return serve(ctx, out, *configFile, nodeDir(*dir, *configFile), *listen)
			}
		},
	}
}

func serve(ctx context.Context, out *output, configPath, dir, listen string) error {
	log := slog.New(slog.NewTextHandler(out.stderr, nil))
	var cfg *config.Config
	if configPath == "" {
		cfg = config.Default(dir)
	} else {
		var err error
		if cfg, err = loadConfig(out, configPath, dir); err != nil {
			return err
		}
	}
	for _, w := range cfg.Warnings {
		log.Warn("config setting has no effect", "warning", w)
	}
	for _, r := range cfg.Recommendations {
		log.Info("config recommendation", "recommendation", r)
	}
	if listen != "" {
		if err := overrideListen(cfg, listen); err != nil {
			return &usageError{cmd: "serve", msg: err.Error()}
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	n, err := node.New(cfg, node.Options{Dir: dir, Logger: log, Version: buildVersion()})
	if err != nil {
		return err
	}
	if err := n.Listen(); err != nil {
		_ = n.Close()
		return err
	}
	if err := n.Serve(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// overrideListen points the first transport at addr.
func overrideListen(cfg *config.Config, addr string) error {
	if len(cfg.Transports) == 0 {
		return errors.New("--listen: the config has no transport")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:8080 or :8080", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("--listen %q: port must be a number from 0 to 65535", addr)
	}
	ep := &cfg.Transports[0].Endpoint
	ep.Interface, ep.Port = host, port
	return nil
}
