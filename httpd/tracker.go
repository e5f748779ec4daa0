package httpd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
	// Tracker.Revoke, on this node or, through a Notifier store, another.
	CloseRevoked = 4002
	// CloseExpired closes the connections of a cookie whose max_age has
	// passed.
	CloseExpired = 4003
)

// Default timings of a connection. Tests shorten them.
const (
	defaultPingPeriod = 25 * time.Second
	defaultPongWait   = 60 * time.Second
	defaultWriteWait  = 10 * time.Second
	defaultCloseGrace = 2 * time.Second
	defaultSweepEvery = time.Second // how often expired cookies' connections are looked for
)

// cookieStripes is the number of locks that order a logout and a rotation
// of one cookie.
const cookieStripes = 64

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
	cookie       *config.Cookie           // nil = tracking off; every default filled in
	auth         *config.Auth             // nil = no authentication
	methods      []string                 // the login methods of the hello
	origins      []string                 // lower-case patterns of allowed_origins
	nullOrigin   bool                     // allow_null_origin
	hosts        hostRule                 // allowed_hosts
	listener     atomic.Pointer[net.Addr] // set by a Server: the address its transport listens on
	trusted      []netip.Prefix           // trusted_proxies
	maxMessage   int64
	maxPerCookie int // <= 0 = no cap

	store Store
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	hooks Hooks

	upgrader websocket.Upgrader
	reg      *registry
	rot      *rotations   // pending rotation tokens
	clients  *clients     // the limits per client address
	closing  atomic.Bool  // set by Shutdown: new handshakes get 503
	active   atomic.Int64 // handshakes and connections still in ServeHTTP

	// A logout and a rotation of one cookie take its stripe, so that a
	// logout cannot miss the connections that a rotation moves. A revoke
	// excludes rotations, so that none turns a revoked login into a cookie.
	cookieLocks [cookieStripes]sync.Mutex
	revoking    sync.RWMutex

	sweeping    atomic.Bool   // the expiry sweep runs
	stop        chan struct{} // closed by Shutdown
	stopOnce    sync.Once
	unsubscribe func() // the Notifier subscription; nil without one

	pingPeriod, pongWait, writeWait, closeGrace, sweepEvery time.Duration

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
// message, 100 connections per cookie, 100 new cookies a second per client
// address in a bucket of 1000, the same origin only, and no trusted proxy.
// Negative limits (config.Unlimited) remove them. Without AllowedHosts.Set,
// the hosts answered depend on the listener: a Server tells its trackers
// the address it bound; a Tracker mounted elsewhere takes the local
// address of each connection, so that one reached over loopback answers
// the loopback names only. Set AllowedHosts when a proxy on the same host
// forwards to it under another name.
//
// If store implements Notifier, the tracker subscribes to it until
// Shutdown; if it implements Readiness, handshakes wait for it.
func NewTracker(svc *config.WebSocket, store Store, opts TrackerOptions) (*Tracker, error) {
	if svc == nil {
		return nil, errors.New("new tracker: no WebSocket service given")
	}
	t := &Tracker{
		auth:         svc.Auth,
		methods:      loginMethods(svc.Auth),
		nullOrigin:   svc.AllowNullOrigin,
		hosts:        newHostRule(svc.AllowedHosts),
		trusted:      svc.TrustedProxies,
		clients:      newClients(svc),
		rot:          newRotations(),
		stop:         make(chan struct{}),
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
		sweepEvery:   defaultSweepEvery,
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
		if err := (&http.Cookie{Name: cc.Name, Value: "x"}).Valid(); err != nil {
			return nil, fmt.Errorf("new tracker: cookie name: %w", err)
		}
		t.cookie = &cc
		if n, ok := store.(Notifier); ok {
			t.unsubscribe = n.Subscribe(t.storeEvent)
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

// ready reports whether the store can answer (see Readiness).
func (t *Tracker) ready() bool {
	if rs, ok := t.store.(Readiness); ok {
		return rs.Ready()
	}
	return true
}

// clientAddr is the address the limits count r by.
func (t *Tracker) clientAddr(r *http.Request) netip.Addr { return clientAddr(r, t.trusted) }

// lockCookie takes the stripe of cookie d and returns its unlock.
func (t *Tracker) lockCookie(d record.Digest) func() {
	m := &t.cookieLocks[d[0]%cookieStripes]
	m.Lock()
	return m.Unlock
}

// lockCookieOf takes the stripe of c's cookie, following a rotation that
// moves c meanwhile, and returns the cookie and the unlock.
func (t *Tracker) lockCookieOf(c *Conn) (record.Digest, func()) {
	for {
		d := t.reg.digestOf(c)
		unlock := t.lockCookie(d)
		if t.reg.digestOf(c) == d {
			return d, unlock
		}
		unlock()
	}
}

// ServeHTTP serves the WebSocket service: a handshake, and then the
// connection until it closes; with tracking on, also the POST of a
// rotation token (see the package documentation). The answers that refuse
// a handshake are 421 for a Host that allowed_hosts does not list, 403 for
// a foreign origin, 429 for a cookie at its connection cap or a client
// address past its new-cookie limit, and 503 when the store cannot keep a
// new cookie, is not ready, or the tracker is shutting down; the upgrader
// answers 400 or 405 to requests that are not WebSocket handshakes.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !t.hostAllowed(r) {
		misdirected(w)
		t.count(handshakeRefused)
		return
	}
	if r.Method == http.MethodPost && t.cookie != nil {
		t.serveRotate(w, r)
		return
	}
	if !isHandshake(r) {
		// No cookie work for what cannot become a WebSocket: the upgrader
		// writes the precise error.
		_, _ = t.upgrader.Upgrade(w, r, nil)
		return
	}
	t.handshake(w, r)
}
