package httpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// cfgTestNodeDir builds the layout of the seed's examples, a node directory
// with "../web" beside it, plus what the other rules need: a folder, a plain
// file, and a TLS key pair with a key that does not match it.
func cfgTestNodeDir(t *testing.T) string {
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
	cfgWriteKeyPair(t, node)
	return node
}

// cfgWriteKeyPair writes cert.pem and key.pem, a matching self-signed pair,
// and other-key.pem, a key that does not match cert.pem.
func cfgWriteKeyPair(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", "CERTIFICATE", der)
	for name, k := range map[string]*ecdsa.PrivateKey{"key.pem": key, "other-key.pem": other} {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(name, "PRIVATE KEY", b)
	}
}

// Builders for the common shapes: one web transport on port 8080 whose
// "ws" path holds the service under test.
func cfgWeb(paths string) string {
	return `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":` + paths + `}]}`
}

func cfgWS(service string) string { return cfgWeb(`{"ws":` + service + `}`) }

func cfgCookie(cookie string) string { return cfgWS(`{"type":"websocket","cookie":` + cookie + `}`) }

func cfgAuth(auth string) string {
	return cfgWS(`{"type":"websocket","cookie":{"store":{"type":"memory"}},"auth":` + auth + `}`)
}

func cfgEndpoint(endpoint string) string {
	return `{"transports":[{"type":"websocket","endpoint":` + endpoint + `}]}`
}

// cfgErrorLines returns the lines of a ConfigErrors, failing the test for
// any other kind of error.
func cfgErrorLines(t *testing.T, err error) []string {
	t.Helper()
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not a ConfigErrors", err, err)
	}
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return lines
}

