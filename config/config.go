package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cookiestore/journal"
	"cookiestore/record"
)

// DefaultJSON is the built-in configuration that Default returns, as a
// config file. It is also a starting point for writing one.
const DefaultJSON = `{
  "transports": [
    {
      "type": "web",
      "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 8080},
      "paths": {
        "/": {"type": "page"},
        "ws": {
          "type": "websocket",
          "cookie": {
            "name": "cbtid",
            "length": 24,
            "max_age": 86400,
            "store": {"type": "file", "filename": "cookies.dat", "sync": "always"}
          },
          "auth": {
            "cookie": {},
            "ticket": {"type": "static", "principals": {}},
            "anonymous": {"type": "static", "role": "anonymous"}
          }
        },
        "status": {"type": "status"},
        "metrics": {"type": "metrics"}
      }
    }
  ]
}
`

// Defaults that a zero field stands for, for code that builds a WebSocket
// description by hand, and that Parse fills in.
const (
	DefaultCookieName              = "cbtid"
	DefaultCookieLength            = record.DefaultIDLength // 24 characters: 144 bits
	DefaultMaxAge                  = 24 * time.Hour         // as the seed documents (Crossbar's code says 7 days)
	DefaultMaxMessageSize          = 64 << 10
	DefaultMaxConnectionsPerCookie = 100
	DefaultMaxNewCookiesPerSecond  = 100
	DefaultNewCookieBurst          = 1000
	DefaultAnonymousRole           = "anonymous"
	DefaultRealm                   = "default"
	DefaultSyncInterval            = journal.DefaultSyncInterval
	DefaultStream                  = "COOKIES"
	DefaultReplicas                = 1
	DefaultSubjectPrefix           = "cookies"
)

// Unlimited is the value of a limit that a config turned off with 0
// (max_new_cookies_per_second, new_cookie_burst) or that a program turns
// off by hand (also MaxConnectionsPerCookie): any negative value means no
// limit, so that the zero value keeps meaning the default.
const Unlimited = -1

// Config is a validated configuration. Every value in it has passed its rule
// and every default is filled in, so the server never re-checks it.
type Config struct {
	Transports []*Transport // in the order of the config file
	// Warnings name the Crossbar settings that were accepted but have no
	// effect here, and other things that work but are likely mistakes,
	// one line each, starting with the JSON path.
	Warnings []string
	// Recommendations are safer settings that the config could use (a
	// __Host- cookie name on a TLS endpoint), one line each, starting with
	// the JSON path. `cookiestore check` prints them.
	Recommendations []string
}

// TransportType is a transport's "type".
type TransportType string

// The transport types cookiestore serves.
const (
	TransportWeb       TransportType = "web"       // an HTTP server with path services
	TransportWebSocket TransportType = "websocket" // a WebSocket service on the transport itself, at "/"
)

// Transport is one listening socket.
type Transport struct {
	Path      string        // JSON path, e.g. "transports[0]" or "workers[0].transports[1]"
	Type      TransportType // web or websocket
	Endpoint  Endpoint      // where it listens
	Paths     []*Service    // web only: the path services, sorted by URLPath
	WebSocket *WebSocket    // websocket only: the service on the transport itself, served at "/"
	Store     *Store        // websocket only: where its cookies are kept; nil when it has no cookie block
}

// Endpoint is a TCP listening address.
type Endpoint struct {
	Type      string // always "tcp"
	Interface string // IP address or host name to listen on; "" (the default, as in Crossbar) means all interfaces
	Port      int    // 1..65535
	TLS       *TLS   // nil = plain HTTP
}

// TLS names the PEM files of a TLS endpoint. Both exist and form a valid
// key pair when the config is parsed.
type TLS struct {
	Key         string // private key file, resolved against the node directory
	Certificate string // certificate (chain) file, resolved against the node directory
}

// ServiceType is a path service's "type".
type ServiceType string

// The path service types cookiestore serves.
const (
	ServiceStatic    ServiceType = "static"    // the files of a folder
	ServiceWebSocket ServiceType = "websocket" // WebSocket connections, tracked with a cookie block
	ServiceStatus    ServiceType = "status"    // the JSON status document (a cookiestore extension)
	ServiceMetrics   ServiceType = "metrics"   // Prometheus metrics (a cookiestore extension)
	ServicePage      ServiceType = "page"      // the built-in page (a cookiestore extension)
)

