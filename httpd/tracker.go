package httpd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/record"
)

// Close codes that the tracker sends besides the standard ones. They are in
// the range RFC 6455 leaves to applications, and part of the protocol.
const (
	// CloseLoggedOut closes the other connections of a cookie that was
	// logged out, by a "logout" message or by Tracker.Logout.
	CloseLoggedOut = 4001
	// CloseRevoked closes the connections of a principal revoked by
	// Tracker.Revoke.
	CloseRevoked = 4002
)

// Default timings of a connection. Tests shorten them.
const (
	defaultPingPeriod = 25 * time.Second
	defaultPongWait   = 60 * time.Second
	defaultWriteWait  = 10 * time.Second
	defaultCloseGrace = 2 * time.Second
)

// Hooks let an application follow the connections of a Tracker. They run on
// the connection's own goroutine and hold up its messages while they run,
// so they should return quickly.
type Hooks struct {
	// OnConnect runs once the WebSocket is open, before the hello is sent.
	OnConnect func(c *Conn)
	// OnAuth runs when a connection becomes authenticated: at connect by
	// its cookie (cookie auth), or by a login.
	OnAuth func(c *Conn, a record.Auth)
	// OnClose runs after the connection has closed and left the registry.
	OnClose func(c *Conn)
}

// Tracker is the http.Handler of one WebSocket service: it checks the
// origin, finds or issues the tracking cookie, upgrades the connection,
// keeps it in the registry of its cookie and speaks the message protocol
// (see the package documentation). Mount it on any mux.
type Tracker struct {
	cookie       *config.Cookie // nil = tracking off; every default filled in
	auth         *config.Auth   // nil = no authentication
	origins      []string       // lower-case patterns of allowed_origins
	maxMessage   int64
	maxPerCookie int // <= 0 = no cap

	store Store
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	hooks Hooks

	upgrader websocket.Upgrader
	reg      *registry
	closing  atomic.Bool  // set by Shutdown: new handshakes get 503
	active   atomic.Int64 // handshakes and connections still in ServeHTTP

	pingPeriod, pongWait, writeWait, closeGrace time.Duration

	// onHandshake counts handshake outcomes for /metrics; nil outside a Server.
	onHandshake func(result string)
}

// TrackerOptions configure NewTracker. The zero value is ready to use.
type TrackerOptions struct {
	Logger *slog.Logger     // nil = slog.Default()
	Clock  func() time.Time // nil = time.Now; cookie creation and expiry
	Rand   io.Reader        // nil = crypto/rand; the source of cookie IDs
	Hooks  Hooks            // OnConnect, OnAuth, OnClose, all optional
}

// NewTracker returns the handler of the WebSocket service svc. store keeps
// the cookies: an opened store, such as a memstore.Store or a
// filestore.Store. It may be nil when svc has no cookie block (tracking
// off).
//
// Zero values in svc get the configuration's defaults, so a program can
// build a config.WebSocket by hand: a cookie named "cbtid" of 24
// characters that lives a day, HttpOnly, SameSite=Lax, at most 64 KiB per
// message and 100 connections per cookie. A negative
// MaxConnectionsPerCookie removes the cap.
func NewTracker(svc *config.WebSocket, store Store, opts TrackerOptions) (*Tracker, error) {
	if svc == nil {
		return nil, errors.New("new tracker: no WebSocket service given")
	}
	t := &Tracker{
		auth:         svc.Auth,
		maxMessage:   int64(svc.MaxMessageSize),
		maxPerCookie: svc.MaxConnectionsPerCookie,
		store:        store,
		log:          opts.Logger,
		now:          opts.Clock,
		rand:         opts.Rand,
		hooks:        opts.Hooks,
		reg:          newRegistry(),
		pingPeriod:   defaultPingPeriod,
		pongWait:     defaultPongWait,
		writeWait:    defaultWriteWait,
		closeGrace:   defaultCloseGrace,
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	if t.maxMessage <= 0 {
		t.maxMessage = config.DefaultMaxMessageSize
	}
	if t.maxPerCookie == 0 {
		t.maxPerCookie = config.DefaultMaxConnectionsPerCookie
	}
	for _, o := range svc.AllowedOrigins {
		t.origins = append(t.origins, strings.ToLower(o))
	}
	if svc.Cookie != nil {
		if store == nil {
			return nil, errors.New("new tracker: the service tracks cookies but no store was given")
		}
		cc := *svc.Cookie
		if cc.Name == "" {
			cc.Name = config.DefaultCookieName
		}
		if cc.Length == 0 {
			cc.Length = config.DefaultCookieLength
		}
		if cc.Length < record.MinIDLength || cc.Length > record.MaxIDLength {
			return nil, fmt.Errorf("new tracker: cookie length must be between %d and %d, got %d",
				record.MinIDLength, record.MaxIDLength, cc.Length)
		}
		if cc.MaxAge < time.Second {
			cc.MaxAge = config.DefaultMaxAge
		}
		if cc.SameSite == 0 {
			cc.SameSite = http.SameSiteLaxMode
		}
		t.cookie = &cc
	}
	t.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Reading reuses the 4 KiB buffer that net/http already has for
		// the connection, and writing borrows a buffer only while a frame
		// is written, so an idle connection holds little memory.
		ReadBufferSize:  0,
		WriteBufferSize: 4 << 10,
		WriteBufferPool: &sync.Pool{},
		// The origin was checked before any cookie work; checking again
		// here keeps the upgrader safe if that order ever changes.
		CheckOrigin: t.originAllowed,
	}
	return t, nil
}

