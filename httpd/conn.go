package httpd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"cookiestore/record"
)

// sendQueue is how many outgoing messages a connection may have waiting. A
// client that sends requests without reading the answers fills it, and is
// disconnected rather than buffered without bound.
const sendQueue = 32

// lingerBytes bounds what is read and thrown away after a frame over the
// size limit, so that the client can still read the 1009 close frame
// instead of a connection reset.
const lingerBytes = 16 << 20

// Conn is one tracked WebSocket connection. Its methods are safe for
// concurrent use.
type Conn struct {
	t       *Tracker
	ctx     context.Context
	cancel  context.CancelFunc
	remote  string     // the peer's address, as http.Request has it
	client  netip.Addr // the client's address: the peer, or behind a trusted proxy, from X-Forwarded-For
	tracked bool
	isNew   bool

	// Guarded by the registry's mutex: a rotation moves the connection.
	digest  record.Digest // the registry key: the cookie's digest, or zero untracked
	expires int64         // when the cookie it presented expires, Unix nanoseconds

	mu        sync.Mutex
	visitor   string        // the non-secret name of the cookie the client holds
	presented record.Digest // the cookie the client holds: cookie auth applies to it only
	cookie    record.Cookie
	auth      record.Auth // the connection's effective auth, as in its hello
	authProv  string      // providerStatic, providerCookie, providerAnonymous or ""
	leaving   bool        // it is logging out: the cookie's deletion does not close it with 4001
	closing   bool
	code      int
	reason    string

	send     chan []byte   // frames for the writer
	closeReq chan struct{} // closed by Close
	done     chan struct{} // closed when the reader has stopped
	ws       *websocket.Conn
}

type connKey struct{}

// FromContext returns the tracked connection that ctx belongs to: the
// context of Conn.Context and everything derived from it.
func FromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	return c, ok
}

// newConn builds the connection of a handshake that adm admitted. It is
// not registered yet.
func newConn(t *Tracker, r *http.Request, adm admission) *Conn {
	c := &Conn{
		t:         t,
		remote:    r.RemoteAddr,
		client:    adm.client,
		tracked:   t.cookie != nil,
		isNew:     adm.issued != "",
		visitor:   adm.visitor,
		presented: adm.cookie.Digest,
		cookie:    adm.cookie,
		send:      make(chan []byte, sendQueue),
		closeReq:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(r.Context(), connKey{}, c))
	return c
}

// Visitor returns the non-secret, stable name of the connection's cookie
// (16 hex digits), or "" when tracking is off. It changes when the
// connection's own login rotates the cookie.
func (c *Conn) Visitor() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.visitor
}

// Cookie returns the connection's cookie as the store knows it, by its
// digest, with the auth stored on it as of the handshake, the rotation of
// its own login, or its latest whoami. A connection that a rotation moved
// to a new cookie it did not present sees that cookie without its auth.
// It is the zero Cookie when tracking is off. The cookie's ID, the bearer
// secret, is never kept past the handshake. Decide on Auth, not on
// Cookie().Auth, whom a connection is.
func (c *Conn) Cookie() record.Cookie {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cookie
}

// Auth returns who the connection is authenticated as: by its cookie, by a
// login, or the anonymous role (whose authid is the visitor). It is the
// zero Auth for an unauthenticated connection.
func (c *Conn) Auth() record.Auth {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth
}

func (c *Conn) provider() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authProv
}

// IsNew reports whether the handshake issued the connection's cookie.
func (c *Conn) IsNew() bool { return c.isNew }

// RemoteAddr returns the peer's network address, as http.Request has it.
func (c *Conn) RemoteAddr() string { return c.remote }

// ClientAddr returns the client's IP address: the peer's, or, when the peer
// is one of options.trusted_proxies, the one that X-Forwarded-For names.
// It is the address that the limits per client count by.
func (c *Conn) ClientAddr() netip.Addr { return c.client }

// Context returns a context that carries the connection (see FromContext)
// and the values of the handshake request, and that is cancelled when the
// connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Send queues v, encoded as JSON, as a text message to the client. It fails
// when the connection is closing or its queue is full.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("send to visitor %s: %w", c.Visitor(), err)
	}
	if !c.enqueue(b) {
		return fmt.Errorf("send to visitor %s: connection is closing", c.Visitor())
	}
	return nil
}

// Close sends a close frame with code and reason after the messages
// already queued, and ends the connection once the client answers (or
// after a grace period). Only the first call has an effect. Reasons longer
// than a close frame can carry are cut.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing, c.code, c.reason = true, closeCode(code), clipReason(reason)
	c.mu.Unlock()
	close(c.closeReq)
}

