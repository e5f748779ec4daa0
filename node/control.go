package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cookiestore/journal"
)

// The control socket and its protocol; see "Control protocol" in the
// package documentation.
const (
	// SocketName is the control socket's file name in the node directory.
	SocketName = "cookiestore.sock"
	// ControlVersion is the version of the control protocol.
	ControlVersion = 1
	// MaxControlRequest bounds a request line, its newline included.
	MaxControlRequest = 16 << 10
	// MaxControlResponse bounds a response line, its newline included.
	MaxControlResponse = 1 << 20
)

const (
	// controlTimeout is how long the server waits for a request, and for
	// the client to take its response.
	controlTimeout = 10 * time.Second
	// controlConns bounds the requests handled at once; more wait.
	controlConns = 4
	// maxSocketPath is the longest socket path that every Unix takes
	// (sun_path holds 104 bytes on the BSDs and macOS, 108 on Linux,
	// a terminating zero included).
	maxSocketPath = 103
)

// socketPath is the control socket of node directory dir.
func socketPath(dir string) string { return filepath.Join(dir, SocketName) }

// request and response are the messages of the protocol.
type (
	request struct {
		V      *int   `json:"v"`
		Op     string `json:"op"`
		AuthID string `json:"authid"`
	}
	response struct {
		V       int           `json:"v"`
		Revoked []revokedWire `json:"revoked,omitempty"`
		Error   string        `json:"error,omitempty"`
	}
	revokedWire struct {
		Service     string `json:"service"`
		Store       string `json:"store"`
		Cookies     int    `json:"cookies"`
		Connections int    `json:"connections"`
		Error       string `json:"error,omitempty"`
	}
)

// control is the server side of the control socket.
type control struct {
	path    string
	lock    io.Closer // the node directory's socket lock, held while the socket is ours
	ln      *net.UnixListener
	bound   os.FileInfo // the socket file as bound, so that close removes only ours
	revoke  func(authid string) (Report, error)
	log     *slog.Logger
	timeout time.Duration

	accepting chan struct{} // closed when the accept loop has returned
	handlers  sync.WaitGroup
	slots     chan struct{}
	once      sync.Once
	err       error
}

// listenControl takes the socket lock of dir, binds the control socket
// (mode 0600) in place of any stale one, and serves it.
func listenControl(dir string, revoke func(string) (Report, error), log *slog.Logger, timeout time.Duration) (*control, error) {
	path := socketPath(dir)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: the path is %d bytes long, and a Unix socket's may have at most %d: use a shorter node directory", path, len(path), maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	lock, err := journal.OSFS().Lock(path + ".lock")
	if errors.Is(err, journal.ErrLocked) {
		return nil, fmt.Errorf("control socket %s: in use by another running node on this node directory; give each node its own", path)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if timeout <= 0 {
		timeout = controlTimeout
	}
	c := &control{path: path, lock: lock, revoke: revoke, log: log, timeout: timeout,
		accepting: make(chan struct{}), slots: make(chan struct{}, controlConns)}
	if err := c.bind(dir); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	go c.serve()
	return c, nil
}

// bind creates the socket. With the lock held, a socket file already at
// the path was left by a node that died: its lock went with it. The new
// socket is bound in a private folder (0700) and renamed into place once
// its mode is 0600, so that it is never reachable with looser bits, and so
// that it replaces a stale one in one step.
func (c *control) bind(dir string) error {
	stale := false
	switch fi, err := os.Lstat(c.path); {
	case err == nil && fi.Mode().Type() == fs.ModeSocket:
		stale = true
	case err == nil:
		return fmt.Errorf("the path exists and is not a socket (%s); move it away", fi.Mode().Type())
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".s")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name := filepath.Join(tmp, "s")
	if len(name) > maxSocketPath {
		return fmt.Errorf("the path of its temporary name %s is %d bytes long, over %d: use a shorter node directory", name, len(name), maxSocketPath)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return err
	}
	// The name it was bound under goes with the folder; close removes the
	// final one itself.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(name, 0o600); err != nil {
		ln.Close()
		return err
	}
	if err := os.Rename(name, c.path); err != nil {
		ln.Close()
		return err
	}
	bound, err := os.Lstat(c.path)
	if err != nil {
		ln.Close()
		return err
	}
	c.ln, c.bound = ln, bound
	if stale {
		c.log.Warn("replaced a stale control socket, left by a node that stopped without removing it", "path", c.path)
	}
	c.log.Info("control socket", "path", c.path)
	return nil
}