// Service is one path service of a web transport.
type Service struct {
	Path      string      // JSON path of the service, e.g. `transports[0].paths.ws` or `transports[0].paths["/"]`
	URLPath   string      // where it is served: "/" for the key "/", "/ws" for the key "ws"
	Type      ServiceType // static, websocket, status, metrics or page
	Directory string      // static only: an existing folder, resolved against the node directory
	WebSocket *WebSocket  // websocket only
	Store     *Store      // websocket only: where its cookies are kept; nil when it has no cookie block
}

// WebSocket describes a WebSocket service: its cookie tracking, its
// authentication and its options. A zero field means its default, so a
// program may build one by hand; Parse fills every default in.
type WebSocket struct {
	Cookie *Cookie // nil = no cookie tracking
	Auth   *Auth   // nil = no authentication

	// AllowedOrigins (options.allowed_origins) are origin patterns, where
	// "*" matches any run of characters; empty = the same origin only.
	AllowedOrigins []string
	// AllowNullOrigin (options.allow_null_origin) lets the Origin "null"
	// (sandboxed frames, file: pages) pass; false refuses it.
	AllowNullOrigin bool
	// AllowedHosts (options.allowed_hosts) are the Host header values that
	// the service answers; others get 421 Misdirected Request.
	AllowedHosts Hosts
	// MaxMessageSize (options.max_message_size) is the largest message a
	// client may send, in bytes; 0 = 64 KiB.
	MaxMessageSize int
	// MaxConnectionsPerCookie (options.max_connections_per_cookie) caps the
	// live connections that share one cookie; 0 = 100, negative = no cap.
	MaxConnectionsPerCookie int
	// MaxNewCookiesPerSecond (options.max_new_cookies_per_second) is the
	// rate at which one client address may be issued new cookies, refilling
	// a bucket of NewCookieBurst; past it a handshake gets 429. 0 = 100,
	// negative (0 in a config) = unlimited.
	MaxNewCookiesPerSecond int
	// NewCookieBurst (options.new_cookie_burst) is the size of that bucket:
	// the new cookies one client address may get at once. 0 = 1000,
	// negative (0 in a config) = unlimited.
	NewCookieBurst int
	// TrustedProxies (options.trusted_proxies) are the networks of the
	// reverse proxies whose X-Forwarded-For header names the client
	// address; from any other peer the header is not believed. A bare
	// address in the config is a /32 or /128. Empty = trust no proxy.
	TrustedProxies []netip.Prefix
}

// Hosts is options.allowed_hosts. Its zero value means the key was left
// out, which is not the same as an empty list.
type Hosts struct {
	// Set says that the config gave a list. When false, the default for the
	// listener applies: on a loopback address, the loopback names
	// "localhost", "127.0.0.1" and "[::1]" with the listener's port; on any
	// other address, every host.
	Set bool
	// Names are the hosts that pass when Set, lower case: "example.com"
	// (any port) or "example.com:8443" (that port only), IPv6 addresses in
	// brackets ("[::1]:8080"). With Set and no names, no host passes.
	Names []string
}

// Cookie is a "cookie" block: how the tracking cookie looks. Its zero value
// is the secure default: a cookie named "cbtid" of 24 characters that lives
// a day, HttpOnly, SameSite=Lax, and Secure whenever served over TLS.
type Cookie struct {
	// Name is the cookie's name; "" = "cbtid". Crossbar's rule
	// ^[a-z][a-z0-9_]+$, optionally after the prefix "__Host-" or
	// "__Secure-", which needs Secure or TLS.
	Name string
	// Length is the ID length in characters, record.MinIDLength to
	// record.MaxIDLength; 0 = 24.
	Length int
	// MaxAge is the cookie's lifetime, whole seconds from 1s to 10 years;
	// 0 = one day.
	MaxAge time.Duration
	// Secure forces the Secure attribute without TLS (behind a TLS proxy);
	// under TLS it is set anyway.
	Secure bool
	// ScriptReadable drops the HttpOnly attribute, so that page scripts can
	// read the cookie ("http_strict": false). HttpOnly is on by default,
	// unlike Crossbar.
	ScriptReadable bool
	// SameSite is the SameSite attribute; 0 = http.SameSiteLaxMode, unlike
	// Crossbar.
	SameSite http.SameSite
}

// StoreType is a cookie store's "type".
type StoreType string

// The cookie store types.
const (
	StoreMemory StoreType = "memory" // an index in memory, gone when the process ends
	StoreFile   StoreType = "file"   // the index fed by an append-only journal (package filestore)
	StoreNATS   StoreType = "nats"   // the index fed by a NATS JetStream stream, shared by nodes (a cookiestore extension)
)

