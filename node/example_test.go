package node_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"cookiestore/config"
	"cookiestore/node"
)

// A program runs a whole node from a config, with a file store and the
// control socket in its node directory, and revokes a principal on it as
// `cookiestore revoke` does.
func Example() {
	dir, err := os.MkdirTemp("", "node-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Parse([]byte(`{"transports": [{"type": "websocket",
		"endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 8080},
		"cookie": {"store": {"type": "file", "filename": "cookies.dat"}}}]}`), dir)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Transports[0].Endpoint.Port = 0 // any free port, for the example

	n, err := node.New(cfg, node.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err) // e.g. the journal is in use by another process
	}
	if err := n.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx) }()

	rep, err := node.Revoke(context.Background(), cfg, dir, "alice", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("through the running node: %v; %d cookies, %d connections\n", rep.Running, rep.Cookies(), rep.Connections())

	stop() // a graceful shutdown, as on SIGTERM
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, node.SocketName))
	fmt.Println("socket removed:", errors.Is(err, fs.ErrNotExist))
	// Output:
	// through the running node: true; 0 cookies, 0 connections
	// socket removed: true
}