// serve accepts connections until close.
func (c *control) serve() {
	defer close(c.accepting)
	for {
		conn, err := c.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors, say: wait for some to be freed.
			c.log.Error("control socket: accept failed", "path", c.path, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c.slots <- struct{}{}
		c.handlers.Add(1)
		go func() {
			defer c.handlers.Done()
			defer func() { <-c.slots }()
			c.handle(conn)
		}()
	}
}

// handle answers one request on conn and closes it.
func (c *control) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(c.timeout))
	var resp response
	line, err := readLine(conn, MaxControlRequest, "request")
	if err == nil {
		resp = c.do(line)
	} else {
		resp = response{V: ControlVersion, Error: err.Error()}
	}
	_ = conn.SetWriteDeadline(time.Now().Add(c.timeout))
	out, err := json.Marshal(resp)
	if err == nil {
		_, err = conn.Write(append(out, '\n'))
	}
	if err != nil {
		c.log.Warn("control socket: the answer was not delivered", "err", err)
	}
}

// do carries out one request line.
func (c *control) do(line []byte) response {
	fail := func(format string, args ...any) response {
		return response{V: ControlVersion, Error: fmt.Sprintf(format, args...)}
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return fail("malformed request: %v", err)
	}
	switch {
	case req.V == nil:
		return fail(`the request has no "v": this server speaks version %d`, ControlVersion)
	case *req.V != ControlVersion:
		return fail("protocol version %d is not supported: this server speaks version %d", *req.V, ControlVersion)
	case req.Op != "revoke":
		return fail("unknown op %q", req.Op)
	case req.AuthID == "":
		return fail("revoke: empty authid")
	}
	rep, err := c.revoke(req.AuthID)
	resp := response{V: ControlVersion, Revoked: []revokedWire{}}
	for _, s := range rep.Stores {
		w := revokedWire{Service: s.Service, Store: string(s.Store), Cookies: s.Cookies, Connections: s.Connections}
		if s.Err != nil {
			w.Error = s.Err.Error()
		}
		resp.Revoked = append(resp.Revoked, w)
	}
	if err != nil && len(rep.Stores) == 0 {
		resp.Error = err.Error()
	}
	c.log.Info("revocation through the control socket", "authid", req.AuthID,
		"cookies", rep.Cookies(), "connections", rep.Connections(), "err", err)
	return resp
}

// close stops accepting, waits for the requests being handled, removes the
// socket file if it is still the one bound, and releases the lock.
func (c *control) close() error {
	c.once.Do(func() {
		_ = c.ln.Close()
		<-c.accepting
		c.handlers.Wait()
		if fi, err := os.Lstat(c.path); err == nil && os.SameFile(fi, c.bound) {
			if err := os.Remove(c.path); err != nil {
				c.err = fmt.Errorf("control socket: %w", err)
			}
		}
		if err := c.lock.Close(); err != nil && c.err == nil {
			c.err = fmt.Errorf("control socket %s: release the lock: %w", c.path, err)
		}
	})
	return c.err
}

// readLine reads one line of at most max bytes, newline included, and
// returns it without the newline.
func readLine(r io.Reader, max int, what string) ([]byte, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, int64(max)), 4096).ReadBytes('\n')
	switch {
	case err == nil:
		return bytes.TrimSuffix(line, []byte("\n")), nil
	case errors.Is(err, io.EOF) && len(line) >= max:
		return nil, fmt.Errorf("a %s holds at most %d bytes, newline included", what, max)
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s ended before its newline", what)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("no %s within the time allowed", what)
	default:
		return nil, fmt.Errorf("read the %s: %w", what, err)
	}
}
