package config

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
)

// testNodeDir builds the layout of the seed's examples, a node directory
// with "../web" beside it, plus what the other rules need: a folder, a plain
// file, and a TLS key pair with a key that does not match it.
func testNodeDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	node := filepath.Join(root, "node")
	for _, d := range []string{node, filepath.Join(root, "web"), filepath.Join(node, "static")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(node, "plain.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// cert.pem and key.pem, a matching pair, and other-key.pem, a key
	// that does not match cert.pem.
	testkit.WriteKeyPair(t, node)
	testkit.WriteKey(t, filepath.Join(node, "other-key.pem"))
	return node
}

// Builders for the common shapes: one web transport on port 8080 whose
// "ws" path holds the service under test.
func webDoc(paths string) string {
	return `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":` + paths + `}]}`
}

func wsDoc(service string) string { return webDoc(`{"ws":` + service + `}`) }

func cookieDoc(cookie string) string { return wsDoc(`{"type":"websocket","cookie":` + cookie + `}`) }

func authDoc(auth string) string {
	return wsDoc(`{"type":"websocket","cookie":{"store":{"type":"memory"}},"auth":` + auth + `}`)
}

func endpointDoc(endpoint string) string {
	return `{"transports":[{"type":"websocket","endpoint":` + endpoint + `}]}`
}

// errorLines returns the lines of an Errors, failing the test for any
// other kind of error.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not an Errors", err, err)
	}
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return lines
}

// TestParseReportsEveryProblem checks that problems in different places
// are all reported, in document order, rather than the first one only.
func TestParseReportsEveryProblem(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "three-problems.json"), t.TempDir())
	if cfg != nil {
		t.Fatalf("config returned: %+v", cfg)
	}
	file := filepath.Join("testdata", "three-problems.json")
	want := []string{
		file + ": transports[0].endpoint.port: must be between 1 and 65535, got 0",
		file + ": transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3",
		file + `: transports[0].paths.ws.cookie.store.type: store type "database" (LMDB) is not supported; use "file"`,
	}
	if got := errorLines(t, err); !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Error() = %q, want one line per problem", got)
	}
	// errors.As reaches the individual problems too.
	var one *Error
	if !errors.As(err, &one) || one.Path != "transports[0].endpoint.port" || one.File != file {
		t.Errorf("errors.As(*Error) = %+v", one)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(path, t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming %s", err, path)
	}
}

func TestLoadSyntaxErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte("{\n  \"transports\": [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, t.TempDir())
	want := path + ": invalid JSON at line 3, column 1: unexpected end of JSON input"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// wsStore returns the store of the WebSocket service served at urlPath by
// the first transport.
func wsStore(t *testing.T, cfg *Config, urlPath string) *Store {
	t.Helper()
	tr := cfg.Transports[0]
	if tr.Type == TransportWebSocket && urlPath == "/" {
		return tr.Store
	}
	for _, s := range tr.Paths {
		if s.URLPath == urlPath {
			return s.Store
		}
	}
	t.Fatalf("no service at %s", urlPath)
	return nil
}

// wsService returns the WebSocket service served at urlPath by the first
// transport.
func wsService(t *testing.T, cfg *Config, urlPath string) *WebSocket {
	t.Helper()
	tr := cfg.Transports[0]
	if tr.Type == "websocket" && urlPath == "/" {
		return tr.WebSocket
	}
	for _, s := range tr.Paths {
		if s.URLPath == urlPath {
			if s.WebSocket == nil {
				t.Fatalf("service %s has no WebSocket", s.Path)
			}
			return s.WebSocket
		}
	}
	t.Fatalf("no service at %s", urlPath)
	return nil
}

// TestSeedExamples parses both examples of the cookie tracking documentation
// that cookiestore follows, unchanged, from a node directory with "../web"
// beside it.
func TestSeedExamples(t *testing.T) {
	root := t.TempDir()
	node := filepath.Join(root, "node")
	web := filepath.Join(root, "web")
	for _, d := range []string{node, web} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file  string
		store *Store
	}{
		{"seed-memory.json", &Store{Type: StoreMemory}},
		{"seed-file.json", &Store{Type: StoreFile, Filename: filepath.Join(node, "cookies.dat"), Sync: journal.SyncAlways}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file), node)
			if err != nil {
				t.Fatal(err)
			}
			want := &Config{Transports: []*Transport{{
				Path:     "transports[0]",
				Type:     "web",
				Endpoint: Endpoint{Type: "tcp", Port: 8080},
				Paths: []*Service{
					{Path: `transports[0].paths["/"]`, URLPath: "/", Type: "static", Directory: web},
					{Path: "transports[0].paths.ws", URLPath: "/ws", Type: "websocket", WebSocket: &WebSocket{
						Cookie: &Cookie{
							Name: "cbtid", Length: 24, MaxAge: 864000 * time.Second, SameSite: http.SameSiteLaxMode,
						},
						MaxMessageSize:          65536,
						MaxConnectionsPerCookie: 100,
						MaxNewCookiesPerSecond:  100,
						NewCookieBurst:          1000,
					}, Store: tt.store},
				},
			}}}
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("config differs from the seed's meaning:\n got %s\nwant %s", dump(cfg), dump(want))
			}
		})
	}
}

