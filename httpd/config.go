package httpd

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cookiestore/record"
)

// The configuration is Crossbar.io's JSON shape, reduced to what a cookie
// tracking server needs (docs/CONFIG.md is the reference). It is checked
// whole: ParseConfig walks every value, collects every problem with the JSON
// path of the value at fault, and returns either a complete *Config or all
// the problems at once, so an operator fixes a config in one round.
//
// Crossbar keys that cookiestore accepts but does not act on (serializers,
// realms, most WebSocket options, ...) are reported in Config.Warnings rather
// than dropped silently; keys that neither knows are errors.

// DefaultConfigJSON is the built-in configuration that DefaultConfig returns,
// as a config file. It is also a starting point for writing one.
const DefaultConfigJSON = `{
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

// Defaults and limits of the configuration, in the units of the JSON keys.
const (
	cfgDefaultCookieName              = "cbtid"
	cfgDefaultCookieMaxAge            = 86400     // seconds: one day, as the seed documents (Crossbar's code says 7 days)
	cfgMaxCookieMaxAge                = 315360000 // seconds: ten years of 365 days
	cfgDefaultMaxMessageSize          = 64 << 10
	cfgMaxMaxMessageSize              = 64 << 20 // Crossbar's own upper bound for max_message_size
	cfgDefaultMaxConnectionsPerCookie = 100
	cfgMaxMaxConnectionsPerCookie     = 1_000_000
	cfgDefaultSyncIntervalMS          = 100
	cfgMaxSyncIntervalMS              = 60000
	cfgDefaultAnonymousRole           = "anonymous"
	cfgDefaultRealm                   = "default"
	cfgNodeConfigVersion              = 2   // the only Crossbar node config version Crossbar itself still reads
	cfgMaxProblems                    = 100 // like a compiler, stop listing after this many: the rest is noise
)

var (
	// cfgCookieNamePattern is Crossbar's rule for cookie names.
	cfgCookieNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]+$`)
	// cfgPathKeyPattern is Crossbar's rule for the keys of a web transport's
	// "paths": one segment, no slashes, or "/" for the root.
	cfgPathKeyPattern = regexp.MustCompile(`^([a-zA-Z0-9_-]+|/)$`)
	// cfgEnvPattern is Crossbar's way to take a secret or a port from the
	// environment: the whole value is "$NAME".
	cfgEnvPattern = regexp.MustCompile(`^\$([A-Z0-9_]+)$`)
	// cfgHostPattern accepts a DNS host name for an endpoint's interface.
	cfgHostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
)

// Config is a validated configuration. Every value in it has passed its rule
// and every default is filled in, so the server never re-checks it.
type Config struct {
	Transports []*Transport // in the order of the config file
	Warnings   []string     // Crossbar settings that were accepted but are not used, one line each, naming the JSON path
}

