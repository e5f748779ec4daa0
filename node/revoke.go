package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/journal"
	"cookiestore/record"
)

// Report is what a revocation did.
type Report struct {
	// AuthID is the principal revoked.
	AuthID string
	// Running is true when a running node did it, through its control
	// socket, and false when no node ran and the stores were opened
	// directly: then no connection was open to close.
	Running bool
	// Stores has one entry per WebSocket service, in config order. A
	// running node lists its services without a cookie block too, whose
	// connections may have logged in; a stopped one lists only stores.
	Stores []StoreReport
}

// StoreReport is what a revocation did on one WebSocket service.
type StoreReport struct {
	Service     string           // the service's JSON path in the config, e.g. "transports[0].paths.ws"
	Store       config.StoreType // its store type; "" when it tracks no cookies
	Cookies     int              // cookies deleted
	Connections int              // connections closed with 4002 "revoked"
	Err         error            // why it failed, if it did; the counts say what was done before
}

// Cookies returns the number of cookies deleted in all stores.
func (r Report) Cookies() int {
	n := 0
	for _, s := range r.Stores {
		n += s.Cookies
	}
	return n
}

// Connections returns the number of connections closed in all services.
func (r Report) Connections() int {
	n := 0
	for _, s := range r.Stores {
		n += s.Connections
	}
	return n
}

// Revoke revokes principal authid on the node of directory dir and config
// cfg, whether it runs or not: every cookie that authid is logged in on is
// deleted, with the reason "revoke".
//
// When a node runs on dir, Revoke asks it through its control socket
// (dir/cookiestore.sock), and the node also closes the connections of
// those cookies, and those that logged in as authid, with 4002 "revoked";
// cfg is not read. When none runs (no socket, or a stale one), Revoke opens
// each store that cfg names with stores (nil = an Opener with the
// defaults), deletes, and closes it. A file store's journal is opened under
// its lock, so a journal held by a process that does not answer on the
// socket is an error; a journal that does not exist holds nothing and is
// not created. A memory store holds nothing while no node runs. A store
// that fails does not stop the others: its entry in the report has the
// error, and the returned error joins them all.
//
// A "nats" store is opened as any other store, and its deletions are
// written to the stream; every node on the stream closes the connections.
// A store that catches up with its source in the background (one that has
// a Ready method, as a nats store does) is revoked once it has caught up,
// so that no cookie of the principal is missed; ctx bounds the wait.
func Revoke(ctx context.Context, cfg *config.Config, dir, authid string, stores *Opener) (Report, error) {
	if authid == "" {
		return Report{}, errors.New("revoke: empty authid")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return Report{}, fmt.Errorf("node directory: %w", err)
	}
	if !fi.IsDir() {
		return Report{}, fmt.Errorf("node directory %s is not a directory", dir)
	}
	sock := socketPath(dir)
	rep, running, err := revokeRunning(ctx, sock, authid)
	if running || err != nil {
		return rep, err
	}
	if stores == nil {
		stores = &Opener{}
	}
	open := func(sc config.Store) (httpd.Store, error) { return stores.Open(sc, nil) }
	return revokeStopped(ctx, cfg, authid, open, sock)
}

// revokeRunning asks the node that listens on sock. It returns running
// false, and no error, when nothing listens there.
func revokeRunning(ctx context.Context, sock, authid string) (Report, bool, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return Report{}, false, nil // no socket, or one that its node left behind
	}
	if err != nil {
		return Report{}, false, fmt.Errorf("control socket %s: %w", sock, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) (Report, bool, error) {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return Report{}, true, fmt.Errorf("control socket %s: %w", sock, err)
	}
	req, err := json.Marshal(map[string]any{"v": ControlVersion, "op": "revoke", "authid": authid})
	if err != nil {
		return fail(err)
	}
	if len(req)+1 > MaxControlRequest {
		return fail(fmt.Errorf("the authid is too long (a request may hold %d bytes)", MaxControlRequest))
	}
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return fail(err)
	}
	line, err := readLine(conn, MaxControlResponse, "response")
	if err != nil {
		return fail(err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fail(fmt.Errorf("malformed response: %w", err))
	}
	if resp.V != ControlVersion {
		return fail(fmt.Errorf("the node answered in protocol version %d; this program speaks %d", resp.V, ControlVersion))
	}
	if resp.Error != "" {
		return fail(fmt.Errorf("the node refused: %s", resp.Error))
	}
	rep := Report{AuthID: authid, Running: true}
	var errs []error
	for _, w := range resp.Revoked {
		s := StoreReport{Service: w.Service, Store: config.StoreType(w.Store), Cookies: w.Cookies, Connections: w.Connections}
		if w.Error != "" {
			s.Err = errors.New(w.Error)
			errs = append(errs, fmt.Errorf("%s: %s", w.Service, w.Error))
		}
		rep.Stores = append(rep.Stores, s)
	}
	return rep, true, errors.Join(errs...)
}

// revokeStopped opens the stores of cfg one at a time and deletes.
func revokeStopped(ctx context.Context, cfg *config.Config, authid string, open func(config.Store) (httpd.Store, error), sock string) (Report, error) {
	rep := Report{AuthID: authid}
	var errs []error
	for _, s := range storesOf(cfg) {
		r := StoreReport{Service: s.service, Store: s.sc.Type}
		r.Cookies, r.Err = revokeIn(ctx, s.sc, authid, open, sock)
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s.cookie.store: %w", s.service, r.Err))
		}
		rep.Stores = append(rep.Stores, r)
	}
	return rep, errors.Join(errs...)
}

// revokeIn deletes the cookies of authid from the store sc describes.
func revokeIn(ctx context.Context, sc config.Store, authid string, open func(config.Store) (httpd.Store, error), sock string) (int, error) {
	if sc.Type == config.StoreFile {
		if _, err := os.Stat(sc.Filename); errors.Is(err, fs.ErrNotExist) {
			return 0, nil // no journal, no cookies: and none is created
		}
	}
	st, err := open(sc)
	if errors.Is(err, journal.ErrLocked) {
		return 0, fmt.Errorf("%w, and nothing answers on %s: a node of another node directory, or one starting or stopping, holds it", err, sock)
	}
	if err != nil {
		return 0, err
	}
	var deleted []record.Digest
	if err = waitReady(ctx, st); err == nil {
		deleted, err = st.DeleteByAuthID(authid)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return len(deleted), err
}

// readiness is implemented by a store that catches up with its source in
// the background after it opens, as a nats store catches up with its
// stream; until Ready it may not know every cookie of a principal.
type readiness interface{ Ready() bool }

// readyPoll is how often waitReady asks a store whether it is ready.
const readyPoll = 20 * time.Millisecond

// waitReady returns once st holds everything it will know, so that a
// DeleteByAuthID misses no cookie, or ctx's error.
func waitReady(ctx context.Context, st httpd.Store) error {
	r, ok := st.(readiness)
	if !ok {
		return nil
	}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for !r.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the store did not catch up before revoking: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}

// aStore is one cookie block's store and the service it belongs to.
type aStore struct {
	service string // JSON path of the WebSocket service
	sc      config.Store
}

// storesOf lists the stores of cfg's WebSocket services in config order,
// named as the server names its services.
func storesOf(cfg *config.Config) []aStore {
	var out []aStore
	for _, tr := range cfg.Transports {
		if tr.Store != nil {
			out = append(out, aStore{tr.Path, *tr.Store})
		}
		for _, svc := range tr.Paths {
			if svc.Store != nil {
				out = append(out, aStore{svc.Path, *svc.Store})
			}
		}
	}
	return out
}