// Store is a cookie block's "store": where the cookies are kept. The fields
// after Type belong to one store type each.
type Store struct {
	Type StoreType

	// Filename (file) is the journal, resolved against the node directory.
	Filename string
	// PurgeOnStartup (file) compacts the journal when it is opened.
	PurgeOnStartup bool
	// Sync (file) says when a change is durable; the zero value is
	// journal.SyncAlways.
	Sync journal.SyncMode
	// SyncInterval (file, with Sync journal.SyncInterval) is the time
	// between syncs; 0 = 100ms.
	SyncInterval time.Duration

	// URLs (nats) are the NATS servers to connect to, from the
	// comma-separated "url"; at least one.
	URLs []string
	// Stream (nats) is the JetStream stream that holds the cookies;
	// "" = "COOKIES".
	Stream string
	// Replicas (nats) is the stream's replica count, 1 to 5; 0 = 1.
	Replicas int
	// Creds (nats) is a credentials file, resolved against the node
	// directory; "" = connect without one.
	Creds string
	// SubjectPrefix (nats) begins the subject of every cookie's messages;
	// "" = "cookies".
	SubjectPrefix string
}

// Auth is an "auth" block. At least one method is on.
type Auth struct {
	Cookie    bool       // "cookie": {}: a returning cookie that carries auth is logged in again
	Anonymous *Anonymous // nil = anonymous clients are not authenticated
	Ticket    *Ticket    // nil = no ticket login
}

// Anonymous is the "anonymous" method.
type Anonymous struct {
	Role string // role given to anonymous clients; "" = "anonymous"
}

// Ticket is the "ticket" method with a static list of principals.
type Ticket struct {
	Principals map[string]Principal // by authid; never nil after Parse
}

// Principal is one user of static ticket authentication.
type Principal struct {
	Ticket string // the shared secret, after "$NAME" environment lookup
	Role   string // the role granted on login
	Realm  string // the realm reported on login; "" = "default"
}

// Error is one problem in a configuration.
type Error struct {
	File string // the config file, when read by Load
	Path string // JSON path of the value at fault, e.g. "transports[0].endpoint.port"; "" for the whole document
	Msg  string // the rule it breaks, e.g. "must be between 1 and 65535, got 0"
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, in the order they were
// found.
type Errors []*Error

// Error returns one line per problem.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Default returns the built-in configuration, DefaultJSON, with its store
// file in nodeDir: a web transport on 127.0.0.1:8080 with the built-in page
// at "/", WebSocket cookie tracking at "/ws" backed by nodeDir/cookies.dat,
// "/status" and "/metrics".
func Default(nodeDir string) *Config {
	cfg, err := Parse([]byte(DefaultJSON), nodeDir)
	if err != nil {
		// Unreachable: the default touches no file and no environment
		// variable, so its validity does not depend on the machine, and
		// TestDefault parses it.
		panic("config: the built-in default config is invalid: " + err.Error())
	}
	return cfg
}

// Load reads and parses the config file at path. Relative file names in it
// are resolved against nodeDir. Problems in the file come back as Errors
// whose entries name the file. Beyond Parse's rules, no static folder may
// hold the config file itself.
func Load(path, nodeDir string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	self, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parse(data, nodeDir, self)
	if err != nil {
		var errs Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				e.File = path
			}
		}
		return nil, err
	}
	return cfg, nil
}

// Parse parses and validates a configuration: a Crossbar node config
// ({"workers": [{"type": "router", "transports": [...]}]}) or the bare
// {"transports": [...]} of Crossbar's documentation. Relative file and
// folder names are resolved against nodeDir, and the files that must exist
// (static folders, TLS key and certificate, NATS credentials) are checked.
//
// On failure the error is an Errors that lists every problem, each naming
// the JSON path and the rule, e.g.
//
//	transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3
//
// Malformed JSON gives one problem, with no path, that names the line and
// column.
func Parse(data []byte, nodeDir string) (*Config, error) {
	return parse(data, nodeDir, "")
}

// parse is Parse for a document read from configFile ("" = not a file).
func parse(data []byte, nodeDir, configFile string) (*Config, error) {
	p := &parser{nodeDir: nodeDir}
	if configFile != "" {
		p.guard("", configFile, "the config file")
	}
	// Editors on some systems write a byte order mark; JSON has no use for it.
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	root, err := p.decode(data)
	if err != nil {
		return nil, Errors{{Msg: syntaxMessage(data, err)}}
	}
	cfg := p.document(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return cfg, nil
}