// closeCode maps codes that must not appear in a close frame to 1000.
func closeCode(code int) int {
	switch {
	case code == websocket.CloseNoStatusReceived, code == websocket.CloseAbnormalClosure,
		code == websocket.CloseTLSHandshake, code == 1004, code < 1000, code > 4999:
		return websocket.CloseNormalClosure
	}
	return code
}

// clipReason cuts a reason to the 123 bytes a close frame has room for,
// on a character boundary.
func clipReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// abort cuts the connection without a close handshake.
func (c *Conn) abort() {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		_ = ws.NetConn().Close()
	}
}

// enqueue hands a frame to the writer without ever blocking the caller.
func (c *Conn) enqueue(b []byte) bool {
	if c.isClosing() {
		return false
	}
	select {
	case c.send <- b:
		return true
	default:
		c.t.log.Warn("client does not read its messages; closing", "visitor", c.Visitor(), "remote", c.remote)
		c.Close(websocket.ClosePolicyViolation, "too many unread messages")
		return false
	}
}

// serve runs the connection after the upgrade: the reader here, the writer
// on its own goroutine. It returns when both have stopped and the
// connection has left the registry.
func (c *Conn) serve(ws *websocket.Conn) {
	t := c.t
	ws.SetReadLimit(t.maxMessage)
	_ = ws.SetReadDeadline(time.Now().Add(t.pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(t.pongWait)) })
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()

	written := make(chan struct{})
	go c.writeLoop(ws, written)

	announced := false
	defer func() {
		close(c.done)
		_ = ws.NetConn().Close()
		<-written
		t.reg.remove(c)
		t.rot.forget(c)
		c.cancel()
		c.t.log.Debug("websocket closed", "remote", c.remote, "visitor", c.Visitor())
		if announced && t.hooks.OnClose != nil {
			t.hooks.OnClose(c)
		}
	}()

	// A logout or a shutdown may have caught the connection during its
	// handshake; the writer is already sending the close frame.
	if !c.isClosing() {
		announced = true
		cookieAuth := c.initAuth()
		c.t.log.Debug("websocket open", "remote", c.remote, "visitor", c.Visitor(), "new", c.isNew, "authid", c.Auth().AuthID)
		if t.hooks.OnConnect != nil {
			t.hooks.OnConnect(c)
		}
		if cookieAuth && t.hooks.OnAuth != nil {
			t.hooks.OnAuth(c, c.Auth())
		}
		c.sendHello(false)
	}

	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.t.log.Info("websocket message over the size limit; closed with 1009", "remote", c.remote, "visitor", c.Visitor(), "limit", t.maxMessage)
				c.linger(ws)
			}
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(t.pongWait))
		c.handle(typ, data)
	}
}

// linger reads and discards what the client is still sending after a
// frame over the limit, for a moment, so that closing the socket does not
// reset the connection before the client has read the 1009 close frame.
func (c *Conn) linger(ws *websocket.Conn) {
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(c.t.closeGrace))
	_, _ = io.CopyN(io.Discard, nc, lingerBytes)
}

// writeLoop is the only writer of data frames. It also sends the pings
// and the close frame.
func (c *Conn) writeLoop(ws *websocket.Conn, written chan<- struct{}) {
	defer close(written)
	t := c.t
	ping := time.NewTicker(t.pingPeriod)
	defer ping.Stop()
	write := func(b []byte) bool {
		_ = ws.SetWriteDeadline(time.Now().Add(t.writeWait))
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			_ = ws.NetConn().Close() // the reader stops too
			return false
		}
		return true
	}
	for {
		select {
		case b := <-c.send:
			if !write(b) {
				return
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(t.writeWait)); err != nil {
				_ = ws.NetConn().Close()
				return
			}
		case <-c.closeReq:
			// What was queued before Close (a goodbye) goes first.
			for drained := false; !drained; {
				select {
				case b := <-c.send:
					if !write(b) {
						return
					}
				default:
					drained = true
				}
			}
			c.mu.Lock()
			code, reason := c.code, c.reason
			c.mu.Unlock()
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(t.writeWait))
			// The reader stops when the client answers the close frame.
			grace := time.NewTimer(t.closeGrace)
			select {
			case <-c.done:
			case <-grace.C:
				_ = ws.NetConn().Close()
			}
			grace.Stop()
			return
		case <-c.done:
			return
		}
	}
}
