package httpd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/memstore"
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
	// CloseExpired closes the connections of a cookie whose max_age
	// passed, as a shared store reports it.
	CloseExpired = 4003
)

// Handshake outcomes, as counted by the cookiestore_handshakes_total metric.
const (
	handshakeNew       = "new"       // a new cookie was issued
	handshakeReturning = "returning" // a known cookie was reused
	handshakeUntracked = "untracked" // tracking is off on the service
	handshakeRefused   = "refused"   // origin, connection cap or shutdown
	handshakeError     = "error"     // the store failed or the upgrade failed
)

// Limits of the handshake.
const (
	// maxCandidates bounds the cookie values looked up per handshake, so a
	// header that repeats the name thousands of times costs little.
	maxCandidates = 8
	// maxCreateAttempts bounds the draws of a new ID. With 144 random bits
	// a collision is already unheard of; three in a row means a broken Rand.
	maxCreateAttempts = 3
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
	ready    Readiness    // the store's, when it has one
	unsub    func()       // stops the store's notifications; nil without a Notifier
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
		t.ready, _ = store.(Readiness)
		if n, ok := store.(Notifier); ok {
			t.unsub = n.Subscribe(t.deleted)
		}
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

// ServeHTTP performs the handshake and then serves the connection until it
// closes. The answers that refuse a handshake are 403 for a foreign origin,
// 429 for a cookie at its connection cap, and 503 when the store cannot
// keep a new cookie or the tracker is shutting down; the upgrader answers
// 400 or 405 to requests that are not WebSocket handshakes.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isHandshake(r) {
		// No cookie work for what cannot become a WebSocket: the upgrader
		// writes the precise error.
		_, _ = t.upgrader.Upgrade(w, r, nil)
		return
	}
	t.active.Add(1)
	defer t.active.Add(-1)
	if t.closing.Load() {
		t.refuse(w, http.StatusServiceUnavailable, "server is shutting down", handshakeRefused)
		return
	}
	if t.ready != nil && !t.ready.Ready() {
		t.refuse(w, http.StatusServiceUnavailable, "the cookie store is catching up, try again shortly", handshakeRefused)
		return
	}
	if !t.originAllowed(r) {
		t.log.Info("websocket origin refused", "remote", r.RemoteAddr, "origin", clip(r.Header.Get("Origin"), 256), "host", clip(r.Host, 256))
		t.refuse(w, http.StatusForbidden, "origin not allowed", handshakeRefused)
		return
	}

	c := newConn(t, r)
	defer c.cancel()
	result := handshakeUntracked
	var header http.Header
	if t.cookie == nil {
		t.reg.add(c, record.Digest{}, 0)
	} else {
		issued, status, msg := t.track(c, r)
		if status != 0 {
			outcome := handshakeRefused
			if status == http.StatusServiceUnavailable {
				outcome = handshakeError
			}
			t.refuse(w, status, msg, outcome)
			return
		}
		result = handshakeReturning
		if c.isNew {
			result = handshakeNew
			header = http.Header{"Set-Cookie": {t.setCookie(issued, r)}}
		}
	}
	// Shutdown marks the tracker closing before it closes the registered
	// connections, so a handshake that registered after that sweep sees
	// the mark here.
	if t.closing.Load() {
		t.reg.remove(c)
		t.refuse(w, http.StatusServiceUnavailable, "server is shutting down", handshakeRefused)
		return
	}
	ws, err := t.upgrader.Upgrade(w, r, header)
	if err != nil {
		t.reg.remove(c)
		c.t.log.Info("websocket upgrade failed", "remote", c.remote, "visitor", c.visitor, "err", err)
		t.count(handshakeError)
		return
	}
	t.count(result)
	c.serve(ws)
}

// refuse answers a handshake with an HTTP error.
func (t *Tracker) refuse(w http.ResponseWriter, status int, msg, result string) {
	t.count(result)
	http.Error(w, msg, status)
}

func (t *Tracker) count(result string) {
	if t.onHandshake != nil {
		t.onHandshake(result)
	}
}

// isHandshake reports whether r asks for a WebSocket upgrade at all.
func isHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r) &&
		r.Header.Get("Sec-Websocket-Key") != ""
}

// track finds the request's cookie or issues a new one, and registers c
// under it. It returns the ID of a cookie it issued, for the Set-Cookie
// header: the only place an ID goes. A non-zero status refuses the
// handshake.
func (t *Tracker) track(c *Conn, r *http.Request) (issued string, status int, msg string) {
	cc := t.cookie
	var tried [maxCandidates]record.Digest
	n := 0
	for _, v := range CookieValues(r.Header.Values("Cookie"), cc.Name) {
		// A malformed value never reaches the store, and only IDs the
		// store issued are reused: a client cannot choose its ID.
		if !record.ValidID(v, cc.Length) {
			continue
		}
		d := record.DigestOf(v)
		// A value planted many times counts once, so that copies of it
		// cannot push the browser's own cookie past the cap.
		if slices.Contains(tried[:n], d) {
			continue
		}
		if n == maxCandidates {
			break
		}
		tried[n] = d
		n++
		ck, ok := t.live(d)
		if !ok {
			continue
		}
		c.setCookie(ck, visitorOf(v), false)
		if !t.reg.add(c, d, t.maxPerCookie) {
			c.t.log.Info("websocket refused: too many connections on one cookie", "remote", c.remote, "visitor", c.visitor, "limit", t.maxPerCookie)
			return "", http.StatusTooManyRequests, "too many connections for this cookie"
		}
		// A logout that ran between the lookup and the registration did
		// not see this connection; look again now that a logout would.
		if ck, ok = t.live(d); !ok {
			t.reg.remove(c)
			continue
		}
		c.mu.Lock()
		c.cookie = ck // the freshest auth
		c.mu.Unlock()
		return "", 0, ""
	}

	for attempt := 1; ; attempt++ {
		id, err := record.NewID(t.rand, cc.Length)
		if err != nil {
			t.log.Error("cannot draw a cookie ID", "remote", r.RemoteAddr, "err", err)
			return "", http.StatusServiceUnavailable, "cannot issue a tracking cookie"
		}
		ck := record.Cookie{Digest: record.DigestOf(id), Created: t.now(), MaxAge: cc.MaxAge}
		// Create returns once the cookie is as durable as store.sync
		// promises; only then may the browser get it.
		err = t.store.Create(ck)
		if err == nil {
			c.setCookie(ck, visitorOf(id), true)
			t.reg.add(c, ck.Digest, 0)
			return id, 0, ""
		}
		// A live cookie under the digest is what a collision looks like.
		if errors.Is(err, memstore.ErrExists) && attempt < maxCreateAttempts {
			continue
		}
		t.log.Error("cannot store a new cookie; handshake refused", "remote", r.RemoteAddr, "err", err)
		return "", http.StatusServiceUnavailable, "cannot store a tracking cookie, try again later"
	}
}

