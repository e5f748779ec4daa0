package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"cookiestore/config"
	"cookiestore/memstore"
)

// Defaults of Options.
const (
	defaultShutdownTimeout   = 5 * time.Second
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 2 * time.Minute
	// maxHeaderBytes is far above what browsers send (they cap cookies at
	// about 4 KiB each) and far below net/http's 1 MiB default.
	maxHeaderBytes = 64 << 10
)

// Options configure New. Zero values are sane.
type Options struct {
	Logger *slog.Logger     // nil = slog.Default()
	Clock  func() time.Time // nil = time.Now; cookie creation and expiry
	Rand   io.Reader        // nil = crypto/rand; the source of cookie IDs

	// OpenStore opens the store of one cookie block. nil = memory stores
	// only: a "file" or "nats" store is then an error that says to open
	// the config with package node, which opens every store type and runs
	// the server. onSync is to be passed to a file store so that /metrics
	// gets the fsync latency.
	OpenStore func(sc config.Store, onSync func(time.Duration, error)) (Store, error)

	Hooks Hooks // OnConnect, OnAuth, OnClose (all optional), for every WebSocket service

	ShutdownTimeout   time.Duration // how long Serve waits for connections to close; default 5s
	ReadHeaderTimeout time.Duration // how long a client may take to send its request header; default 10s
	IdleTimeout       time.Duration // how long an idle keep-alive connection stays open; default 2 minutes
	Version           string        // reported by /status; "" = the module version from the build info
}

// Server serves every transport of a config.Config: one listener and one
// http.Server per transport.
type Server struct {
	log     *slog.Logger
	opts    Options
	now     func() time.Time
	started time.Time
	version string

	transports []*transport
	services   []*socketService
	metrics    *metrics

	mu        sync.Mutex
	listening bool
	stop      chan struct{} // closed by Close
	stopOnce  sync.Once
	shutOnce  sync.Once
	shutErr   error
}

// transport is one listening socket and its http.Server.
type transport struct {
	cfg *config.Transport
	srv *http.Server
	tls *tls.Config
	ln  net.Listener
}

// socketService is a WebSocket service with its tracker and store (nil when
// tracking is off).
type socketService struct {
	path    string // JSON path in the config
	url     string // URL path
	tracker *Tracker
	store   Store
	typ     string // store type
}

