package httpd

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/record"
)

// Auth providers reported in the "authprovider" field.
const (
	providerStatic    = "static"    // a login on this connection, checked against the config
	providerCookie    = "cookie"    // taken from the cookie at connect (cookie auth)
	providerAnonymous = "anonymous" // internal marker: the anonymous role, provider "static" on the wire
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
	remote  string
	digest  record.Digest // the registry key: the cookie's digest, or zero untracked; set by registry.add
	tracked bool
	// loggingOut is set while this connection's own logout runs, so that
	// the store's report of that deletion does not close it before its
	// goodbye.
	loggingOut atomic.Bool
	isNew      bool
	visitor    string

	mu       sync.Mutex
	cookie   record.Cookie
	auth     record.Auth // the connection's effective auth, as in its hello
	authProv string      // providerStatic, providerCookie, providerAnonymous or ""
	closing  bool
	code     int
	reason   string

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

func newConn(t *Tracker, r *http.Request) *Conn {
	c := &Conn{
		t:        t,
		remote:   r.RemoteAddr,
		send:     make(chan []byte, sendQueue),
		closeReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(r.Context(), connKey{}, c))
	return c
}

// visitorOf is the public name of a cookie: a digest that identifies the
// browser in logs, messages and as anonymous authid without disclosing the
// cookie, which is a bearer secret.
func visitorOf(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("cookiestore visitor\x00" + id))
	return hex.EncodeToString(sum[:8])
}

func (c *Conn) setCookie(ck record.Cookie, visitor string, isNew bool) {
	c.mu.Lock()
	c.cookie = ck
	c.mu.Unlock()
	c.tracked = true
	c.isNew = isNew
	c.visitor = visitor
}

// Visitor returns the non-secret, stable name of the connection's cookie
// (16 hex digits), or "" when tracking is off.
func (c *Conn) Visitor() string { return c.visitor }

// Cookie returns the connection's cookie as the store knows it, by its
// digest, with the auth stored on it as of the handshake or the
// connection's latest login or whoami. It is the zero Cookie when tracking
// is off. The cookie's ID, the bearer secret, is never kept past the
// handshake.
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

// RemoteAddr returns the client's network address, as http.Request has it.
func (c *Conn) RemoteAddr() string { return c.remote }