func TestParseConfigErrors(t *testing.T) {
	dir := cfgTestNodeDir(t)
	t.Setenv("CFGTEST_NOT_A_PORT", "http")
	// Setenv first so that the variable is restored after the test.
	t.Setenv("CFGTEST_UNSET", "")
	if err := os.Unsetenv("CFGTEST_UNSET"); err != nil {
		t.Fatal(err)
	}

	const (
		ck  = "transports[0].paths.ws.cookie"
		st  = ck + ".store"
		au  = "transports[0].paths.ws.auth"
		ep  = "transports[0].endpoint"
		opt = "transports[0].paths.ws.options"
		mem = `"store":{"type":"memory"}`
	)
	// A want ending in "…" is a prefix: the rest is the standard library's wording.
	tests := []struct {
		name string
		json string
		want []string
	}{
		// The cookie block, one rule at a time.
		{"name upper case", cfgCookie(`{"name":"Cbtid",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "Cbtid"`}},
		{"name one letter", cfgCookie(`{"name":"a",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "a"`}},
		{"name with dash", cfgCookie(`{"name":"cb-tid",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "cb-tid"`}},
		{"name not a string", cfgCookie(`{"name":7,` + mem + `}`), []string{ck + ".name: must be a string, got number"}},
		{"length too short", cfgCookie(`{"length":3,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 3"}},
		{"length too long", cfgCookie(`{"length":65,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 65"}},
		{"length fraction", cfgCookie(`{"length":24.5,` + mem + `}`), []string{ck + ".length: must be an integer, got 24.5"}},
		{"length exponent", cfgCookie(`{"length":1e400,` + mem + `}`), []string{ck + ".length: must be an integer, got 1e400"}},
		{"length overflow", cfgCookie(`{"length":99999999999999999999,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 99999999999999999999"}},
		{"length string", cfgCookie(`{"length":"24",` + mem + `}`), []string{ck + ".length: must be an integer, got string"}},
		{"max_age zero", cfgCookie(`{"max_age":0,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got 0"}},
		{"max_age negative", cfgCookie(`{"max_age":-5,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got -5"}},
		{"max_age over ten years", cfgCookie(`{"max_age":315360001,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got 315360001"}},
		{"max_age null", cfgCookie(`{"max_age":null,` + mem + `}`), []string{ck + ".max_age: must be an integer, got null"}},
		{"secure not bool", cfgCookie(`{"secure":"yes",` + mem + `}`), []string{ck + ".secure: must be a boolean, got string"}},
		{"http_strict not bool", cfgCookie(`{"http_strict":1,` + mem + `}`), []string{ck + ".http_strict: must be a boolean, got number"}},
		{"same_site wrong case", cfgCookie(`{"same_site":"lax",` + mem + `}`), []string{ck + `.same_site: must be "Strict", "Lax" or "None", got "lax"`}},
		{"same_site None without Secure", cfgCookie(`{"same_site":"None",` + mem + `}`), []string{ck + `.same_site: "None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`}},
		{"same_site None with secure false", cfgCookie(`{"same_site":"None","secure":false,` + mem + `}`), []string{ck + `.same_site: "None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`}},
		{"unknown cookie key", cfgCookie(`{"nmae":"x",` + mem + `}`), []string{ck + ".nmae: unknown key (valid keys: http_strict, length, max_age, name, same_site, secure, store)"}},
		{"cookie not an object", cfgCookie(`[]`), []string{ck + ": must be an object, got array"}},
		{"store missing", cfgCookie(`{}`), []string{st + ": is required"}},
		{"store not an object", cfgCookie(`{"store":"memory"}`), []string{st + ": must be an object, got string"}},
		{"store type missing", cfgCookie(`{"store":{}}`), []string{st + ".type: is required"}},
		{"store type database", cfgCookie(`{"store":{"type":"database","path":"x"}}`), []string{st + `.type: store type "database" (LMDB) is not supported; use "file"`}},
		{"store type unknown", cfgCookie(`{"store":{"type":"redis"}}`), []string{st + `.type: must be "memory" or "file", got "redis"`}},
		{"memory store with filename", cfgCookie(`{"store":{"type":"memory","filename":"c.dat"}}`), []string{st + `.filename: only valid for a "file" store`}},
		{"memory store with purge", cfgCookie(`{"store":{"type":"memory","purge_on_startup":true}}`), []string{st + `.purge_on_startup: only valid for a "file" store`}},
		{"memory store with sync", cfgCookie(`{"store":{"type":"memory","sync":"none","sync_interval_ms":5}}`), []string{st + `.sync: only valid for a "file" store`, st + `.sync_interval_ms: only valid for a "file" store`}},
		{"unknown store key", cfgCookie(`{"store":{"type":"file","filename":"c.dat","path":"x"}}`), []string{st + ".path: unknown key (valid keys: filename, purge_on_startup, sync, sync_interval_ms, type)"}},
		{"file store without filename", cfgCookie(`{"store":{"type":"file"}}`), []string{st + ".filename: is required"}},
		{"file store empty filename", cfgCookie(`{"store":{"type":"file","filename":""}}`), []string{st + ".filename: must not be empty"}},
		{"file store filename is a folder", cfgCookie(`{"store":{"type":"file","filename":"static"}}`), []string{st + `.filename: "static" (resolved to "` + filepath.Join(dir, "static") + `") is a directory`}},
		{"purge not bool", cfgCookie(`{"store":{"type":"file","filename":"c.dat","purge_on_startup":"true"}}`), []string{st + ".purge_on_startup: must be a boolean, got string"}},
		{"sync unknown", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"sometimes"}}`), []string{st + `.sync: must be "always", "interval" or "none", got "sometimes"`}},
		{"sync interval zero", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"interval","sync_interval_ms":0}}`), []string{st + ".sync_interval_ms: must be between 1 and 60000, got 0"}},
		{"sync interval too long", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"interval","sync_interval_ms":60001}}`), []string{st + ".sync_interval_ms: must be between 1 and 60000, got 60001"}},
		{"sync interval without interval sync", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"none","sync_interval_ms":50}}`), []string{st + `.sync_interval_ms: only used with "sync": "interval" (sync is "none")`}},
		{"sync interval with default sync", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync_interval_ms":50}}`), []string{st + `.sync_interval_ms: only used with "sync": "interval" (sync is "always")`}},
		{"two stores on one file", cfgWeb(`{"a":{"type":"websocket","cookie":{"name":"one","store":{"type":"file","filename":"c.dat"}}},"b":{"type":"websocket","cookie":{"name":"two","store":{"type":"file","filename":"./c.dat"}}}}`),
			[]string{`transports[0].paths.b.cookie.store.filename: "` + filepath.Join(dir, "c.dat") + `" is already the store of transports[0].paths.a.cookie.store`}},

		// Where a cookie block may not go.
		{"cookie on a static service", cfgWeb(`{"/":{"type":"static","directory":"static","cookie":{` + mem + `}}}`), []string{`transports[0].paths["/"].cookie: cookie tracking needs a WebSocket transport or a websocket path service`}},
		{"cookie on a status service", cfgWeb(`{"status":{"type":"status","cookie":{}}}`), []string{`transports[0].paths.status.cookie: cookie tracking needs a WebSocket transport or a websocket path service`}},
		{"cookie on a web transport", `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{},"cookie":{` + mem + `}}]}`, []string{"transports[0].cookie: cookie tracking needs a WebSocket transport or a websocket path service"}},
		{"cookie at top level", `{"cookie":{},"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080}}]}`, []string{"cookie: cookie tracking needs a WebSocket transport or a websocket path service"}},
		{"cookie on rawsocket", `{"transports":[{"type":"rawsocket","endpoint":{"type":"tcp","port":8080},"cookie":{` + mem + `}}]}`, []string{"transports[0].cookie: cookie tracking needs a WebSocket transport"}},
		{"rawsocket", `{"transports":[{"type":"rawsocket","endpoint":{"type":"tcp","port":8080}}]}`, []string{"transports[0].type: rawsocket transports are not supported by cookiestore"}},

		// Transports.
		{"transport not an object", `{"transports":[1]}`, []string{"transports[0]: must be an object, got number"}},
		{"transport type missing", `{"transports":[{}]}`, []string{"transports[0].type: is required"}},
		{"transport type not a string", `{"transports":[{"type":true}]}`, []string{"transports[0].type: must be a string, got boolean"}},
		{"transport type unsupported", `{"transports":[{"type":"universal"}]}`, []string{`transports[0].type: transport type "universal" is not supported by cookiestore (supported: web, websocket)`}},
		{"web without endpoint and paths", `{"transports":[{"type":"web"}]}`, []string{"transports[0].endpoint: is required", "transports[0].paths: is required"}},
		{"web unknown key", `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":1},"paths":{},"auth":{}}]}`, []string{"transports[0].auth: unknown key (valid keys: endpoint, id, options, paths, type)"}},
		{"websocket transport unknown key", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1},"paths":{}}]}`, []string{"transports[0].paths: unknown key (valid keys: auth, cookie, debug, endpoint, id, options, serializers, type, url)"}},

		// Endpoints.
		{"endpoint not an object", cfgEndpoint(`"tcp:8080"`), []string{ep + ": must be an object, got string"}},
		{"endpoint type missing", cfgEndpoint(`{"port":8080}`), []string{ep + ".type: is required"}},
		{"endpoint unix", cfgEndpoint(`{"type":"unix","port":8080}`), []string{ep + `.type: unix socket endpoints are not supported by cookiestore (supported: "tcp")`}},
		{"endpoint udp", cfgEndpoint(`{"type":"udp","port":8080}`), []string{ep + `.type: must be "tcp", got "udp"`}},
		{"port missing", cfgEndpoint(`{"type":"tcp"}`), []string{ep + ".port: is required"}},
		{"port zero", cfgEndpoint(`{"type":"tcp","port":0}`), []string{ep + ".port: must be between 1 and 65535, got 0"}},
		{"port too big", cfgEndpoint(`{"type":"tcp","port":65536}`), []string{ep + ".port: must be between 1 and 65535, got 65536"}},
		{"port string", cfgEndpoint(`{"type":"tcp","port":"8080"}`), []string{ep + ".port: must be an integer, got string"}},
		{"port from unset variable", cfgEndpoint(`{"type":"tcp","port":"$CFGTEST_UNSET"}`), []string{ep + ".port: environment variable CFGTEST_UNSET is not set"}},
		{"port from bad variable", cfgEndpoint(`{"type":"tcp","port":"$CFGTEST_NOT_A_PORT"}`), []string{ep + `.port: environment variable CFGTEST_NOT_A_PORT must hold a port between 1 and 65535, got "http"`}},
		{"interface empty", cfgEndpoint(`{"type":"tcp","port":8080,"interface":""}`), []string{ep + ".interface: must not be empty"}},
		{"interface not a host", cfgEndpoint(`{"type":"tcp","port":8080,"interface":"my host!"}`), []string{ep + `.interface: must be an IP address or a host name, got "my host!"`}},
		{"unknown endpoint key", cfgEndpoint(`{"type":"tcp","port":8080,"host":"x"}`), []string{ep + ".host: unknown key (valid keys: backlog, interface, port, shared, tls, type, user_timeout, version)"}},
		{"same port on all interfaces", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.1"}}]}`,
			[]string{"transports[1].endpoint.port: port 8080 is already used by transports[0] (one of them listens on all interfaces)"}},
		{"same interface and port", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"::1"}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"0:0::1"}}]}`,
			[]string{"transports[1].endpoint.port: [::1]:8080 is already used by transports[0]"}},
		{"tls not an object", cfgEndpoint(`{"type":"tcp","port":443,"tls":true}`), []string{ep + ".tls: must be an object, got boolean"}},
		{"tls keys missing", cfgEndpoint(`{"type":"tcp","port":443,"tls":{}}`), []string{ep + ".tls.key: is required", ep + ".tls.certificate: is required"}},
		{"tls files missing", cfgEndpoint(`{"type":"tcp","port":443,"tls":{"key":"nokey.pem","certificate":"` + filepath.Join(dir, "nocert.pem") + `"}}`),
			[]string{ep + `.tls.key: "nokey.pem" (resolved to "` + filepath.Join(dir, "nokey.pem") + `") does not exist`, ep + `.tls.certificate: "` + filepath.Join(dir, "nocert.pem") + `" does not exist`}},
		{"tls file is a folder", cfgEndpoint(`{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"static"}}`),
			[]string{ep + `.tls.certificate: "static" (resolved to "` + filepath.Join(dir, "static") + `") is not a regular file`}},
		{"tls key does not match", cfgEndpoint(`{"type":"tcp","port":443,"tls":{"key":"other-key.pem","certificate":"cert.pem"}}`),
			[]string{ep + ".tls: key and certificate do not form a valid PEM key pair: …"}},
		{"tls not PEM", cfgEndpoint(`{"type":"tcp","port":443,"tls":{"key":"plain.txt","certificate":"cert.pem"}}`),
			[]string{ep + ".tls: key and certificate do not form a valid PEM key pair: …"}},

		// Paths and services.
		{"paths not an object", cfgWeb(`[]`), []string{"transports[0].paths: must be an object, got array"}},
		{"path key with leading slash", cfgWeb(`{"/ws":{"type":"status"}}`), []string{`transports[0].paths["/ws"]: path keys have no leading slash (Crossbar style): write "ws", it is served at "/ws"`}},
		{"nested path key", cfgWeb(`{"a/b":{"type":"status"}}`), []string{`transports[0].paths["a/b"]: path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`}},
		{"empty path key", cfgWeb(`{"":{"type":"status"}}`), []string{`transports[0].paths[""]: path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`}},
		{"service not an object", cfgWS(`"websocket"`), []string{"transports[0].paths.ws: must be an object, got string"}},
		{"service type missing", cfgWS(`{}`), []string{"transports[0].paths.ws.type: is required"}},
		{"service type unsupported", cfgWS(`{"type":"wsgi","module":"m","object":"o"}`), []string{`transports[0].paths.ws.type: service type "wsgi" is not supported by cookiestore (supported: static, websocket, status, metrics, page)`}},
		{"status with a key", cfgWeb(`{"status":{"type":"status","format":"json"}}`), []string{"transports[0].paths.status.format: unknown key (valid keys: type)"}},
		{"static without directory", cfgWeb(`{"/":{"type":"static"}}`), []string{`transports[0].paths["/"].directory: is required`}},
		{"static directory missing", cfgWeb(`{"/":{"type":"static","directory":"../nowhere"}}`),
			[]string{`transports[0].paths["/"].directory: "../nowhere" (resolved to "` + filepath.Join(filepath.Dir(dir), "nowhere") + `") does not exist`}},
		{"static directory is a file", cfgWeb(`{"/":{"type":"static","directory":"plain.txt"}}`),
			[]string{`transports[0].paths["/"].directory: "plain.txt" (resolved to "` + filepath.Join(dir, "plain.txt") + `") is not a directory`}},
		{"static from a Python package", cfgWeb(`{"/":{"type":"static","package":"app","resource":"web"}}`), []string{
			`transports[0].paths["/"].package: static files from a Python package are not supported by cookiestore; use "directory"`,
			`transports[0].paths["/"].resource: static files from a Python package are not supported by cookiestore; use "directory"`,
			`transports[0].paths["/"].directory: is required`,
		}},

		// WebSocket options.
		{"options not an object", cfgWS(`{"type":"websocket","options":[]}`), []string{opt + ": must be an object, got array"}},
		{"allowed_origins not an array", cfgWS(`{"type":"websocket","options":{"allowed_origins":"*"}}`), []string{opt + ".allowed_origins: must be an array, got string"}},
		{"allowed_origins bad entries", cfgWS(`{"type":"websocket","options":{"allowed_origins":[1,"","https://a b"]}}`), []string{
			opt + ".allowed_origins[0]: must be a string, got number",
			opt + ".allowed_origins[1]: must not be empty",
			opt + `.allowed_origins[2]: must be an origin pattern without spaces or control characters, got "https://a b"`,
		}},
		{"max_message_size zero", cfgWS(`{"type":"websocket","options":{"max_message_size":0}}`), []string{opt + ".max_message_size: must be between 1 and 67108864, got 0"}},
		{"max_connections_per_cookie zero", cfgWS(`{"type":"websocket","options":{"max_connections_per_cookie":0}}`), []string{opt + ".max_connections_per_cookie: must be between 1 and 1000000, got 0"}},
		{"unknown option", cfgWS(`{"type":"websocket","options":{"max_conns":5}}`), []string{opt + ".max_conns: unknown key (valid keys: allow_null_origin, allowed_origins, …"}},

		// Authentication.
		{"auth not an object", cfgAuth(`true`), []string{au + ": must be an object, got boolean"}},
		{"auth without methods", cfgAuth(`{}`), []string{au + `: must enable at least one method (anonymous, ticket, cookie); leave "auth" out for no authentication`}},
		{"auth wampcra", cfgAuth(`{"wampcra":{"type":"static","users":{}}}`), []string{au + `.wampcra: auth method "wampcra" is not supported by cookiestore (supported: anonymous, ticket, cookie)`}},
		{"auth scram cryptosign tls", cfgAuth(`{"scram":{},"cryptosign":{},"tls":{}}`), []string{
			au + `.scram: auth method "scram" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
			au + `.cryptosign: auth method "cryptosign" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
			au + `.tls: auth method "tls" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
		}},
		{"cookie auth without cookie block", cfgWS(`{"type":"websocket","auth":{"cookie":{}}}`), []string{au + ".cookie: cookie authentication needs a cookie block on the same WebSocket service"}},
		{"cookie auth with a key", cfgAuth(`{"cookie":{"max_age":5}}`), []string{au + ".cookie.max_age: unknown key (this block takes no keys)"}},
		{"anonymous dynamic", cfgAuth(`{"anonymous":{"type":"dynamic","authenticator":"com.example.auth"}}`), []string{au + `.anonymous.type: dynamic anonymous authentication is not supported by cookiestore; use "static"`}},
		{"anonymous bad type", cfgAuth(`{"anonymous":{"type":"open"}}`), []string{au + `.anonymous.type: must be "static", got "open"`}},
		{"anonymous empty role", cfgAuth(`{"anonymous":{"role":""}}`), []string{au + ".anonymous.role: must not be empty"}},
		{"anonymous unknown key", cfgAuth(`{"anonymous":{"authid":"x"}}`), []string{au + ".anonymous.authid: unknown key (valid keys: role, type)"}},
		{"ticket type missing", cfgAuth(`{"ticket":{"principals":{}}}`), []string{au + ".ticket.type: is required"}},
		{"ticket dynamic", cfgAuth(`{"ticket":{"type":"dynamic","authenticator":"com.example.auth"}}`), []string{au + `.ticket.type: dynamic ticket authentication is not supported by cookiestore; use "static"`}},
		{"ticket principals missing", cfgAuth(`{"ticket":{"type":"static"}}`), []string{au + ".ticket.principals: is required"}},
		{"ticket principals not an object", cfgAuth(`{"ticket":{"type":"static","principals":[]}}`), []string{au + ".ticket.principals: must be an object, got array"}},
		{"principal incomplete", cfgAuth(`{"ticket":{"type":"static","principals":{"alice":{}}}}`), []string{au + ".ticket.principals.alice.ticket: is required", au + ".ticket.principals.alice.role: is required"}},
		{"principal empty ticket and authid", cfgAuth(`{"ticket":{"type":"static","principals":{"bob@example.com":{"ticket":"","role":"user"},"":{"ticket":"t","role":"user"}}}}`), []string{
			au + `.ticket.principals["bob@example.com"].ticket: must not be empty`,
			au + `.ticket.principals[""]: an authid must not be empty`,
		}},
		{"principal ticket from unset variable", cfgAuth(`{"ticket":{"type":"static","principals":{"alice":{"ticket":"$CFGTEST_UNSET","role":"user"}}}}`), []string{au + ".ticket.principals.alice.ticket: environment variable CFGTEST_UNSET is not set"}},
		{"principal unknown key", cfgAuth(`{"ticket":{"type":"static","principals":{"alice":{"secret":"s","ticket":"t","role":"user"}}}}`), []string{au + ".ticket.principals.alice.secret: unknown key (valid keys: realm, role, ticket)"}},

		// The document and the worker structure.
		{"not an object", `[]`, []string{"the config must be a JSON object, got array"}},
		{"no transports", `{}`, []string{`no transports: the config needs "transports", or "workers" with a router worker that holds them`}},
		{"empty transports", `{"transports":[]}`, []string{"transports: must hold at least one transport"}},
		{"transports not an array", `{"transports":{}}`, []string{"transports: must be an array, got object"}},
		{"workers and transports", `{"workers":[{"type":"router","transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1}}]}],"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":2}}]}`,
			[]string{`transports: cannot be combined with "workers": put the transports inside a router worker`}},
		{"workers not an array", `{"workers":{}}`, []string{"workers: must be an array, got object"}},
		{"worker not an object", `{"workers":["router"]}`, []string{"workers[0]: must be an object, got string", `workers: no transports: a worker of type "router" must hold at least one transport`}},
		{"worker type missing", `{"workers":[{"transports":[]}]}`, []string{"workers[0].type: is required", `workers: no transports: a worker of type "router" must hold at least one transport`}},
		{"guest worker with transports", `{"workers":[{"type":"guest","transports":[{}]}]}`, []string{
			`workers[0].type: worker type "guest" is not supported by cookiestore: only "router" workers may hold transports`,
			`workers: no transports: a worker of type "router" must hold at least one transport`,
		}},
		{"router worker unknown key", `{"workers":[{"type":"router","transport":[]}]}`, []string{
			"workers[0].transport: unknown key (valid keys: components, connections, id, manhole, options, realms, transports, type)",
			`workers: no transports: a worker of type "router" must hold at least one transport`,
		}},
		{"router worker transports not an array", `{"workers":[{"type":"router","transports":{}}]}`, []string{
			"workers[0].transports: must be an array, got object",
			`workers: no transports: a worker of type "router" must hold at least one transport`,
		}},
		{"version 1", `{"version":1,"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1}}]}`, []string{"version: must be 2 (Crossbar node config version), got 1"}},
		{"version string", `{"version":"2","transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1}}]}`, []string{"version: must be an integer, got string"}},
		{"duplicate key", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1,"port":2}}]}`, []string{"transports[0].endpoint.port: duplicate key"}},
		{"duplicate path key", cfgWeb(`{"/":{"type":"page"},"/":{"type":"status"}}`), []string{`transports[0].paths["/"]: duplicate key`}},

		// Malformed JSON: one problem, with a position.
		{"syntax error", `{"transports": [}`, []string{"invalid JSON at line 1, column 17: invalid character '}' looking for beginning of value"}},
		{"syntax error after a newline", "{\n  \"transports\": [\n    {\"type\": \"web\",}\n  ]\n}", []string{"invalid JSON at line 3, column 20: invalid character '}' looking for beginning of object key string"}},
		{"syntax error after wide characters", "{\"é€\": [1,,2]}", []string{"invalid JSON at line 1, column 11: invalid character ',' looking for beginning of value"}},
		{"truncated", "{\n  \"transports\": [\n    {\"type\": \"web\"", []string{"invalid JSON at line 3, column 19: unexpected end of JSON input"}},
		{"empty", ``, []string{"invalid JSON at line 1, column 1: unexpected end of JSON input"}},
		{"trailing data", `{"transports":[]} {}`, []string{"invalid JSON at line 1, column 19: invalid character '{' after top-level value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.json), dir)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config %+v returned with the error", cfg)
			}
			got := cfgErrorLines(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				want, prefix := strings.CutSuffix(tt.want[i], "…")
				if prefix && !strings.HasPrefix(got[i], want) || !prefix && got[i] != want {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestParseConfigReportsEveryProblem checks that problems in different places
// are all reported, in document order, rather than the first one only.
func TestParseConfigReportsEveryProblem(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "config", "three-problems.json"), t.TempDir())
	if cfg != nil {
		t.Fatalf("config returned: %+v", cfg)
	}
	file := filepath.Join("testdata", "config", "three-problems.json")
	want := []string{
		file + ": transports[0].endpoint.port: must be between 1 and 65535, got 0",
		file + ": transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3",
		file + `: transports[0].paths.ws.cookie.store.type: store type "database" (LMDB) is not supported; use "file"`,
	}
	if got := cfgErrorLines(t, err); !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Error() = %q, want one line per problem", got)
	}
	// errors.As reaches the individual problems too.
	var one *ConfigError
	if !errors.As(err, &one) || one.Path != "transports[0].endpoint.port" || one.File != file {
		t.Errorf("errors.As(*ConfigError) = %+v", one)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := LoadConfig(path, t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadConfig(missing) = %v, want a not-exist error naming %s", err, path)
	}
}

func TestLoadConfigSyntaxErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte("{\n  \"transports\": [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path, t.TempDir())
	want := path + ": invalid JSON at line 3, column 1: unexpected end of JSON input"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// wsService returns the WebSocket service served at urlPath by the first
// transport.
func wsService(t *testing.T, cfg *Config, urlPath string) *WebSocketService {
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

func TestParseConfigValid(t *testing.T) {
	dir := cfgTestNodeDir(t)
	t.Setenv("CFGTEST_PORT", "9443")
	t.Setenv("CFGTEST_TICKET", "from-env")

	const mem = `"store":{"type":"memory"}`
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, cfg *Config)
	}{
		{"cookie defaults", cfgCookie(`{` + mem + `}`), func(t *testing.T, cfg *Config) {
			want := &CookieConfig{
				Name: "cbtid", Length: 24, MaxAge: 86400 * time.Second,
				HTTPOnly: true, SameSite: http.SameSiteLaxMode,
				Store: StoreConfig{Type: "memory"},
			}
			if got := wsService(t, cfg, "/ws").Cookie; !reflect.DeepEqual(got, want) {
				t.Errorf("cookie = %+v, want %+v", got, want)
			}
		}},
		{"cookie settings", cfgCookie(`{"name":"sid_2","length":64,"max_age":315360000,"secure":true,"http_strict":false,"same_site":"None",` + mem + `}`), func(t *testing.T, cfg *Config) {
			want := &CookieConfig{
				Name: "sid_2", Length: 64, MaxAge: 315360000 * time.Second, Secure: true,
				HTTPOnly: false, SameSite: http.SameSiteNoneMode, Store: StoreConfig{Type: "memory"},
			}
			if got := wsService(t, cfg, "/ws").Cookie; !reflect.DeepEqual(got, want) {
				t.Errorf("cookie = %+v, want %+v", got, want)
			}
		}},
		{"shortest cookie", cfgCookie(`{"name":"ab","length":6,"max_age":1,"same_site":"Strict",` + mem + `}`), func(t *testing.T, cfg *Config) {
			c := wsService(t, cfg, "/ws").Cookie
			if c.Name != "ab" || c.Length != 6 || c.MaxAge != time.Second || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie = %+v", c)
			}
		}},
		{"same_site None under TLS", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"cert.pem"}},"cookie":{"same_site":"None",` + mem + `}}]}`, func(t *testing.T, cfg *Config) {
			tr := cfg.Transports[0]
			wantTLS := &TLS{Key: filepath.Join(dir, "key.pem"), Certificate: filepath.Join(dir, "cert.pem")}
			if !reflect.DeepEqual(tr.Endpoint.TLS, wantTLS) {
				t.Errorf("TLS = %+v, want %+v", tr.Endpoint.TLS, wantTLS)
			}
			if c := tr.WebSocket.Cookie; c.SameSite != http.SameSiteNoneMode || c.Secure {
				t.Errorf("cookie = %+v: want SameSite None, Secure left to TLS", c)
			}
		}},
		{"file store defaults", cfgCookie(`{"store":{"type":"file","filename":"cookies.dat"}}`), func(t *testing.T, cfg *Config) {
			want := StoreConfig{Type: "file", Filename: filepath.Join(dir, "cookies.dat"), Sync: "always"}
			if got := wsService(t, cfg, "/ws").Cookie.Store; got != want {
				t.Errorf("store = %+v, want %+v", got, want)
			}
		}},
		{"file store settings", cfgCookie(`{"store":{"type":"file","filename":"/var/lib/cs/../cookies.dat","purge_on_startup":true,"sync":"interval","sync_interval_ms":250}}`), func(t *testing.T, cfg *Config) {
			want := StoreConfig{Type: "file", Filename: filepath.FromSlash("/var/lib/cookies.dat"), PurgeOnStartup: true, Sync: "interval", SyncInterval: 250 * time.Millisecond}
			if got := wsService(t, cfg, "/ws").Cookie.Store; got != want {
				t.Errorf("store = %+v, want %+v", got, want)
			}
		}},
		{"interval sync default", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"interval"}}`), func(t *testing.T, cfg *Config) {
			if got := wsService(t, cfg, "/ws").Cookie.Store; got.SyncInterval != 100*time.Millisecond {
				t.Errorf("SyncInterval = %v, want 100ms", got.SyncInterval)
			}
		}},
		{"no sync", cfgCookie(`{"store":{"type":"file","filename":"c.dat","sync":"none"}}`), func(t *testing.T, cfg *Config) {
			if got := wsService(t, cfg, "/ws").Cookie.Store; got.Sync != "none" || got.SyncInterval != 0 {
				t.Errorf("store = %+v", got)
			}
		}},
		{"no cookie no auth", cfgWS(`{"type":"websocket"}`), func(t *testing.T, cfg *Config) {
			want := &WebSocketService{MaxMessageSize: 65536, MaxConnectionsPerCookie: 100}
			if got := wsService(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
				t.Errorf("service = %+v, want %+v", got, want)
			}
		}},
		{"websocket options", cfgWS(`{"type":"websocket","options":{"allowed_origins":["https://*.example.com","*"],"max_message_size":1024,"max_connections_per_cookie":3}}`), func(t *testing.T, cfg *Config) {
			ws := wsService(t, cfg, "/ws")
			if !slices.Equal(ws.AllowedOrigins, []string{"https://*.example.com", "*"}) || ws.MaxMessageSize != 1024 || ws.MaxConnectionsPerCookie != 3 {
				t.Errorf("service = %+v", ws)
			}
		}},
		{"auth methods", cfgAuth(`{"cookie":{},"anonymous":{},"ticket":{"type":"static","principals":{
			"alice":{"ticket":"s3cret","role":"user"},
			"bob@example.com":{"ticket":"$CFGTEST_TICKET","role":"admin","realm":"realm1"}}}}`), func(t *testing.T, cfg *Config) {
			want := &AuthConfig{
				Cookie:    true,
				Anonymous: &AnonymousAuth{Role: "anonymous"},
				Ticket: &TicketAuth{Principals: map[string]Principal{
					"alice":           {Ticket: "s3cret", Role: "user", Realm: "default"},
					"bob@example.com": {Ticket: "from-env", Role: "admin", Realm: "realm1"},
				}},
			}
			if got := wsService(t, cfg, "/ws").Auth; !reflect.DeepEqual(got, want) {
				t.Errorf("auth = %+v, want %+v", got, want)
			}
		}},
		{"anonymous with role", cfgWS(`{"type":"websocket","auth":{"anonymous":{"type":"static","role":"guest"}}}`), func(t *testing.T, cfg *Config) {
			want := &AuthConfig{Anonymous: &AnonymousAuth{Role: "guest"}}
			if got := wsService(t, cfg, "/ws").Auth; !reflect.DeepEqual(got, want) {
				t.Errorf("auth = %+v, want %+v", got, want)
			}
		}},
		{"empty principals", cfgAuth(`{"ticket":{"type":"static","principals":{}}}`), func(t *testing.T, cfg *Config) {
			if tk := wsService(t, cfg, "/ws").Auth.Ticket; tk == nil || tk.Principals == nil || len(tk.Principals) != 0 {
				t.Errorf("ticket = %+v, want an empty, non-nil principal map", tk)
			}
		}},
		{"paths sorted with URL paths", cfgWeb(`{"ws":{"type":"websocket"},"status":{"type":"status"},"/":{"type":"static","directory":"../web"},"metrics":{"type":"metrics"},"home":{"type":"page"}}`), func(t *testing.T, cfg *Config) {
			type row struct{ path, url, typ, dir string }
			var got []row
			for _, s := range cfg.Transports[0].Paths {
				got = append(got, row{s.Path, s.URLPath, s.Type, s.Directory})
			}
			want := []row{
				{`transports[0].paths["/"]`, "/", "static", filepath.Join(filepath.Dir(dir), "web")},
				{"transports[0].paths.home", "/home", "page", ""},
				{"transports[0].paths.metrics", "/metrics", "metrics", ""},
				{"transports[0].paths.status", "/status", "status", ""},
				{"transports[0].paths.ws", "/ws", "websocket", ""},
			}
			if !slices.Equal(got, want) {
				t.Errorf("paths:\n got %q\nwant %q", got, want)
			}
		}},
		{"websocket transport", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":9000,"interface":"localhost"},"cookie":{` + mem + `}}]}`, func(t *testing.T, cfg *Config) {
			tr := cfg.Transports[0]
			if tr.Path != "transports[0]" || tr.Type != "websocket" || tr.Paths != nil || tr.WebSocket == nil || tr.WebSocket.Cookie == nil {
				t.Errorf("transport = %+v", tr)
			}
			if want := (Endpoint{Type: "tcp", Interface: "localhost", Port: 9000}); tr.Endpoint != want {
				t.Errorf("endpoint = %+v, want %+v", tr.Endpoint, want)
			}
		}},
		{"all interfaces by default", cfgEndpoint(`{"type":"tcp","port":8080}`), func(t *testing.T, cfg *Config) {
			if ep := cfg.Transports[0].Endpoint; ep.Interface != "" {
				t.Errorf("interface = %q, want all interfaces", ep.Interface)
			}
		}},
		{"port from the environment", cfgEndpoint(`{"type":"tcp","port":"$CFGTEST_PORT","interface":"::1"}`), func(t *testing.T, cfg *Config) {
			if ep := cfg.Transports[0].Endpoint; ep.Port != 9443 || ep.Interface != "::1" {
				t.Errorf("endpoint = %+v", ep)
			}
		}},
		{"one port on two interfaces", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.1"}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.2"}},{"type":"websocket","endpoint":{"type":"tcp","port":8081}}]}`, func(t *testing.T, cfg *Config) {
			if len(cfg.Transports) != 3 {
				t.Errorf("got %d transports, want 3", len(cfg.Transports))
			}
		}},
		{"byte order mark", "\xEF\xBB\xBF" + cfgEndpoint(`{"type":"tcp","port":8080}`), func(t *testing.T, cfg *Config) {
			if len(cfg.Transports) != 1 {
				t.Errorf("got %d transports, want 1", len(cfg.Transports))
			}
		}},
		{"Crossbar settings are warnings", `{"version":2,"controller":{},"x-note":"hi","workers":[
			{"type":"container","components":[]},
			{"type":"router","id":"r1","realms":[],"options":{},"transports":[
				{"type":"web","id":"web1","options":{"hsts":true},
				 "endpoint":{"type":"tcp","port":443,"backlog":50,"tls":{"key":"key.pem","certificate":"cert.pem","dhparam":"dh.pem"}},
				 "paths":{"/":{"type":"static","directory":"static","options":{"enable_directory_listing":true}},
				          "ws":{"type":"websocket","url":"wss://example.com/ws","serializers":["json"],"debug":false,
				                "options":{"compression":{},"auto_ping_interval":1000},
				                "cookie":{"store":{"type":"memory"}}},
				          "ws2":{"type":"websocket","cookie":{"store":{"type":"memory"}}}}}]}]}`, func(t *testing.T, cfg *Config) {
			const w = "workers[1].transports[0]"
			want := []string{
				"controller: ignored: Crossbar setting not used by cookiestore",
				"x-note: ignored: unknown top-level key",
				`workers[0]: ignored: worker type "container" is not used by cookiestore`,
				"workers[1].id: ignored: Crossbar setting not used by cookiestore",
				"workers[1].realms: ignored: Crossbar setting not used by cookiestore",
				"workers[1].options: ignored: Crossbar setting not used by cookiestore",
				w + ".id: ignored: Crossbar setting not used by cookiestore",
				w + ".options: ignored: Crossbar setting not used by cookiestore",
				w + ".endpoint.backlog: ignored: Crossbar setting not used by cookiestore",
				w + ".endpoint.tls.dhparam: ignored: Crossbar setting not used by cookiestore",
				w + `.paths["/"].options: ignored: Crossbar setting not used by cookiestore`,
				w + ".paths.ws.url: ignored: Crossbar setting not used by cookiestore",
				w + ".paths.ws.serializers: ignored: Crossbar setting not used by cookiestore",
				w + ".paths.ws.debug: ignored: Crossbar setting not used by cookiestore",
				w + ".paths.ws.options.compression: ignored: Crossbar setting not used by cookiestore",
				w + ".paths.ws.options.auto_ping_interval: ignored: Crossbar setting not used by cookiestore",
				w + `.paths.ws2.cookie: cookie "cbtid" is also used by ` + w + ".paths.ws.cookie: browsers share one cookie per name across the ports and paths of a host, so the two stores will keep replacing each other's cookie",
			}
			if !slices.Equal(cfg.Warnings, want) {
				t.Errorf("warnings:\n got %s\nwant %s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
			}
			if tr := cfg.Transports[0]; tr.Path != w || tr.Endpoint.TLS == nil {
				t.Errorf("transport = %+v", tr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.json), dir)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if len(cfg.Transports) == 0 {
				t.Fatal("no transports")
			}
			tt.check(t, cfg)
		})
	}
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
		store StoreConfig
	}{
		{"seed-memory.json", StoreConfig{Type: "memory"}},
		{"seed-file.json", StoreConfig{Type: "file", Filename: filepath.Join(node, "cookies.dat"), Sync: "always"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join("testdata", "config", tt.file), node)
			if err != nil {
				t.Fatal(err)
			}
			want := &Config{Transports: []*Transport{{
				Path:     "transports[0]",
				Type:     "web",
				Endpoint: Endpoint{Type: "tcp", Port: 8080},
				Paths: []*Service{
					{Path: `transports[0].paths["/"]`, URLPath: "/", Type: "static", Directory: web},
					{Path: "transports[0].paths.ws", URLPath: "/ws", Type: "websocket", WebSocket: &WebSocketService{
						Cookie: &CookieConfig{
							Name: "cbtid", Length: 24, MaxAge: 864000 * time.Second,
							HTTPOnly: true, SameSite: http.SameSiteLaxMode, Store: tt.store,
						},
						MaxMessageSize:          65536,
						MaxConnectionsPerCookie: 100,
					}},
				},
			}}}
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("config differs from the seed's meaning:\n got %s\nwant %s", cfgDump(cfg), cfgDump(want))
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
	cfg, err := LoadConfig(filepath.Join("testdata", "config", "node.json"), node)
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
	wantCookie := &CookieConfig{
		Name: "session_id", Length: 32, MaxAge: 7 * 24 * time.Hour, Secure: true, HTTPOnly: true,
		SameSite: http.SameSiteStrictMode,
		Store: StoreConfig{Type: "file", Filename: filepath.Join(node, "cookies.dat"), PurgeOnStartup: true,
			Sync: "interval", SyncInterval: 250 * time.Millisecond},
	}
	if !reflect.DeepEqual(c, wantCookie) {
		t.Errorf("cookie = %+v, want %+v", c, wantCookie)
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

func TestDefaultConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".cookiestore")
	cfg := DefaultConfig(dir)
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
		services = append(services, s.URLPath+" "+s.Type)
	}
	if want := []string{"/ page", "/metrics metrics", "/status status", "/ws websocket"}; !slices.Equal(services, want) {
		t.Errorf("services = %q, want %q", services, want)
	}
	want := &WebSocketService{
		Cookie: &CookieConfig{
			Name: "cbtid", Length: 24, MaxAge: 24 * time.Hour, HTTPOnly: true, SameSite: http.SameSiteLaxMode,
			Store: StoreConfig{Type: "file", Filename: filepath.Join(dir, "cookies.dat"), Sync: "always"},
		},
		Auth: &AuthConfig{
			Cookie:    true,
			Anonymous: &AnonymousAuth{Role: "anonymous"},
			Ticket:    &TicketAuth{Principals: map[string]Principal{}},
		},
		MaxMessageSize:          64 << 10,
		MaxConnectionsPerCookie: 100,
	}
	if got := wsService(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
		t.Errorf("ws service:\n got %s\nwant %s", cfgDump(got), cfgDump(want))
	}
	// The default does not depend on the node directory existing, and each
	// call returns a fresh value that callers may change.
	other := DefaultConfig(dir)
	if !reflect.DeepEqual(cfg, other) || cfg == other || cfg.Transports[0] == other.Transports[0] {
		t.Error("DefaultConfig should return equal, independent values")
	}
}

func TestConfigErrorFormat(t *testing.T) {
	tests := []struct {
		err  ConfigError
		want string
	}{
		{ConfigError{Path: "transports[0].type", Msg: "is required"}, "transports[0].type: is required"},
		{ConfigError{Msg: "invalid JSON at line 1, column 1: x"}, "invalid JSON at line 1, column 1: x"},
		{ConfigError{File: "c.json", Path: "version", Msg: "m"}, "c.json: version: m"},
		{ConfigError{File: "c.json", Msg: "m"}, "c.json: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestConfigPathSyntax(t *testing.T) {
	tests := []struct{ parent, key, want string }{
		{"", "transports", "transports"},
		{"transports[0].paths", "ws", "transports[0].paths.ws"},
		{"transports[0].paths", "/", `transports[0].paths["/"]`},
		{"p", "bob@example.com", `p["bob@example.com"]`},
		{"p", "stored-key", "p.stored-key"},
		{"p", "9lives", `p["9lives"]`},
		{"p", "", `p[""]`},
		{"", "$schema", `["$schema"]`},
	}
	for _, tt := range tests {
		if got := cfgJoin(tt.parent, tt.key); got != tt.want {
			t.Errorf("cfgJoin(%q, %q) = %s, want %s", tt.parent, tt.key, got, tt.want)
		}
	}
}

// TestParseConfigHostileInput bounds the work and the report for documents
// that only a machine makes: deep nesting, many problems, long paths.
func TestParseConfigHostileInput(t *testing.T) {
	deep := strings.Repeat(`{"`+strings.Repeat("k", 50)+`":`, 2000)
	tests := []struct {
		name     string
		json     string
		problems int
	}{
		{"deep array", deep + "[" + strings.Repeat("1,", 20000) + "1]" + strings.Repeat("}", 2000), 1},
		{"deep duplicate keys", deep + "{" + strings.Repeat(`"a":1,`, 20000) + `"a":1}` + strings.Repeat("}", 2000), cfgMaxProblems + 1},
		{"many bad transports", `{"transports":[` + strings.Repeat(`1,`, 5000) + `1]}`, cfgMaxProblems + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseConfig([]byte(tt.json), t.TempDir())
			// Generous for slow, shared machines; the quadratic version took minutes.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			lines := cfgErrorLines(t, err)
			if len(lines) != tt.problems {
				t.Fatalf("got %d problems, want %d", len(lines), tt.problems)
			}
			if tt.problems > cfgMaxProblems && lines[cfgMaxProblems] != "too many problems; only the first 100 are listed" {
				t.Errorf("last problem = %q", lines[cfgMaxProblems])
			}
			for _, l := range lines {
				if len(l) > 1000 {
					t.Fatalf("problem of %d bytes: %.200s…", len(l), l)
				}
			}
		})
	}
}

func TestConfigShortenPath(t *testing.T) {
	long := strings.Repeat("é", 400) // two bytes each: the cut must not split one
	got := cfgShorten(long)
	if !strings.Contains(got, "…") || len(got) > 320 || !utf8.ValidString(got) {
		t.Errorf("cfgShorten = %q (%d bytes)", got, len(got))
	}
	if short := "transports[0].paths.ws"; cfgShorten(short) != short {
		t.Errorf("short path changed")
	}
}

// cfgDump renders a value with its pointers followed, for failure messages.
func cfgDump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestConfigDocShowsDefault keeps the reference's copy of the built-in
// config in step with the code.
func TestConfigDocShowsDefault(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+DefaultConfigJSON+"```") {
		t.Error("docs/CONFIG.md does not show DefaultConfigJSON as it is")
	}
}