// Transport is one listening socket.
type Transport struct {
	Path      string            // JSON path, e.g. "transports[0]" or "workers[0].transports[1]"
	Type      string            // "web" or "websocket"
	Endpoint  Endpoint          // where it listens
	Paths     []*Service        // "web" only: the path services, sorted by URLPath
	WebSocket *WebSocketService // "websocket" only: the service on the transport itself, served at "/"
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

// Service is one path service of a web transport.
type Service struct {
	Path      string            // JSON path of the service, e.g. `transports[0].paths.ws` or `transports[0].paths["/"]`
	URLPath   string            // where it is served: "/" for the key "/", "/ws" for the key "ws"
	Type      string            // "static", "websocket", "status", "metrics" or "page" (the built-in page; a cookiestore extension)
	Directory string            // "static" only: an existing folder, resolved against the node directory
	WebSocket *WebSocketService // "websocket" only
}

// WebSocketService is a WebSocket endpoint, with cookie tracking and
// authentication when configured.
type WebSocketService struct {
	Cookie                  *CookieConfig // nil = no cookie tracking
	Auth                    *AuthConfig   // nil = no authentication
	AllowedOrigins          []string      // options.allowed_origins: origin patterns where "*" matches any run of characters; empty = same origin only
	MaxMessageSize          int           // options.max_message_size in bytes; default 65536
	MaxConnectionsPerCookie int           // options.max_connections_per_cookie (cookiestore extension); default 100
}

// CookieConfig is a "cookie" block: how the tracking cookie looks and where
// it is stored.
type CookieConfig struct {
	Name     string        // cookie name; default "cbtid"
	Length   int           // ID length in characters, record.MinIDLength..record.MaxIDLength; default 24
	MaxAge   time.Duration // lifetime, whole seconds from 1s to 10 years; default 1 day
	Secure   bool          // force the Secure attribute even without TLS (e.g. behind a TLS proxy); the server adds it under TLS anyway
	HTTPOnly bool          // the HttpOnly attribute; default true, unlike Crossbar; "http_strict": false turns it off
	SameSite http.SameSite // default http.SameSiteLaxMode, unlike Crossbar
	Store    StoreConfig   // where cookies are kept
}

// StoreConfig is a cookie block's "store".
type StoreConfig struct {
	Type           string        // "memory" or "file"
	Filename       string        // "file" only: journal path, resolved against the node directory
	PurgeOnStartup bool          // "file" only: compact the journal when it is opened
	Sync           string        // "file" only: "always" (default), "interval" or "none"; empty for "memory"
	SyncInterval   time.Duration // "file" with Sync "interval" only: time between syncs; default 100ms
}

// AuthConfig is an "auth" block. At least one method is on.
type AuthConfig struct {
	Cookie    bool           // "cookie": {} — a returning cookie that carries auth is logged in again
	Anonymous *AnonymousAuth // nil = anonymous clients are not authenticated
	Ticket    *TicketAuth    // nil = no ticket login
}

// AnonymousAuth is the "anonymous" method.
type AnonymousAuth struct {
	Role string // role given to anonymous clients; default "anonymous"
}

// TicketAuth is the "ticket" method with a static list of principals.
type TicketAuth struct {
	Principals map[string]Principal // by authid; never nil
}

// Principal is one user of static ticket authentication.
type Principal struct {
	Ticket string // the shared secret, after "$NAME" environment lookup
	Role   string // the role granted on login
	Realm  string // the realm reported on login; default "default"
}

// ConfigError is one problem in a configuration.
type ConfigError struct {
	File string // the config file, when loaded by LoadConfig
	Path string // JSON path of the value at fault, e.g. "transports[0].endpoint.port"; "" for the whole document
	Msg  string // the rule it breaks, e.g. "must be between 1 and 65535, got 0"
}

func (e *ConfigError) Error() string {
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

// ConfigErrors is every problem found in a configuration, in the order they
// were found.
type ConfigErrors []*ConfigError

// Error returns one line per problem.
func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach each *ConfigError.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// DefaultConfig returns the built-in configuration, DefaultConfigJSON, with
// its store file in nodeDir: a web transport on 127.0.0.1:8080 with the
// built-in page at "/", WebSocket cookie tracking at "/ws" backed by
// nodeDir/cookies.dat, "/status" and "/metrics".
func DefaultConfig(nodeDir string) *Config {
	cfg, err := ParseConfig([]byte(DefaultConfigJSON), nodeDir)
	if err != nil {
		// Unreachable: the default touches no file and no environment
		// variable, so its validity does not depend on the machine, and
		// TestDefaultConfig parses it.
		panic("httpd: the built-in default config is invalid: " + err.Error())
	}
	return cfg
}

// LoadConfig reads and parses the config file at path. Relative file names
// in it are resolved against nodeDir. Problems in the file come back as
// ConfigErrors whose entries name the file.
func LoadConfig(path, nodeDir string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data, nodeDir)
	if err != nil {
		var errs ConfigErrors
		if errors.As(err, &errs) {
			for _, e := range errs {
				e.File = path
			}
		}
		return nil, err
	}
	return cfg, nil
}

// ParseConfig parses and validates a configuration: a Crossbar node config
// ({"workers": [{"type": "router", "transports": [...]}]}) or the bare
// {"transports": [...]} of Crossbar's documentation. Relative file and folder
// names are resolved against nodeDir, and the files that must exist (static
// folders, TLS key and certificate) are checked.
//
// On failure the error is a ConfigErrors that lists every problem, each
// naming the JSON path and the rule, e.g.
//
//	transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3
//
// Malformed JSON gives one problem, with no path, that names the line and
// column.
func ParseConfig(data []byte, nodeDir string) (*Config, error) {
	p := &cfgParser{nodeDir: nodeDir}
	// Editors on some systems write a byte order mark; JSON has no use for it.
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	root, err := p.decode(data)
	if err != nil {
		return nil, ConfigErrors{{Msg: cfgSyntaxMessage(data, err)}}
	}
	cfg := p.config(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return cfg, nil
}

// cfgSyntaxMessage turns a JSON decoding error into a message that points at
// the line and column of the fault.
func cfgSyntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off := int(se.Offset)
		// Offset counts the bytes read, the bad one included; point at that
		// byte unless the input simply ended.
		if off > 0 && off <= len(data) && !strings.Contains(se.Error(), "unexpected end") {
			off--
		}
		line, col := cfgLineColumn(data, off)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := cfgLineColumn(data, len(data))
		return fmt.Sprintf("invalid JSON at line %d, column %d: unexpected end of JSON input", line, col)
	default:
		return fmt.Sprintf("invalid JSON: %v", err)
	}
}

// cfgLineColumn converts a byte offset into a 1-based line and a 1-based
// column counted in characters.
func cfgLineColumn(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[start:])
}

// cfgKind is the type of a JSON value, named as in error messages.
type cfgKind uint8

const (
	cfgNull cfgKind = iota
	cfgBool
	cfgNumber
	cfgString
	cfgArray
	cfgObject
)