// Context returns a context that carries the connection (see FromContext)
// and the values of the handshake request, and that is cancelled when the
// connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Send queues v, encoded as JSON, as a text message to the client. It fails
// when the connection is closing or its queue is full.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("send to visitor %s: %w", c.visitor, err)
	}
	if !c.enqueue(b) {
		return fmt.Errorf("send to visitor %s: connection is closing", c.visitor)
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
		c.t.log.Warn("client does not read its messages; closing", "visitor", c.visitor, "remote", c.remote)
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
		c.cancel()
		c.t.log.Debug("websocket closed", "remote", c.remote, "visitor", c.visitor)
		if announced && t.hooks.OnClose != nil {
			t.hooks.OnClose(c)
		}
	}()

	// A logout or a shutdown may have caught the connection during its
	// handshake; the writer is already sending the close frame.
	if !c.isClosing() {
		announced = true
		cookieAuth := c.initAuth()
		c.t.log.Debug("websocket open", "remote", c.remote, "visitor", c.visitor, "new", c.isNew, "authid", c.Auth().AuthID)
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
				c.t.log.Info("websocket message over the size limit; closed with 1009", "remote", c.remote, "visitor", c.visitor, "limit", t.maxMessage)
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

// Messages of the protocol. Field names are part of the protocol.
type (
	authInfo struct {
		AuthID       string `json:"authid"`
		AuthRole     string `json:"authrole"`
		AuthMethod   string `json:"authmethod"`
		AuthRealm    string `json:"authrealm"`
		AuthProvider string `json:"authprovider"`
	}
	helloMsg struct {
		Type        string    `json:"type"`
		Visitor     string    `json:"visitor"`
		New         bool      `json:"new"`
		Connections int       `json:"connections"`
		Created     string    `json:"created,omitempty"`
		Auth        *authInfo `json:"auth"`
	}
	welcomeMsg struct {
		Type string    `json:"type"`
		Auth *authInfo `json:"auth"`
	}
	errorMsg struct {
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	goodbyeMsg struct {
		Type string `json:"type"`
	}
	request struct {
		Type   string `json:"type"`
		AuthID string `json:"authid"`
		Ticket string `json:"ticket"`
	}
)

// initAuth sets the connection's auth at connect and reports whether it
// came from the cookie.
func (c *Conn) initAuth() (fromCookie bool) {
	a, prov := c.t.derivedAuth(c.Cookie(), c.visitor)
	c.mu.Lock()
	c.auth, c.authProv = a, prov
	c.mu.Unlock()
	return prov == providerCookie
}

// derivedAuth is the auth a connection has without a login of its own:
// the cookie's (with cookie auth on), else the anonymous role, else none.
func (t *Tracker) derivedAuth(ck record.Cookie, visitor string) (record.Auth, string) {
	a := t.auth
	switch {
	case a == nil:
		return record.Auth{}, ""
	case a.Cookie && !ck.Auth.IsZero():
		return ck.Auth, providerCookie
	case a.Anonymous != nil:
		authid := visitor
		if authid == "" {
			// Untracked: a name for this connection alone.
			authid, _ = record.NewID(t.rand, 16)
		}
		role := a.Anonymous.Role
		if role == "" {
			role = config.DefaultAnonymousRole
		}
		return record.Auth{AuthID: authid, AuthRole: role, AuthMethod: "anonymous", AuthRealm: config.DefaultRealm}, providerAnonymous
	}
	return record.Auth{}, ""
}

func wireAuth(a record.Auth, prov string) *authInfo {
	if a.IsZero() {
		return nil
	}
	if prov == providerAnonymous {
		prov = providerStatic
	}
	return &authInfo{AuthID: a.AuthID, AuthRole: a.AuthRole, AuthMethod: a.AuthMethod, AuthRealm: a.AuthRealm, AuthProvider: prov}
}

// sendHello sends the hello. With refresh (whoami), the cookie is read
// again first, so that a login on another connection of the same browser
// shows through cookie auth.
func (c *Conn) sendHello(refresh bool) {
	t := c.t
	if refresh && c.tracked {
		if ck, ok := t.live(c.digest); ok {
			var a record.Auth
			gained := false
			c.mu.Lock()
			c.cookie = ck
			if c.authProv != providerStatic { // a login on this connection stands
				var prov string
				a, prov = t.derivedAuth(ck, c.visitor)
				gained = prov == providerCookie && (c.authProv != providerCookie || c.auth.AuthID != a.AuthID)
				c.auth, c.authProv = a, prov
			}
			c.mu.Unlock()
			if gained && t.hooks.OnAuth != nil {
				t.hooks.OnAuth(c, a)
			}
		}
	}
	c.mu.Lock()
	h := helloMsg{Type: "hello", Visitor: c.visitor, New: c.isNew, Connections: 1, Auth: wireAuth(c.auth, c.authProv)}
	if c.tracked {
		h.Created = c.cookie.Created.UTC().Format(time.RFC3339)
	}
	c.mu.Unlock()
	if c.tracked {
		h.Connections = t.reg.count(c.digest)
	}
	_ = c.Send(h)
}

func (c *Conn) replyError(msg string) { _ = c.Send(errorMsg{Type: "error", Error: msg}) }

// handle answers one message from the client. Nothing a client sends ends
// the connection, except a logout.
func (c *Conn) handle(typ int, data []byte) {
	if typ != websocket.TextMessage {
		c.replyError("binary messages are not supported; send JSON text messages")
		return
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		c.replyError("message is not a JSON object with a \"type\"")
		return
	}
	switch req.Type {
	case "login":
		c.login(req.AuthID, req.Ticket)
	case "logout":
		c.logout()
	case "whoami":
		c.sendHello(true)
	case "":
		c.replyError("message has no \"type\"")
	default:
		c.replyError(fmt.Sprintf("unknown message type %q (known: login, logout, whoami)", clip(req.Type, 32)))
	}
}

// login checks a ticket against the static principals, stores the auth on
// the cookie and answers welcome.
func (c *Conn) login(authid, ticket string) {
	t := c.t
	if t.auth == nil || t.auth.Ticket == nil {
		c.replyError("login is not enabled on this service")
		return
	}
	p, known := t.auth.Ticket.Principals[authid]
	// Comparing digests takes the same time whatever the lengths, and an
	// unknown authid costs the same as a wrong ticket.
	got, want := sha256.Sum256([]byte(ticket)), sha256.Sum256([]byte(p.Ticket))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known || p.Ticket == "" {
		c.t.log.Info("login refused", "remote", c.remote, "visitor", c.visitor, "authid", clip(authid, 64))
		c.replyError("login failed: unknown authid or wrong ticket")
		return
	}
	realm := p.Realm
	if realm == "" {
		realm = config.DefaultRealm
	}
	a := record.Auth{AuthID: authid, AuthRole: p.Role, AuthMethod: "ticket", AuthRealm: realm}
	if c.tracked {
		// The welcome is sent only once the login is as durable as the
		// store promises, like the cookie itself.
		if err := t.store.SetAuth(c.digest, a); err != nil {
			if _, live := t.live(c.digest); !live {
				c.replyError("login failed: this browser's cookie no longer exists; reconnect")
				return
			}
			c.t.log.Error("cannot store a login", "remote", c.remote, "visitor", c.visitor, "authid", authid, "err", err)
			c.replyError("login failed: the server cannot store it, try again later")
			return
		}
	}
	c.mu.Lock()
	c.auth, c.authProv = a, providerStatic
	c.cookie.Auth = a
	c.mu.Unlock()
	c.t.log.Info("login", "remote", c.remote, "visitor", c.visitor, "authid", authid, "authrole", p.Role)
	if t.hooks.OnAuth != nil {
		t.hooks.OnAuth(c, a)
	}
	_ = c.Send(welcomeMsg{Type: "welcome", Auth: wireAuth(a, providerStatic)})
}

// logout deletes the cookie, says goodbye, closes this connection and then
// the cookie's others.
func (c *Conn) logout() {
	t := c.t
	if !c.tracked {
		c.mu.Lock()
		c.auth, c.authProv = record.Auth{}, ""
		c.mu.Unlock()
		_ = c.Send(goodbyeMsg{Type: "goodbye"})
		c.Close(websocket.CloseNormalClosure, "logout")
		return
	}
	c.loggingOut.Store(true)
	others, live, err := t.deleteCookie(c.digest, record.ReasonLogout)
	c.loggingOut.Store(false)
	if live {
		c.t.log.Error("logout failed; the cookie stays", "remote", c.remote, "visitor", c.visitor, "err", err)
		c.replyError("logout failed: the server cannot store it, try again later")
		return
	}
	others = unique(others, c)
	c.t.log.Info("logout", "remote", c.remote, "visitor", c.visitor, "kicked", len(others))
	_ = c.Send(goodbyeMsg{Type: "goodbye"})
	c.Close(websocket.CloseNormalClosure, "logout")
	closeEach(others, nil, CloseLoggedOut, "logged out")
}
