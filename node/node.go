package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/journal"
)

// Options configure New. The zero value serves the config on the real
// clock, logs to slog.Default() and opens no control socket.
type Options struct {
	// Dir is the node directory. The node keeps its control socket there,
	// Dir/cookiestore.sock, so that `cookiestore revoke` reaches it. ""
	// means no control socket. (Relative names in the config were resolved
	// against a node directory by config.Load; give the same one here.)
	Dir string
	// Logger receives the server's and the stores' messages; nil =
	// slog.Default().
	Logger *slog.Logger
	// Clock is the time of the server and of every store alike; nil =
	// time.Now.
	Clock func() time.Time
	// Version is what /status reports; "" = the module version of the
	// build.
	Version string
	// Hooks are called on connect, auth and close on every WebSocket
	// service (all optional).
	Hooks httpd.Hooks
	// FS is the file layer of the file stores; nil = the operating system.
	FS journal.FS
	// CompactMinBytes is the journal size below which a file store never
	// compacts by itself; 0 = the filestore default (4 MiB), < 0 = never.
	CompactMinBytes int64
}

// Node is a running cookiestore node: the server of a config, its stores,
// and its control socket.
type Node struct {
	srv *httpd.Server
	log *slog.Logger
	dir string

	mu  sync.Mutex
	ctl *control // the control socket, between Listen and shutdown
	// ctlTimeout is how long the control socket waits for a request;
	// 0 = controlTimeout. Tests shorten it.
	ctlTimeout time.Duration
}

// New opens every store that cfg names and builds its server, ready to
// Listen and Serve. It opens no socket yet. On error, the stores opened so
// far are closed again; a journal that another process holds is an error
// wrapping journal.ErrLocked, and a store type that this build cannot open
// one wrapping ErrNotSupported.
func New(cfg *config.Config, opts Options) (*Node, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	stores := &Opener{Logger: log, Clock: opts.Clock, FS: opts.FS, CompactMinBytes: opts.CompactMinBytes, Dir: opts.Dir}
	srv, err := httpd.New(cfg, httpd.Options{
		Logger:    log,
		Clock:     opts.Clock,
		OpenStore: stores.Open,
		Hooks:     opts.Hooks,
		Version:   opts.Version,
	})
	if err != nil {
		return nil, err
	}
	return &Node{srv: srv, log: log, dir: opts.Dir}, nil
}

// Server returns the node's HTTP server, for its addresses and figures.
func (n *Node) Server() *httpd.Server { return n.srv }

// Addrs returns the bound address of every transport, in config order,
// after Listen.
func (n *Node) Addrs() []net.Addr { return n.srv.Addrs() }

// SocketPath returns the path of the control socket, or "" when the node
// has no node directory.
func (n *Node) SocketPath() string {
	if n.dir == "" {
		return ""
	}
	return socketPath(n.dir)
}

// Listen opens the control socket, then binds the endpoint of every
// transport. A node directory whose socket another running node holds is
// an error, and so is an endpoint in use; either way nothing stays bound.
// Revocations through the socket are served from here on.
func (n *Node) Listen() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	opened := false
	if n.ctl == nil && n.dir != "" {
		ctl, err := listenControl(n.dir, n.Revoke, n.log, n.ctlTimeout)
		if err != nil {
			return err
		}
		n.ctl, opened = ctl, true
	}
	if err := n.srv.Listen(); err != nil {
		if opened {
			_ = n.ctl.close()
			n.ctl = nil
		}
		return err
	}
	return nil
}

// Serve serves every transport and the control socket until ctx ends,
// Close is called or a listener fails, calling Listen first if needed.
// Then it shuts down gracefully, as httpd.Server.Serve does, and removes
// the control socket. It returns nil after a shutdown that ctx or Close
// asked for. A revocation that arrives during the shutdown may fail with
// the stores' "closed" error.
func (n *Node) Serve(ctx context.Context) error {
	if err := n.Listen(); err != nil {
		return err
	}
	err := n.srv.Serve(ctx)
	return errors.Join(err, n.closeControl())
}

// Close stops the node at once if it is serving, or releases its sockets
// and stores if it never served. It is safe to call more than once.
func (n *Node) Close() error {
	cerr := n.closeControl()
	return errors.Join(n.srv.Close(), cerr)
}

func (n *Node) closeControl() error {
	n.mu.Lock()
	ctl := n.ctl
	n.ctl = nil
	n.mu.Unlock()
	if ctl == nil {
		return nil
	}
	return ctl.close()
}

// Revoke revokes principal authid on the running node, as a revocation
// through the control socket does: on every WebSocket service, it deletes
// the cookies that authid is logged in on and closes their connections,
// and those that logged in as authid, with 4002 "revoked". The error joins
// those of the stores that failed; the report holds every store's counts.
func (n *Node) Revoke(authid string) (Report, error) {
	revs, err := n.srv.Revoke(authid)
	rep := Report{AuthID: authid, Running: true}
	for _, r := range revs {
		rep.Stores = append(rep.Stores, StoreReport{
			Service: r.Service, Store: config.StoreType(r.Store),
			Cookies: r.Cookies, Connections: r.Connections, Err: r.Err,
		})
	}
	return rep, err
}