func (k cfgKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// cfgNode is a decoded JSON value. Objects keep their keys in document order,
// so that problems are reported in the order a reader meets them.
type cfgNode struct {
	kind  cfgKind
	b     bool       // cfgBool
	s     string     // cfgString: the value; cfgNumber: the literal
	keys  []string   // cfgObject: keys in document order, without duplicates
	vals  []*cfgNode // cfgObject: values, parallel to keys
	elems []*cfgNode // cfgArray
}

// get returns the value of key in an object, or nil.
func (n *cfgNode) get(key string) *cfgNode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// cfgParser collects problems and warnings while it walks a config.
type cfgParser struct {
	nodeDir   string
	errs      ConfigErrors
	warns     []string
	listeners []cfgListener
	stores    map[string]string // cleaned journal file name -> JSON path of the store using it
	cookies   map[string]string // cookie name -> JSON path of the first cookie block using it
}

// cfgListener is an endpoint already seen, to find two transports on one port.
type cfgListener struct {
	iface string // normalised; "" = all interfaces
	port  int
	owner string // JSON path of the transport
}

func (p *cfgParser) errorf(path, format string, args ...any) {
	switch {
	case len(p.errs) < cfgMaxProblems:
		p.errs = append(p.errs, &ConfigError{Path: cfgShorten(path), Msg: fmt.Sprintf(format, args...)})
	case len(p.errs) == cfgMaxProblems:
		p.errs = append(p.errs, &ConfigError{Msg: fmt.Sprintf("too many problems; only the first %d are listed", cfgMaxProblems)})
	}
}

// cfgShorten elides the middle of a path too long to read, which only a
// machine-made document has; both ends still say where it is.
func cfgShorten(path string) string {
	const head, tail = 100, 200
	if len(path) <= head+tail+10 {
		return path
	}
	i, j := head, len(path)-tail
	for i > 0 && !utf8.RuneStart(path[i]) {
		i--
	}
	for j < len(path) && !utf8.RuneStart(path[j]) {
		j++
	}
	return path[:i] + "…" + path[j:]
}

// full reports whether the problem list is complete, so that a problem's
// path need not be built.
func (p *cfgParser) full() bool { return len(p.errs) > cfgMaxProblems }

func (p *cfgParser) warnf(path, format string, args ...any) {
	p.warns = append(p.warns, path+": "+fmt.Sprintf(format, args...))
}

// cfgJoin returns the JSON path of key inside the object at parent: a dotted
// name when the key reads as one, a quoted index otherwise (`paths["/"]`).
func cfgJoin(parent, key string) string {
	var b strings.Builder
	b.WriteString(parent)
	cfgWriteKey(&b, key)
	return b.String()
}

// cfgIndex returns the JSON path of element i of the array at parent.
func cfgIndex(parent string, i int) string {
	var b strings.Builder
	b.WriteString(parent)
	cfgWriteIndex(&b, i)
	return b.String()
}

// cfgWriteKey appends the step to key to the path in b.
func cfgWriteKey(b *strings.Builder, key string) {
	if !cfgIsIdent(key) {
		b.WriteByte('[')
		b.WriteString(strconv.Quote(key))
		b.WriteByte(']')
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
}

// cfgWriteIndex appends the step to array element i to the path in b.
func cfgWriteIndex(b *strings.Builder, i int) {
	b.WriteByte('[')
	b.WriteString(strconv.Itoa(i))
	b.WriteByte(']')
}

func cfgIsIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// decode parses data into a tree. The standard decoder checks the syntax
// first, because it reports the offset of a fault, and bounds nesting; the
// token pass then keeps the key order and finds duplicate keys, which a map
// would hide.
func (p *cfgParser) decode(data []byte) (*cfgNode, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return p.decodeValue(dec, nil)
}

// cfgTrail is the way from the root to a value being decoded. Its string
// form is built only when a problem needs it: building every value's path
// up front costs time quadratic in the nesting depth.
type cfgTrail struct {
	up    *cfgTrail
	key   string
	index int // -1 for an object member
}

func (tr *cfgTrail) String() string {
	var steps []*cfgTrail
	for t := tr; t != nil; t = t.up {
		steps = append(steps, t)
	}
	var b strings.Builder
	for i := len(steps) - 1; i >= 0; i-- {
		if t := steps[i]; t.index >= 0 {
			cfgWriteIndex(&b, t.index)
		} else {
			cfgWriteKey(&b, t.key)
		}
	}
	return b.String()
}

func (p *cfgParser) decodeValue(dec *json.Decoder, trail *cfgTrail) (*cfgNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n := &cfgNode{kind: cfgArray}
			for i := 0; dec.More(); i++ {
				v, err := p.decodeValue(dec, &cfgTrail{up: trail, index: i})
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		n := &cfgNode{kind: cfgObject}
		var seen map[string]bool
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			here := &cfgTrail{up: trail, key: key, index: -1}
			v, err := p.decodeValue(dec, here)
			if err != nil {
				return nil, err
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			if seen[key] {
				// Crossbar (Python) silently keeps the last one.
				if !p.full() {
					p.errorf(here.String(), "duplicate key")
				}
				continue
			}
			seen[key] = true
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // '}'
		return n, err
	case string:
		return &cfgNode{kind: cfgString, s: t}, nil
	case json.Number:
		return &cfgNode{kind: cfgNumber, s: string(t)}, nil
	case bool:
		return &cfgNode{kind: cfgBool, b: t}, nil
	default:
		return &cfgNode{kind: cfgNull}, nil
	}
}

// isObject reports a problem unless n is an object.
func (p *cfgParser) isObject(path string, n *cfgNode) bool {
	if n.kind != cfgObject {
		p.errorf(path, "must be an object, got %s", n.kind)
		return false
	}
	return true
}

// checkKeys reports each key of the object n that is neither used nor
// ignored as an error, and each ignored one (a Crossbar setting that
// cookiestore does not act on) as a warning.
func (p *cfgParser) checkKeys(path string, n *cfgNode, used, ignored []string) {
	for _, k := range n.keys {
		kp := cfgJoin(path, k)
		switch {
		case slices.Contains(used, k):
		case slices.Contains(ignored, k):
			p.warnf(kp, "ignored: Crossbar setting not used by cookiestore")
		case k == "cookie":
			p.errorf(kp, "cookie tracking needs a WebSocket transport or a websocket path service")
		case len(used)+len(ignored) == 0:
			p.errorf(kp, "unknown key (this block takes no keys)")
		default:
			valid := slices.Concat(used, ignored)
			slices.Sort(valid)
			p.errorf(kp, "unknown key (valid keys: %s)", strings.Join(valid, ", "))
		}
	}
}

// required reports a problem when key is missing from the object n.
func (p *cfgParser) required(path string, n *cfgNode, key string) *cfgNode {
	v := n.get(key)
	if v == nil {
		p.errorf(cfgJoin(path, key), "is required")
	}
	return v
}

// str returns the string value at path. ok is false, with a problem
// reported, when it is of another type.
func (p *cfgParser) str(path string, n *cfgNode) (s string, ok bool) {
	if n.kind != cfgString {
		p.errorf(path, "must be a string, got %s", n.kind)
		return "", false
	}
	return n.s, true
}

// nonEmpty is str that also refuses "".
func (p *cfgParser) nonEmpty(path string, n *cfgNode) (string, bool) {
	s, ok := p.str(path, n)
	if ok && s == "" {
		p.errorf(path, "must not be empty")
		return "", false
	}
	return s, ok
}

// boolean returns the boolean value at path.
func (p *cfgParser) boolean(path string, n *cfgNode) (b, ok bool) {
	if n.kind != cfgBool {
		p.errorf(path, "must be a boolean, got %s", n.kind)
		return false, false
	}
	return n.b, true
}

// integer returns the integer value at path if it lies in [lo, hi]. A
// fraction or an exponent is not an integer, as in Crossbar (Python's JSON
// makes them floats).
func (p *cfgParser) integer(path string, n *cfgNode, lo, hi int64) (int64, bool) {
	if n.kind != cfgNumber {
		p.errorf(path, "must be an integer, got %s", n.kind)
		return 0, false
	}
	v, err := strconv.ParseInt(n.s, 10, 64)
	if err != nil {
		if strings.ContainsAny(n.s, ".eE") {
			p.errorf(path, "must be an integer, got %s", n.s)
		} else {
			p.errorf(path, "must be between %d and %d, got %s", lo, hi, n.s)
		}
		return 0, false
	}
	if v < lo || v > hi {
		p.errorf(path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

// oneOf returns the string at path if it is one of choices.
func (p *cfgParser) oneOf(path string, n *cfgNode, choices ...string) (string, bool) {
	s, ok := p.str(path, n)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, s) {
		p.errorf(path, "must be %s, got %q", cfgQuoteList(choices), s)
		return "", false
	}
	return s, true
}

// cfgQuoteList renders choices as `"a", "b" or "c"`.
func cfgQuoteList(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// env resolves Crossbar's "$NAME" form, which takes a value from the
// environment so that secrets stay out of config files.
func (p *cfgParser) env(path, s string) (string, bool) {
	m := cfgEnvPattern.FindStringSubmatch(s)
	if m == nil {
		return s, true
	}
	v, ok := os.LookupEnv(m[1])
	if !ok {
		p.errorf(path, "environment variable %s is not set", m[1])
		return "", false
	}
	return v, true
}

// resolve makes a file name from the config relative to the node directory.
func (p *cfgParser) resolve(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(p.nodeDir, name)
}

// cfgShowPath names a file for a message: as written, and as resolved when
// that differs, because "../web does not exist" is ambiguous.
func cfgShowPath(given, resolved string) string {
	if given == resolved {
		return strconv.Quote(given)
	}
	return fmt.Sprintf("%q (resolved to %q)", given, resolved)
}

// existing resolves name and checks that it exists and is a folder (dir) or
// a regular file (!dir).
func (p *cfgParser) existing(path, name string, dir bool) (string, bool) {
	resolved := p.resolve(name)
	fi, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.errorf(path, "%s does not exist", cfgShowPath(name, resolved))
		return "", false
	case err != nil:
		p.errorf(path, "cannot use %s: %v", cfgShowPath(name, resolved), err)
		return "", false
	case dir && !fi.IsDir():
		p.errorf(path, "%s is not a directory", cfgShowPath(name, resolved))
		return "", false
	case !dir && !fi.Mode().IsRegular():
		p.errorf(path, "%s is not a regular file", cfgShowPath(name, resolved))
		return "", false
	}
	return resolved, true
}

// config walks the document root.
func (p *cfgParser) config(root *cfgNode) *Config {
	cfg := &Config{}
	if root.kind != cfgObject {
		p.errorf("", "the config must be a JSON object, got %s", root.kind)
		return cfg
	}
	for _, k := range root.keys {
		switch k {
		case "workers", "transports", "version":
		case "controller":
			p.warnf(cfgJoin("", k), "ignored: Crossbar setting not used by cookiestore")
		case "cookie":
			p.errorf(k, "cookie tracking needs a WebSocket transport or a websocket path service")
		default:
			p.warnf(cfgJoin("", k), "ignored: unknown top-level key")
		}
	}
	if v := root.get("version"); v != nil {
		if n, ok := p.integer("version", v, 0, 1<<31); ok && n != cfgNodeConfigVersion {
			p.errorf("version", "must be %d (Crossbar node config version), got %d", cfgNodeConfigVersion, n)
		}
	}
	workers, transports := root.get("workers"), root.get("transports")
	if workers != nil && transports != nil {
		p.errorf("transports", `cannot be combined with "workers": put the transports inside a router worker`)
	}
	if workers != nil {
		if workers.kind != cfgArray {
			p.errorf("workers", "must be an array, got %s", workers.kind)
		} else {
			declared := 0
			for i, w := range workers.elems {
				declared += p.worker(cfgIndex("workers", i), w, cfg)
			}
			if declared == 0 {
				p.errorf("workers", `no transports: a worker of type "router" must hold at least one transport`)
			}
		}
	}
	if transports != nil {
		if transports.kind != cfgArray {
			p.errorf("transports", "must be an array, got %s", transports.kind)
		} else {
			if len(transports.elems) == 0 {
				p.errorf("transports", "must hold at least one transport")
			}
			p.transports("transports", transports, cfg)
		}
	}
	if workers == nil && transports == nil {
		p.errorf("", `no transports: the config needs "transports", or "workers" with a router worker that holds them`)
	}
	cfg.Warnings = p.warns
	return cfg
}

// worker walks workers[i] and returns how many transports it declares.
func (p *cfgParser) worker(path string, n *cfgNode, cfg *Config) int {
	if !p.isObject(path, n) {
		return 0
	}
	tn := p.required(path, n, "type")
	if tn == nil {
		return 0
	}
	typ, ok := p.str(cfgJoin(path, "type"), tn)
	if !ok {
		return 0
	}
	if typ != "router" {
		if n.get("transports") != nil {
			p.errorf(cfgJoin(path, "type"), `worker type %q is not supported by cookiestore: only "router" workers may hold transports`, typ)
		} else {
			p.warnf(path, "ignored: worker type %q is not used by cookiestore", typ)
		}
		return 0
	}
	p.checkKeys(path, n,
		[]string{"type", "transports"},
		[]string{"id", "options", "manhole", "realms", "components", "connections"})
	ts := n.get("transports")
	if ts == nil {
		return 0
	}
	tp := cfgJoin(path, "transports")
	if ts.kind != cfgArray {
		p.errorf(tp, "must be an array, got %s", ts.kind)
		return 0
	}
	p.transports(tp, ts, cfg)
	return len(ts.elems)
}

func (p *cfgParser) transports(path string, n *cfgNode, cfg *Config) {
	for i, tn := range n.elems {
		if t := p.transport(cfgIndex(path, i), tn); t != nil {
			cfg.Transports = append(cfg.Transports, t)
		}
	}
}

// typed checks that n is an object with a string "type", reporting what is
// wrong otherwise, and returns the type.
func (p *cfgParser) typed(path string, n *cfgNode) (string, bool) {
	if !p.isObject(path, n) {
		return "", false
	}
	tn := p.required(path, n, "type")
	if tn == nil {
		return "", false
	}
	return p.str(cfgJoin(path, "type"), tn)
}

// transport walks one transport. It returns nil for those that cannot be
// served, after reporting why.
func (p *cfgParser) transport(path string, n *cfgNode) *Transport {
	typ, ok := p.typed(path, n)
	if !ok {
		return nil
	}
	typePath := cfgJoin(path, "type")
	switch typ {
	case "web":
		p.checkKeys(path, n, []string{"type", "endpoint", "paths"}, []string{"id", "options"})
		t := &Transport{Path: path, Type: typ}
		hasTLS := p.endpoint(path, n, &t.Endpoint)
		if pn := p.required(path, n, "paths"); pn != nil {
			t.Paths = p.paths(cfgJoin(path, "paths"), pn, hasTLS)
		}
		return t
	case "websocket":
		p.checkKeys(path, n,
			[]string{"type", "endpoint", "options", "auth", "cookie"},
			[]string{"id", "url", "serializers", "debug"})
		t := &Transport{Path: path, Type: typ}
		hasTLS := p.endpoint(path, n, &t.Endpoint)
		t.WebSocket = p.websocket(path, n, hasTLS)
		return t
	case "rawsocket":
		if n.get("cookie") != nil {
			p.errorf(cfgJoin(path, "cookie"), "cookie tracking needs a WebSocket transport")
		} else {
			p.errorf(typePath, "rawsocket transports are not supported by cookiestore")
		}
		return nil
	default:
		p.errorf(typePath, "transport type %q is not supported by cookiestore (supported: web, websocket)", typ)
		return nil
	}
}

// endpoint walks the "endpoint" of the transport at path into ep. It reports
// whether a "tls" block is present, valid or not, so that the cookie rules
// that depend on TLS do not add a second problem for the same fault.
func (p *cfgParser) endpoint(owner string, transport *cfgNode, ep *Endpoint) (hasTLS bool) {
	n := p.required(owner, transport, "endpoint")
	if n == nil {
		return false
	}
	path := cfgJoin(owner, "endpoint")
	if !p.isObject(path, n) {
		return false
	}
	p.checkKeys(path, n,
		[]string{"type", "port", "interface", "tls"},
		[]string{"version", "backlog", "shared", "user_timeout"})
	if tn := p.required(path, n, "type"); tn != nil {
		tp := cfgJoin(path, "type")
		if s, ok := p.str(tp, tn); ok {
			switch s {
			case "tcp":
				ep.Type = s
			case "unix":
				p.errorf(tp, `unix socket endpoints are not supported by cookiestore (supported: "tcp")`)
			default:
				p.errorf(tp, `must be "tcp", got %q`, s)
			}
		}
	}
	if in := n.get("interface"); in != nil {
		ip := cfgJoin(path, "interface")
		if s, ok := p.nonEmpty(ip, in); ok {
			if net.ParseIP(s) == nil && (len(s) > 253 || !cfgHostPattern.MatchString(s)) {
				p.errorf(ip, "must be an IP address or a host name, got %q", s)
			} else {
				ep.Interface = s
			}
		}
	}
	portOK := false
	if pn := p.required(path, n, "port"); pn != nil {
		pp := cfgJoin(path, "port")
		if pn.kind == cfgString && cfgEnvPattern.MatchString(pn.s) {
			// Crossbar reads "$NAME" ports from the environment.
			if s, ok := p.env(pp, pn.s); ok {
				port, err := strconv.Atoi(s)
				if err != nil || port < 1 || port > 65535 {
					p.errorf(pp, "environment variable %s must hold a port between 1 and 65535, got %q", pn.s[1:], s)
				} else {
					ep.Port, portOK = port, true
				}
			}
		} else if port, ok := p.integer(pp, pn, 1, 65535); ok {
			ep.Port, portOK = int(port), true
		}
	}
	if portOK {
		p.claimPort(cfgJoin(path, "port"), owner, ep)
	}
	if tn := n.get("tls"); tn != nil {
		ep.TLS = p.tls(cfgJoin(path, "tls"), tn)
		return true
	}
	return false
}

// claimPort reports a second transport on an interface and port already in
// use: the second listen would fail at startup.
func (p *cfgParser) claimPort(path, owner string, ep *Endpoint) {
	iface := strings.ToLower(ep.Interface)
	if ip := net.ParseIP(iface); ip != nil {
		iface = ip.String()
		if ip.IsUnspecified() {
			iface = ""
		}
	}
	for _, l := range p.listeners {
		if l.port != ep.Port {
			continue
		}
		switch {
		case l.iface == iface && iface != "":
			p.errorf(path, "%s is already used by %s", net.JoinHostPort(iface, strconv.Itoa(ep.Port)), l.owner)
			return
		case l.iface == "" || iface == "":
			p.errorf(path, "port %d is already used by %s (one of them listens on all interfaces)", ep.Port, l.owner)
			return
		}
	}
	p.listeners = append(p.listeners, cfgListener{iface: iface, port: ep.Port, owner: owner})
}

func (p *cfgParser) tls(path string, n *cfgNode) *TLS {
	if !p.isObject(path, n) {
		return nil
	}
	p.checkKeys(path, n,
		[]string{"key", "certificate"},
		[]string{"dhparam", "ciphers", "ca_certificates", "chain_certificates"})
	var t TLS
	files := 0
	for _, f := range []struct {
		key string
		dst *string
	}{{"key", &t.Key}, {"certificate", &t.Certificate}} {
		v := p.required(path, n, f.key)
		if v == nil {
			continue
		}
		fp := cfgJoin(path, f.key)
		if s, ok := p.nonEmpty(fp, v); ok {
			if resolved, ok := p.existing(fp, s, false); ok {
				*f.dst = resolved
				files++
			}
		}
	}
	if files != 2 {
		return nil
	}
	// Fail here rather than at the first handshake: a config that passes
	// `cookiestore check` must be able to serve.
	if _, err := tls.LoadX509KeyPair(t.Certificate, t.Key); err != nil {
		p.errorf(path, "key and certificate do not form a valid PEM key pair: %v", err)
		return nil
	}
	return &t
}

// paths walks a web transport's "paths" and returns its services sorted by
// URL path.
func (p *cfgParser) paths(path string, n *cfgNode, hasTLS bool) []*Service {
	if !p.isObject(path, n) {
		return nil
	}
	var out []*Service
	for i, key := range n.keys {
		sp := cfgJoin(path, key)
		if !cfgPathKeyPattern.MatchString(key) {
			if strings.HasPrefix(key, "/") && cfgPathKeyPattern.MatchString(key[1:]) {
				p.errorf(sp, "path keys have no leading slash (Crossbar style): write %q, it is served at %q", key[1:], key)
			} else {
				p.errorf(sp, `path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`)
			}
			continue
		}
		urlPath := "/"
		if key != "/" {
			urlPath += key
		}
		if s := p.service(sp, urlPath, n.vals[i], hasTLS); s != nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Service) int { return strings.Compare(a.URLPath, b.URLPath) })
	return out
}

func (p *cfgParser) service(path, urlPath string, n *cfgNode, hasTLS bool) *Service {
	typ, ok := p.typed(path, n)
	if !ok {
		return nil
	}
	typePath := cfgJoin(path, "type")
	s := &Service{Path: path, URLPath: urlPath, Type: typ}
	switch typ {
	case "static":
		p.checkKeys(path, n, []string{"type", "directory", "package", "resource"}, []string{"id", "options"})
		for _, k := range []string{"package", "resource"} {
			if n.get(k) != nil {
				p.errorf(cfgJoin(path, k), `static files from a Python package are not supported by cookiestore; use "directory"`)
			}
		}
		if dn := p.required(path, n, "directory"); dn != nil {
			dp := cfgJoin(path, "directory")
			if d, ok := p.nonEmpty(dp, dn); ok {
				s.Directory, _ = p.existing(dp, d, true)
			}
		}
	case "websocket":
		p.checkKeys(path, n,
			[]string{"type", "options", "auth", "cookie"},
			[]string{"id", "url", "serializers", "debug"})
		s.WebSocket = p.websocket(path, n, hasTLS)
	case "status", "metrics", "page":
		p.checkKeys(path, n, []string{"type"}, nil)
	default:
		p.errorf(typePath, "service type %q is not supported by cookiestore (supported: static, websocket, status, metrics, page)", typ)
		return nil
	}
	return s
}

// cfgIgnoredWebSocketOptions returns Crossbar's (autobahn's) WebSocket
// options that cookiestore accepts and does not act on.
func cfgIgnoredWebSocketOptions() []string {
	return []string{
		"allow_null_origin", "external_port", "enable_hybi10", "enable_rfc6455", "enable_hixie76",
		"open_handshake_timeout", "close_handshake_timeout", "enable_webstatus", "validate_utf8",
		"mask_server_frames", "require_masked_client_frames", "apply_mask", "max_frame_size",
		"auto_fragment_size", "fail_by_drop", "echo_close_codereason", "tcp_nodelay",
		"auto_ping_interval", "auto_ping_timeout", "auto_ping_size", "enable_flash_policy",
		"flash_policy", "compression", "require_websocket_subprotocol", "show_server_version",
	}
}

// websocket reads the WebSocket settings of a websocket transport or path
// service at path; the caller has checked its keys.
func (p *cfgParser) websocket(path string, n *cfgNode, hasTLS bool) *WebSocketService {
	ws := &WebSocketService{
		MaxMessageSize:          cfgDefaultMaxMessageSize,
		MaxConnectionsPerCookie: cfgDefaultMaxConnectionsPerCookie,
	}
	if on := n.get("options"); on != nil {
		p.websocketOptions(cfgJoin(path, "options"), on, ws)
	}
	cookie := n.get("cookie")
	if cookie != nil {
		ws.Cookie = p.cookie(cfgJoin(path, "cookie"), cookie, hasTLS)
	}
	if an := n.get("auth"); an != nil {
		ws.Auth = p.auth(cfgJoin(path, "auth"), an, cookie != nil)
	}
	return ws
}

func (p *cfgParser) websocketOptions(path string, n *cfgNode, ws *WebSocketService) {
	if !p.isObject(path, n) {
		return
	}
	p.checkKeys(path, n,
		[]string{"allowed_origins", "max_message_size", "max_connections_per_cookie"},
		cfgIgnoredWebSocketOptions())
	if on := n.get("allowed_origins"); on != nil {
		op := cfgJoin(path, "allowed_origins")
		if on.kind != cfgArray {
			p.errorf(op, "must be an array, got %s", on.kind)
		}
		for i, e := range on.elems {
			ep := cfgIndex(op, i)
			s, ok := p.nonEmpty(ep, e)
			if !ok {
				continue
			}
			if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
				p.errorf(ep, "must be an origin pattern without spaces or control characters, got %q", s)
				continue
			}
			ws.AllowedOrigins = append(ws.AllowedOrigins, s)
		}
	}
	if mn := n.get("max_message_size"); mn != nil {
		if v, ok := p.integer(cfgJoin(path, "max_message_size"), mn, 1, cfgMaxMaxMessageSize); ok {
			ws.MaxMessageSize = int(v)
		}
	}
	if mn := n.get("max_connections_per_cookie"); mn != nil {
		if v, ok := p.integer(cfgJoin(path, "max_connections_per_cookie"), mn, 1, cfgMaxMaxConnectionsPerCookie); ok {
			ws.MaxConnectionsPerCookie = int(v)
		}
	}
}

func (p *cfgParser) cookie(path string, n *cfgNode, hasTLS bool) *CookieConfig {
	if !p.isObject(path, n) {
		return nil
	}
	p.checkKeys(path, n, []string{"name", "length", "max_age", "secure", "http_strict", "same_site", "store"}, nil)
	c := &CookieConfig{
		Name:     cfgDefaultCookieName,
		Length:   record.DefaultIDLength,
		MaxAge:   cfgDefaultCookieMaxAge * time.Second,
		HTTPOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if v := n.get("name"); v != nil {
		np := cfgJoin(path, "name")
		if s, ok := p.str(np, v); ok {
			if cfgCookieNamePattern.MatchString(s) {
				c.Name = s
			} else {
				p.errorf(np, "must match %s, got %q", cfgCookieNamePattern, s)
			}
		}
	}
	if v := n.get("length"); v != nil {
		if l, ok := p.integer(cfgJoin(path, "length"), v, record.MinIDLength, record.MaxIDLength); ok {
			c.Length = int(l)
		}
	}
	if v := n.get("max_age"); v != nil {
		if s, ok := p.integer(cfgJoin(path, "max_age"), v, 1, cfgMaxCookieMaxAge); ok {
			c.MaxAge = time.Duration(s) * time.Second
		}
	}
	if v := n.get("secure"); v != nil {
		c.Secure, _ = p.boolean(cfgJoin(path, "secure"), v)
	}
	if v := n.get("http_strict"); v != nil {
		if b, ok := p.boolean(cfgJoin(path, "http_strict"), v); ok {
			c.HTTPOnly = b
		}
	}
	if v := n.get("same_site"); v != nil {
		sp := cfgJoin(path, "same_site")
		if s, ok := p.oneOf(sp, v, "Strict", "Lax", "None"); ok {
			switch s {
			case "Strict":
				c.SameSite = http.SameSiteStrictMode
			case "Lax":
				c.SameSite = http.SameSiteLaxMode
			case "None":
				c.SameSite = http.SameSiteNoneMode
				if !c.Secure && !hasTLS {
					p.errorf(sp, `"None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`)
				}
			}
		}
	}
	if sn := p.required(path, n, "store"); sn != nil {
		p.store(cfgJoin(path, "store"), sn, &c.Store)
	}
	p.claimCookieName(path, c.Name)
	return c
}

// claimCookieName warns when two cookie blocks use one name: a browser keeps
// one cookie per name and host, for every port and path, so two stores would
// keep replacing each other's cookie.
func (p *cfgParser) claimCookieName(owner, name string) {
	if first, ok := p.cookies[name]; ok {
		p.warnf(owner, "cookie %q is also used by %s: browsers share one cookie per name across the ports and paths of a host, so the two stores will keep replacing each other's cookie", name, first)
		return
	}
	if p.cookies == nil {
		p.cookies = make(map[string]string)
	}
	p.cookies[name] = owner
}

// cfgFileStoreKeys returns the store keys that only a file store takes.
func cfgFileStoreKeys() []string {
	return []string{"filename", "purge_on_startup", "sync", "sync_interval_ms"}
}

func (p *cfgParser) store(path string, n *cfgNode, st *StoreConfig) {
	if !p.isObject(path, n) {
		return
	}
	tn := p.required(path, n, "type")
	if tn == nil {
		p.checkKeys(path, n, append([]string{"type"}, cfgFileStoreKeys()...), nil)
		return
	}
	typePath := cfgJoin(path, "type")
	typ, ok := p.str(typePath, tn)
	if !ok {
		return
	}
	switch typ {
	case "memory":
		p.checkKeys(path, n, append([]string{"type"}, cfgFileStoreKeys()...), nil)
		for _, k := range cfgFileStoreKeys() {
			if n.get(k) != nil {
				p.errorf(cfgJoin(path, k), `only valid for a "file" store`)
			}
		}
		st.Type = typ
	case "file":
		p.checkKeys(path, n, append([]string{"type"}, cfgFileStoreKeys()...), nil)
		st.Type, st.Sync = typ, "always"
		if fn := p.required(path, n, "filename"); fn != nil {
			fp := cfgJoin(path, "filename")
			if name, ok := p.nonEmpty(fp, fn); ok {
				st.Filename = p.resolve(name)
				if fi, err := os.Stat(st.Filename); err == nil && fi.IsDir() {
					p.errorf(fp, "%s is a directory", cfgShowPath(name, st.Filename))
				}
				p.claimStoreFile(fp, path, st.Filename)
			}
		}
		if v := n.get("purge_on_startup"); v != nil {
			st.PurgeOnStartup, _ = p.boolean(cfgJoin(path, "purge_on_startup"), v)
		}
		syncOK := true
		if v := n.get("sync"); v != nil {
			var s string
			if s, syncOK = p.oneOf(cfgJoin(path, "sync"), v, "always", "interval", "none"); syncOK {
				st.Sync = s
			}
		}
		if st.Sync == "interval" {
			st.SyncInterval = cfgDefaultSyncIntervalMS * time.Millisecond
		}
		if v := n.get("sync_interval_ms"); v != nil {
			ip := cfgJoin(path, "sync_interval_ms")
			if ms, ok := p.integer(ip, v, 1, cfgMaxSyncIntervalMS); ok {
				switch {
				case st.Sync == "interval":
					st.SyncInterval = time.Duration(ms) * time.Millisecond
				case syncOK:
					// A setting that silently does nothing is a trap.
					p.errorf(ip, `only used with "sync": "interval" (sync is %q)`, st.Sync)
				}
			}
		}
	case "database":
		p.errorf(typePath, `store type "database" (LMDB) is not supported; use "file"`)
	default:
		p.errorf(typePath, `must be "memory" or "file", got %q`, typ)
	}
}

// claimStoreFile reports two stores on one journal file: the second would
// find it locked at startup.
func (p *cfgParser) claimStoreFile(path, owner, filename string) {
	if first, ok := p.stores[filename]; ok {
		p.errorf(path, "%q is already the store of %s", filename, first)
		return
	}
	if p.stores == nil {
		p.stores = make(map[string]string)
	}
	p.stores[filename] = owner
}

func (p *cfgParser) auth(path string, n *cfgNode, hasCookie bool) *AuthConfig {
	if !p.isObject(path, n) {
		return nil
	}
	if len(n.keys) == 0 {
		p.errorf(path, `must enable at least one method (anonymous, ticket, cookie); leave "auth" out for no authentication`)
		return nil
	}
	a := &AuthConfig{}
	for i, k := range n.keys {
		mp, v := cfgJoin(path, k), n.vals[i]
		switch k {
		case "anonymous":
			a.Anonymous = p.anonymous(mp, v)
		case "ticket":
			a.Ticket = p.ticket(mp, v)
		case "cookie":
			if p.isObject(mp, v) {
				p.checkKeys(mp, v, nil, nil)
				a.Cookie = true
			}
			if !hasCookie {
				p.errorf(mp, "cookie authentication needs a cookie block on the same WebSocket service")
			}
		default:
			p.errorf(mp, "auth method %q is not supported by cookiestore (supported: anonymous, ticket, cookie)", k)
		}
	}
	return a
}

// authType checks the "type" of an auth method: only "static" is supported,
// because a "dynamic" authenticator is a WAMP procedure and there is no WAMP
// here.
func (p *cfgParser) authType(path string, n *cfgNode, method string, required bool) bool {
	var tn *cfgNode
	if required {
		tn = p.required(path, n, "type")
	} else {
		tn = n.get("type")
	}
	if tn == nil {
		return !required
	}
	tp := cfgJoin(path, "type")
	s, ok := p.str(tp, tn)
	switch {
	case !ok:
		return false
	case s == "dynamic":
		p.errorf(tp, `dynamic %s authentication is not supported by cookiestore; use "static"`, method)
		return false
	case s != "static":
		p.errorf(tp, `must be "static", got %q`, s)
		return false
	}
	return true
}

func (p *cfgParser) anonymous(path string, n *cfgNode) *AnonymousAuth {
	if !p.isObject(path, n) {
		return nil
	}
	if !p.authType(path, n, "anonymous", false) {
		return nil
	}
	p.checkKeys(path, n, []string{"type", "role"}, nil)
	a := &AnonymousAuth{Role: cfgDefaultAnonymousRole}
	if v := n.get("role"); v != nil {
		if s, ok := p.nonEmpty(cfgJoin(path, "role"), v); ok {
			a.Role = s
		}
	}
	return a
}

func (p *cfgParser) ticket(path string, n *cfgNode) *TicketAuth {
	if !p.isObject(path, n) {
		return nil
	}
	if !p.authType(path, n, "ticket", true) {
		return nil
	}
	p.checkKeys(path, n, []string{"type", "principals"}, nil)
	t := &TicketAuth{Principals: map[string]Principal{}}
	pn := p.required(path, n, "principals")
	if pn == nil {
		return t
	}
	pp := cfgJoin(path, "principals")
	if !p.isObject(pp, pn) {
		return t
	}
	for i, authid := range pn.keys {
		ap, v := cfgJoin(pp, authid), pn.vals[i]
		if authid == "" {
			p.errorf(ap, "an authid must not be empty")
			continue
		}
		if !p.isObject(ap, v) {
			continue
		}
		p.checkKeys(ap, v, []string{"ticket", "role", "realm"}, nil)
		pr := Principal{Realm: cfgDefaultRealm}
		if tn := p.required(ap, v, "ticket"); tn != nil {
			tp := cfgJoin(ap, "ticket")
			if s, ok := p.str(tp, tn); ok {
				if s, ok = p.env(tp, s); ok {
					if s == "" {
						p.errorf(tp, "must not be empty")
					}
					pr.Ticket = s
				}
			}
		}
		// Crossbar lets the role default to whatever the client asks for;
		// here a principal's role is always stated.
		if rn := p.required(ap, v, "role"); rn != nil {
			pr.Role, _ = p.nonEmpty(cfgJoin(ap, "role"), rn)
		}
		if rn := v.get("realm"); rn != nil {
			if s, ok := p.nonEmpty(cfgJoin(ap, "realm"), rn); ok {
				pr.Realm = s
			}
		}
		t.Principals[authid] = pr
	}
	return t
}