// New builds the handlers of every transport in cfg and opens the cookie
// stores through Options.OpenStore (a WebSocket service with a cookie block
// and no Store, as a program may build one, gets a memory store). It does
// not listen yet; see Listen and Serve. On error, the stores opened so far
// are closed again.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if cfg == nil || len(cfg.Transports) == 0 {
		return nil, errors.New("new server: the config has no transports")
	}
	s := &Server{opts: opts, log: opts.Logger, now: opts.Clock, version: opts.Version, stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.version == "" {
		s.version = buildVersion()
	}
	if s.opts.ShutdownTimeout <= 0 {
		s.opts.ShutdownTimeout = defaultShutdownTimeout
	}
	if s.opts.ReadHeaderTimeout <= 0 {
		s.opts.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if s.opts.IdleTimeout <= 0 {
		s.opts.IdleTimeout = defaultIdleTimeout
	}
	s.started = s.now()
	s.metrics = newMetrics(s)
	for _, tc := range cfg.Transports {
		tr, err := s.buildTransport(tc)
		if err != nil {
			return nil, errors.Join(err, s.closeStores())
		}
		s.transports = append(s.transports, tr)
	}
	return s, nil
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (s *Server) buildTransport(tc *config.Transport) (*transport, error) {
	if tc.Endpoint.Type != "" && tc.Endpoint.Type != "tcp" {
		return nil, fmt.Errorf("%s.endpoint.type: %q is not supported (only \"tcp\")", tc.Path, tc.Endpoint.Type)
	}
	mux := http.NewServeMux()
	switch tc.Type {
	case config.TransportWebSocket:
		h, err := s.buildWebSocket(tc.Path, "/", tc.WebSocket, tc.Store)
		if err != nil {
			return nil, err
		}
		mux.Handle("/", h)
	case config.TransportWeb:
		for _, svc := range tc.Paths {
			h, err := s.buildService(svc)
			if err != nil {
				return nil, err
			}
			if err := handle(mux, svc, h); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%s.type: transport type %q is not supported (only \"web\" and \"websocket\")", tc.Path, tc.Type)
	}
	tr := &transport{cfg: tc}
	if tc.Endpoint.TLS != nil {
		pair, err := tls.LoadX509KeyPair(tc.Endpoint.TLS.Certificate, tc.Endpoint.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("%s.endpoint.tls: load the key pair: %w", tc.Path, err)
		}
		tr.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	tr.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Connection-level noise (TLS handshake failures of scanners and
		// the like) is worth a debug line, not a warning.
		ErrorLog: slog.NewLogLogger(s.log.With("transport", tc.Path).Handler(), slog.LevelDebug),
	}
	return tr, nil
}

// handle mounts h for svc. Static folders and the page serve a subtree
// ("/" catches everything else); the other services answer on their exact
// path. The page handler matches full paths itself, so only static
// folders have their prefix stripped.
func handle(mux *http.ServeMux, svc *config.Service, h http.Handler) (err error) {
	if strings.ContainsAny(svc.URLPath, "{} \t") || !strings.HasPrefix(svc.URLPath, "/") {
		return fmt.Errorf("%s: cannot serve the path %q", svc.Path, svc.URLPath)
	}
	// ServeMux panics on a conflicting pattern; a config must not crash us.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: cannot serve the path %q: %v", svc.Path, svc.URLPath, r)
		}
	}()
	switch {
	case svc.URLPath == "/" && (svc.Type == config.ServiceStatic || svc.Type == config.ServicePage):
		mux.Handle("/", h)
	case svc.URLPath == "/":
		mux.Handle("/{$}", h)
	case svc.Type == config.ServiceStatic:
		mux.Handle(svc.URLPath+"/", http.StripPrefix(svc.URLPath, h))
	case svc.Type == config.ServicePage:
		mux.Handle(svc.URLPath, h)
		mux.Handle(svc.URLPath+"/", h)
	default:
		mux.Handle(svc.URLPath, h)
	}
	return nil
}

func (s *Server) buildService(svc *config.Service) (http.Handler, error) {
	switch svc.Type {
	case config.ServiceWebSocket:
		return s.buildWebSocket(svc.Path, svc.URLPath, svc.WebSocket, svc.Store)
	case config.ServiceStatic:
		if svc.Directory == "" {
			return nil, fmt.Errorf("%s.directory: no folder to serve", svc.Path)
		}
		return gzhttp.GzipHandler(http.FileServer(http.Dir(svc.Directory))), nil
	case config.ServiceStatus:
		return http.HandlerFunc(s.serveStatus), nil
	case config.ServiceMetrics:
		return s.metrics.handler(), nil
	case config.ServicePage:
		return newPageHandler(svc), nil
	}
	return nil, fmt.Errorf("%s.type: service type %q is not supported", svc.Path, svc.Type)
}

// buildWebSocket opens the store of a WebSocket service and returns its
// tracker. A service with a cookie block and no store description (built
// by hand) gets a memory store.
func (s *Server) buildWebSocket(path, urlPath string, ws *config.WebSocket, sc *config.Store) (http.Handler, error) {
	if ws == nil {
		return nil, fmt.Errorf("%s: WebSocket service without settings", path)
	}
	svc := &socketService{path: path, url: urlPath}
	if ws.Cookie != nil {
		if sc == nil {
			sc = &config.Store{Type: config.StoreMemory}
		}
		st, err := s.openStore(*sc)
		if err != nil {
			return nil, fmt.Errorf("%s.cookie.store: %w", path, err)
		}
		svc.store, svc.typ = st, string(sc.Type)
		// Registered before NewTracker can fail, so that New closes it.
		s.services = append(s.services, svc)
	}
	t, err := NewTracker(ws, svc.store, TrackerOptions{
		Logger: s.log.With("service", urlPath),
		Clock:  s.opts.Clock,
		Rand:   s.opts.Rand,
		Hooks:  s.opts.Hooks,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.onHandshake = s.metrics.handshake
	svc.tracker = t
	if ws.Cookie == nil {
		s.services = append(s.services, svc)
	}
	return t, nil
}

// The memory backend is the built-in store of "memory" cookie blocks.
var _ Store = (*memstore.Store)(nil)

func (s *Server) openStore(sc config.Store) (Store, error) {
	if s.opts.OpenStore != nil {
		st, err := s.opts.OpenStore(sc, s.metrics.observeSync)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return nil, fmt.Errorf("open %s store: OpenStore returned no store", sc.Type)
		}
		return st, nil
	}
	if sc.Type == config.StoreMemory || sc.Type == "" {
		return memstore.New(memstore.Options{Clock: s.now}), nil
	}
	// httpd builds in memory stores only: the others belong to package
	// node, which imports this one.
	return nil, fmt.Errorf("store type %q is not built into package httpd: open the config with package node (node.New), or give Options.OpenStore", sc.Type)
}

// Listen binds the endpoint of every transport. When one cannot be bound,
// those bound already are released and the error names the transport and
// the address (for example "address already in use").
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped() {
		return errors.New("listen: the server is closed")
	}
	if s.listening {
		return nil
	}
	for i, tr := range s.transports {
		ep := tr.cfg.Endpoint
		addr := net.JoinHostPort(ep.Interface, strconv.Itoa(ep.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, prev := range s.transports[:i] {
				_ = prev.ln.Close()
				prev.ln = nil
			}
			return fmt.Errorf("%s: listen on %s: %w", tr.cfg.Path, addr, err)
		}
		if tr.tls != nil {
			ln = tls.NewListener(ln, tr.tls)
		}
		tr.ln = ln
	}
	s.listening = true
	return nil
}

// Addrs returns the bound address of every transport, in config order,
// after Listen.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, tr := range s.transports {
		if tr.ln != nil {
			out = append(out, tr.ln.Addr())
		}
	}
	return out
}

func (s *Server) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Serve serves every transport until ctx ends, Close is called or a
// listener fails; it calls Listen first if needed. Then it shuts down
// gracefully: WebSockets are closed with 1001 "going away", HTTP requests
// in flight get up to Options.ShutdownTimeout to finish, and the stores are
// closed, which syncs them and releases their locks. It returns nil after
// a shutdown that ctx or Close asked for.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	errc := make(chan error, len(s.transports))
	for _, tr := range s.transports {
		s.log.Info("listening", "url", listenURL(tr.ln.Addr(), tr.tls != nil), "transport", tr.cfg.Path)
		go func() {
			err := tr.srv.Serve(tr.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("%s: serve: %w", tr.cfg.Path, err)
			}
			errc <- err
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", context.Cause(ctx))
	case <-s.stop:
	case serveErr = <-errc:
		s.log.Error("transport failed; shutting down", "err", serveErr)
	}
	shutErr := s.shutdown()
	for range len(s.transports) - boolInt(serveErr != nil) {
		if err := <-errc; err != nil && serveErr == nil {
			serveErr = err
		}
	}
	return errors.Join(serveErr, shutErr)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close stops the server at once if it is serving (as Serve's shutdown
// does), or releases its listeners and stores if it never served. It is
// safe to call more than once and returns the shutdown's error.
func (s *Server) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	return s.shutdown()
}

// shutdown runs once: it closes the WebSockets with 1001 and HTTP, then
// the stores.
func (s *Server) shutdown() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.shutOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		collect := func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		for _, svc := range s.services {
			if svc.tracker == nil {
				continue
			}
			wg.Go(func() {
				if err := svc.tracker.Shutdown(ctx); err != nil {
					collect(fmt.Errorf("%s: %w", svc.path, err))
				}
			})
		}
		for _, tr := range s.transports {
			wg.Go(func() {
				if err := tr.srv.Shutdown(ctx); err != nil {
					_ = tr.srv.Close()
					collect(fmt.Errorf("%s: shut down HTTP: %w", tr.cfg.Path, err))
				}
				// http.Server closes only the listeners it serves; Close
				// without Serve leaves this one to us.
				s.mu.Lock()
				if tr.ln != nil {
					_ = tr.ln.Close()
				}
				s.mu.Unlock()
			})
		}
		wg.Wait()
		collect(s.closeStores())
		s.shutErr = errors.Join(errs...)
		s.log.Info("server stopped", "err", s.shutErr)
	})
	return s.shutErr
}

// closeStores closes every store opened so far (which syncs a file store
// and releases its lock).
func (s *Server) closeStores() error {
	var errs []error
	for _, svc := range s.services {
		if svc.store == nil {
			continue
		}
		if err := svc.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close the cookie store: %w", svc.path, err))
		}
	}
	return errors.Join(errs...)
}

// listenURL is the address to open in a browser, for the log: an endpoint on
// every interface is shown as localhost.
func listenURL(a net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host := a.String()
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		host = net.JoinHostPort("localhost", strconv.Itoa(ta.Port))
	}
	return scheme + "://" + host + "/"
}