// TestNodeConfig loads a full Crossbar node config with a router worker.
func TestNodeConfig(t *testing.T) {
	root := t.TempDir()
	node := filepath.Join(root, "node")
	for _, d := range []string{node, filepath.Join(root, "web")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Load(filepath.Join("testdata", "node.json"), node)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Transports) != 2 {
		t.Fatalf("got %d transports, want 2", len(cfg.Transports))
	}
	web, ws := cfg.Transports[0], cfg.Transports[1]
	if web.Path != "workers[0].transports[0]" || ws.Path != "workers[0].transports[1]" {
		t.Errorf("paths = %q, %q", web.Path, ws.Path)
	}
	c := wsService(t, cfg, "/ws").Cookie
	wantCookie := &Cookie{
		Name: "session_id", Length: 32, MaxAge: 7 * 24 * time.Hour, Secure: true,
		SameSite: http.SameSiteStrictMode,
	}
	if !reflect.DeepEqual(c, wantCookie) {
		t.Errorf("cookie = %+v, want %+v", c, wantCookie)
	}
	wantStore := &Store{Type: StoreFile, Filename: filepath.Join(node, "cookies.dat"), PurgeOnStartup: true,
		Sync: journal.SyncInterval, SyncInterval: 250 * time.Millisecond}
	if st := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(st, wantStore) {
		t.Errorf("store = %+v, want %+v", st, wantStore)
	}
	if ws.Store == nil || ws.Store.Type != StoreMemory {
		t.Errorf("websocket transport's store = %+v, want a memory store", ws.Store)
	}
	if p := wsService(t, cfg, "/ws").Auth.Ticket.Principals["bob@example.com"]; p != (Principal{Ticket: "hunter2", Role: "admin", Realm: "realm1"}) {
		t.Errorf("bob = %+v", p)
	}
	if ws.WebSocket.Auth.Anonymous.Role != "guest" || ws.Endpoint.Interface != "127.0.0.1" {
		t.Errorf("websocket transport = %+v", ws)
	}
	want := []string{
		`["$schema"]: ignored: unknown top-level key`,
		"controller: ignored: Crossbar setting not used by cookiestore",
		"workers[0].realms: ignored: Crossbar setting not used by cookiestore",
		"workers[0].transports[0].endpoint.backlog: ignored: Crossbar setting not used by cookiestore",
		"workers[0].transports[0].paths.ws.serializers: ignored: Crossbar setting not used by cookiestore",
		"workers[0].transports[0].paths.ws.options.compression: ignored: Crossbar setting not used by cookiestore",
		`workers[1]: ignored: worker type "container" is not used by cookiestore`,
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings:\n got %s\nwant %s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".cookiestore")
	cfg := Default(dir)
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if len(cfg.Transports) != 1 {
		t.Fatalf("got %d transports, want 1", len(cfg.Transports))
	}
	tr := cfg.Transports[0]
	if want := (Endpoint{Type: "tcp", Interface: "127.0.0.1", Port: 8080}); tr.Type != "web" || tr.Endpoint != want {
		t.Errorf("transport %s %+v, want web %+v", tr.Type, tr.Endpoint, want)
	}
	var services []string
	for _, s := range tr.Paths {
		services = append(services, s.URLPath+" "+string(s.Type))
	}
	if want := []string{"/ page", "/metrics metrics", "/status status", "/ws websocket"}; !slices.Equal(services, want) {
		t.Errorf("services = %q, want %q", services, want)
	}
	want := &WebSocket{
		Cookie: &Cookie{Name: "cbtid", Length: 24, MaxAge: 24 * time.Hour, SameSite: http.SameSiteLaxMode},
		Auth: &Auth{
			Cookie:    true,
			Anonymous: &Anonymous{Role: "anonymous"},
			Ticket:    &Ticket{Principals: map[string]Principal{}},
		},
		MaxMessageSize:          64 << 10,
		MaxConnectionsPerCookie: 100,
		MaxNewCookiesPerSecond:  100,
		NewCookieBurst:          1000,
	}
	if got := wsService(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
		t.Errorf("ws service:\n got %s\nwant %s", dump(got), dump(want))
	}
	wantStore := &Store{Type: StoreFile, Filename: filepath.Join(dir, "cookies.dat"), Sync: journal.SyncAlways}
	if got := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(got, wantStore) {
		t.Errorf("store = %+v, want %+v", got, wantStore)
	}
	// The default does not depend on the node directory existing, and each
	// call returns a fresh value that callers may change.
	other := Default(dir)
	if !reflect.DeepEqual(cfg, other) || cfg == other || cfg.Transports[0] == other.Transports[0] {
		t.Error("Default should return equal, independent values")
	}
}

func TestConfigErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Path: "transports[0].type", Msg: "is required"}, "transports[0].type: is required"},
		{Error{Msg: "invalid JSON at line 1, column 1: x"}, "invalid JSON at line 1, column 1: x"},
		{Error{File: "c.json", Path: "version", Msg: "m"}, "c.json: version: m"},
		{Error{File: "c.json", Msg: "m"}, "c.json: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// dump renders a value with its pointers followed, for failure messages.
func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}