// live returns cookie d if the store has it and it has not expired. The
// clock check is the tracker's own, so a store that is slow to purge cannot
// revive an expired cookie.
func (t *Tracker) live(d record.Digest) (record.Cookie, bool) {
	ck, ok := t.store.Get(d)
	if !ok || ck.ExpiredAt(t.now()) {
		return record.Cookie{}, false
	}
	return ck, true
}

// setCookie returns the Set-Cookie header of a new cookie.
func (t *Tracker) setCookie(id string, r *http.Request) string {
	cc := t.cookie
	hc := http.Cookie{
		Name:     cc.Name,
		Value:    id,
		Path:     "/",
		MaxAge:   int(cc.MaxAge / time.Second),
		HttpOnly: !cc.ScriptReadable,
		Secure:   cc.Secure || r.TLS != nil,
		SameSite: cc.SameSite,
	}
	return hc.String()
}

// originAllowed is the origin check: no Origin header (not a browser), the
// same host as the request, or a match of an allowed_origins pattern.
func (t *Tracker) originAllowed(r *http.Request) bool {
	values := r.Header.Values("Origin")
	switch len(values) {
	case 0:
		return true
	case 1:
	default:
		return false
	}
	origin := strings.ToLower(values[0])
	u, err := url.Parse(origin)
	host := ""
	if err == nil {
		host = u.Host
		if host != "" && stripDefaultPort(host, u.Scheme == "https" || u.Scheme == "wss") ==
			stripDefaultPort(strings.ToLower(r.Host), r.TLS != nil) {
			return true
		}
	}
	for _, p := range t.origins {
		if globMatch(p, origin) {
			return true
		}
		// A pattern without a scheme names hosts, e.g. "*.example.com".
		if host != "" && !strings.Contains(p, "://") && globMatch(p, host) {
			return true
		}
	}
	return false
}

// stripDefaultPort drops ":443" (tls) or ":80" from a host so that
// "example.com" and "example.com:443" compare equal under TLS.
func stripDefaultPort(host string, tls bool) string {
	if tls {
		return strings.TrimSuffix(host, ":443")
	}
	return strings.TrimSuffix(host, ":80")
}

// globMatch reports whether s matches pattern, where "*" matches any run of
// characters, as in Crossbar's allowed_origins. Greedy matching with one
// backtrack point keeps it linear in practice.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
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
	cookies, _, err := t.revoke(authid)
	return cookies, err
}

// revoke is Revoke; it also returns how many connections it closed.
func (t *Tracker) revoke(authid string) (cookies, conns int, err error) {
	if authid == "" {
		return 0, 0, errors.New("revoke: empty authid")
	}
	var victims []*Conn
	for _, c := range t.reg.snapshot() {
		if c.Auth().AuthID == authid && c.provider() != providerAnonymous {
			victims = append(victims, c)
		}
	}
	if t.store == nil {
		victims = unique(victims, nil)
		closeEach(victims, nil, CloseRevoked, "revoked")
		return 0, len(victims), nil
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
	victims = unique(victims, nil)
	closeEach(victims, nil, CloseRevoked, "revoked")
	t.log.Info("principal revoked", "authid", authid, "cookies", len(ids), "connections", len(victims))
	if err != nil {
		return len(ids), len(victims), fmt.Errorf("revoke %q: %w", authid, err)
	}
	return len(ids), len(victims), nil
}

// deleted closes the local connections of a cookie that the store reports
// deleted, by this node or another one.
func (t *Tracker) deleted(ev record.Event) {
	switch ev.Reason {
	case record.ReasonLogout:
		// The connection that logged out says goodbye itself.
		var self *Conn
		conns := t.reg.conns(ev.Digest)
		for _, c := range conns {
			if c.loggingOut.Load() {
				self = c
			}
		}
		closeEach(conns, self, CloseLoggedOut, "logged out")
	case record.ReasonRevoke:
		closeEach(t.reg.conns(ev.Digest), nil, CloseRevoked, "revoked")
	case record.ReasonExpired:
		closeEach(t.reg.conns(ev.Digest), nil, CloseExpired, "expired")
	}
}

// Shutdown stops new handshakes, closes every connection with 1001 "going
// away" and waits for them to end. When ctx ends first, the remaining
// connections are cut and ctx's error is returned. A Server calls it; a
// program that mounts a Tracker on its own http.Server calls it before
// http.Server.Shutdown, which does not wait for WebSockets.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.closing.Store(true)
	if t.unsub != nil {
		t.unsub()
	}
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