// ServeHTTP serves the WebSocket service: a handshake, and then the
// connection until it closes. The answers that refuse a handshake are 403
// for a foreign origin, 429 for a cookie at its connection cap, and 503
// when the store cannot keep a new cookie or the tracker is shutting down;
// the upgrader answers 400 or 405 to requests that are not WebSocket
// handshakes.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isHandshake(r) {
		// No cookie work for what cannot become a WebSocket: the upgrader
		// writes the precise error.
		_, _ = t.upgrader.Upgrade(w, r, nil)
		return
	}
	t.handshake(w, r)
}

// Connections returns the number of live connections.
func (t *Tracker) Connections() int { return t.reg.len() }

// Logout deletes cookie d (a connection's Cookie().Digest) and closes its
// connections with CloseLoggedOut. The connections are collected before the cookie is
// deleted, so none is missed. The store's error, if any, is returned
// wrapped (for example when the cookie does not exist); the connections are
// closed unless the cookie is still in the store.
func (t *Tracker) Logout(d record.Digest) error {
	if t.cookie == nil {
		return errors.New("logout: cookie tracking is off on this service")
	}
	victims, live, err := t.deleteCookie(d, record.ReasonLogout)
	if !live {
		closeEach(victims, nil, CloseLoggedOut, "logged out")
	}
	if err != nil {
		if live {
			t.log.Error("logout failed; the cookie stays", "cookie", d, "err", err)
		}
		return fmt.Errorf("logout of cookie %s: %w", d, err)
	}
	return nil
}

// deleteCookie is the heart of logout. It collects the connections of
// cookie id first (Crossbar looked them up after the delete and found
// none), deletes the cookie, and collects again, because a handshake may
// have registered meanwhile (its second lookup then fails, but it is
// already in the registry). The caller closes the connections. When the
// delete fails and the cookie is still live, live is true and the
// connections must stay.
func (t *Tracker) deleteCookie(d record.Digest, why record.DeleteReason) (victims []*Conn, live bool, err error) {
	victims = t.reg.conns(d)
	if err = t.store.Delete(d, why); err != nil {
		if _, live = t.store.Get(d); live {
			return nil, true, err
		}
	}
	return append(victims, t.reg.conns(d)...), false, err
}

// Revoke deletes every cookie that principal authid is logged in on and
// closes their connections with CloseRevoked, as well as connections that
// logged in as authid without a cookie. As with logout, the connections
// are collected before the cookies are deleted. It returns the number of
// cookies deleted.
func (t *Tracker) Revoke(authid string) (int, error) {
	if authid == "" {
		return 0, errors.New("revoke: empty authid")
	}
	var victims []*Conn
	for _, c := range t.reg.snapshot() {
		if c.Auth().AuthID == authid && c.provider() != providerAnonymous {
			victims = append(victims, c)
		}
	}
	if t.store == nil {
		closeEach(victims, nil, CloseRevoked, "revoked")
		return 0, nil
	}
	// A login on one tab puts the principal on the cookie of every tab.
	for _, d := range t.reg.digests() {
		if ck, ok := t.store.Get(d); ok && ck.Auth.AuthID == authid {
			victims = append(victims, t.reg.conns(d)...)
		}
	}
	ids, err := t.store.DeleteByAuthID(authid)
	for _, d := range ids {
		victims = append(victims, t.reg.conns(d)...)
	}
	closeEach(victims, nil, CloseRevoked, "revoked")
	t.log.Info("principal revoked", "authid", authid, "cookies", len(ids), "connections", len(unique(victims, nil)))
	if err != nil {
		return len(ids), fmt.Errorf("revoke %q: %w", authid, err)
	}
	return len(ids), nil
}

// Shutdown stops new handshakes, closes every connection with 1001 "going
// away" and waits for them to end. When ctx ends first, the remaining
// connections are cut and ctx's error is returned. A Server calls it; a
// program that mounts a Tracker on its own http.Server calls it before
// http.Server.Shutdown, which does not wait for WebSockets.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.closing.Store(true)
	for _, c := range t.reg.snapshot() {
		c.Close(websocket.CloseGoingAway, "going away")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for t.active.Load() > 0 {
		select {
		case <-ctx.Done():
			for _, c := range t.reg.snapshot() {
				c.abort()
			}
			return fmt.Errorf("close websockets: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// closeEach closes every distinct connection of conns except one.
func closeEach(conns []*Conn, except *Conn, code int, reason string) {
	for _, c := range unique(conns, except) {
		c.Close(code, reason)
	}
}

func unique(conns []*Conn, except *Conn) []*Conn {
	seen := make(map[*Conn]struct{}, len(conns))
	out := conns[:0:0]
	for _, c := range conns {
		if _, dup := seen[c]; dup || c == except {
			continue
		}
		seen[c] = struct{}{}
		out = append(out, c)
	}
	return out
}

// clip bounds a client-supplied string before it is logged or echoed.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
