package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	dir := testNodeDir(t)
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
		{"name upper case", cookieDoc(`{"name":"Cbtid",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "Cbtid"`}},
		{"name one letter", cookieDoc(`{"name":"a",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "a"`}},
		{"name with dash", cookieDoc(`{"name":"cb-tid",` + mem + `}`), []string{ck + `.name: must match ^[a-z][a-z0-9_]+$, got "cb-tid"`}},
		{"name not a string", cookieDoc(`{"name":7,` + mem + `}`), []string{ck + ".name: must be a string, got number"}},
		{"length too short", cookieDoc(`{"length":3,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 3"}},
		{"length too long", cookieDoc(`{"length":65,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 65"}},
		{"length fraction", cookieDoc(`{"length":24.5,` + mem + `}`), []string{ck + ".length: must be an integer, got 24.5"}},
		{"length exponent", cookieDoc(`{"length":1e400,` + mem + `}`), []string{ck + ".length: must be an integer, got 1e400"}},
		{"length overflow", cookieDoc(`{"length":99999999999999999999,` + mem + `}`), []string{ck + ".length: must be between 6 and 64, got 99999999999999999999"}},
		{"length string", cookieDoc(`{"length":"24",` + mem + `}`), []string{ck + ".length: must be an integer, got string"}},
		{"max_age zero", cookieDoc(`{"max_age":0,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got 0"}},
		{"max_age negative", cookieDoc(`{"max_age":-5,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got -5"}},
		{"max_age over ten years", cookieDoc(`{"max_age":315360001,` + mem + `}`), []string{ck + ".max_age: must be between 1 and 315360000, got 315360001"}},
		{"max_age null", cookieDoc(`{"max_age":null,` + mem + `}`), []string{ck + ".max_age: must be an integer, got null"}},
		{"secure not bool", cookieDoc(`{"secure":"yes",` + mem + `}`), []string{ck + ".secure: must be a boolean, got string"}},
		{"http_strict not bool", cookieDoc(`{"http_strict":1,` + mem + `}`), []string{ck + ".http_strict: must be a boolean, got number"}},
		{"same_site wrong case", cookieDoc(`{"same_site":"lax",` + mem + `}`), []string{ck + `.same_site: must be "Strict", "Lax" or "None", got "lax"`}},
		{"same_site None without Secure", cookieDoc(`{"same_site":"None",` + mem + `}`), []string{ck + `.same_site: "None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`}},
		{"same_site None with secure false", cookieDoc(`{"same_site":"None","secure":false,` + mem + `}`), []string{ck + `.same_site: "None" needs "secure": true or TLS on the endpoint: browsers reject SameSite=None cookies that are not Secure`}},
		{"unknown cookie key", cookieDoc(`{"nmae":"x",` + mem + `}`), []string{ck + ".nmae: unknown key (valid keys: http_strict, length, max_age, name, same_site, secure, store)"}},
		{"cookie not an object", cookieDoc(`[]`), []string{ck + ": must be an object, got array"}},
		{"store missing", cookieDoc(`{}`), []string{st + ": is required"}},
		{"store not an object", cookieDoc(`{"store":"memory"}`), []string{st + ": must be an object, got string"}},
		{"store type missing", cookieDoc(`{"store":{}}`), []string{st + ".type: is required"}},
		{"store type database", cookieDoc(`{"store":{"type":"database","path":"x"}}`), []string{st + `.type: store type "database" (LMDB) is not supported; use "file"`}},
		{"store type unknown", cookieDoc(`{"store":{"type":"redis"}}`), []string{st + `.type: must be "memory", "file" or "nats", got "redis"`}},
		{"memory store with filename", cookieDoc(`{"store":{"type":"memory","filename":"c.dat"}}`), []string{st + `.filename: only valid for a "file" store`}},
		{"memory store with purge", cookieDoc(`{"store":{"type":"memory","purge_on_startup":true}}`), []string{st + `.purge_on_startup: only valid for a "file" store`}},
		{"memory store with sync", cookieDoc(`{"store":{"type":"memory","sync":"none","sync_interval_ms":5}}`), []string{st + `.sync: only valid for a "file" store`, st + `.sync_interval_ms: only valid for a "file" store`}},
		{"unknown store key", cookieDoc(`{"store":{"type":"file","filename":"c.dat","path":"x"}}`), []string{st + ".path: unknown key (valid keys: filename, purge_on_startup, sync, sync_interval_ms, type)"}},
		{"file store without filename", cookieDoc(`{"store":{"type":"file"}}`), []string{st + ".filename: is required"}},
		{"file store empty filename", cookieDoc(`{"store":{"type":"file","filename":""}}`), []string{st + ".filename: must not be empty"}},
		{"file store filename is a folder", cookieDoc(`{"store":{"type":"file","filename":"static"}}`), []string{st + `.filename: "static" (resolved to "` + filepath.Join(dir, "static") + `") is a directory`}},
		{"purge not bool", cookieDoc(`{"store":{"type":"file","filename":"c.dat","purge_on_startup":"true"}}`), []string{st + ".purge_on_startup: must be a boolean, got string"}},
		{"sync unknown", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"sometimes"}}`), []string{st + `.sync: must be "always", "interval" or "none", got "sometimes"`}},
		{"sync interval zero", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"interval","sync_interval_ms":0}}`), []string{st + ".sync_interval_ms: must be between 1 and 60000, got 0"}},
		{"sync interval too long", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"interval","sync_interval_ms":60001}}`), []string{st + ".sync_interval_ms: must be between 1 and 60000, got 60001"}},
		{"sync interval without interval sync", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"none","sync_interval_ms":50}}`), []string{st + `.sync_interval_ms: only used with "sync": "interval" (sync is "none")`}},
		{"sync interval with default sync", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync_interval_ms":50}}`), []string{st + `.sync_interval_ms: only used with "sync": "interval" (sync is "always")`}},
		{"two stores on one file", webDoc(`{"a":{"type":"websocket","cookie":{"name":"one","store":{"type":"file","filename":"c.dat"}}},"b":{"type":"websocket","cookie":{"name":"two","store":{"type":"file","filename":"./c.dat"}}}}`),
			[]string{`transports[0].paths.b.cookie.store.filename: "` + filepath.Join(dir, "c.dat") + `" is already the store of transports[0].paths.a.cookie.store`}},

		// Where a cookie block may not go.
		{"cookie on a static service", webDoc(`{"/":{"type":"static","directory":"static","cookie":{` + mem + `}}}`), []string{`transports[0].paths["/"].cookie: cookie tracking needs a WebSocket transport or a websocket path service`}},
		{"cookie on a status service", webDoc(`{"status":{"type":"status","cookie":{}}}`), []string{`transports[0].paths.status.cookie: cookie tracking needs a WebSocket transport or a websocket path service`}},
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
		{"endpoint not an object", endpointDoc(`"tcp:8080"`), []string{ep + ": must be an object, got string"}},
		{"endpoint type missing", endpointDoc(`{"port":8080}`), []string{ep + ".type: is required"}},
		{"endpoint unix", endpointDoc(`{"type":"unix","port":8080}`), []string{ep + `.type: unix socket endpoints are not supported by cookiestore (supported: "tcp")`}},
		{"endpoint udp", endpointDoc(`{"type":"udp","port":8080}`), []string{ep + `.type: must be "tcp", got "udp"`}},
		{"port missing", endpointDoc(`{"type":"tcp"}`), []string{ep + ".port: is required"}},
		{"port zero", endpointDoc(`{"type":"tcp","port":0}`), []string{ep + ".port: must be between 1 and 65535, got 0"}},
		{"port too big", endpointDoc(`{"type":"tcp","port":65536}`), []string{ep + ".port: must be between 1 and 65535, got 65536"}},
		{"port string", endpointDoc(`{"type":"tcp","port":"8080"}`), []string{ep + ".port: must be an integer, got string"}},
		{"port from unset variable", endpointDoc(`{"type":"tcp","port":"$CFGTEST_UNSET"}`), []string{ep + ".port: environment variable CFGTEST_UNSET is not set"}},
		{"port from bad variable", endpointDoc(`{"type":"tcp","port":"$CFGTEST_NOT_A_PORT"}`), []string{ep + `.port: environment variable CFGTEST_NOT_A_PORT must hold a port between 1 and 65535, got "http"`}},
		{"interface empty", endpointDoc(`{"type":"tcp","port":8080,"interface":""}`), []string{ep + ".interface: must not be empty"}},
		{"interface not a host", endpointDoc(`{"type":"tcp","port":8080,"interface":"my host!"}`), []string{ep + `.interface: must be an IP address or a host name, got "my host!"`}},
		{"unknown endpoint key", endpointDoc(`{"type":"tcp","port":8080,"host":"x"}`), []string{ep + ".host: unknown key (valid keys: backlog, interface, port, shared, tls, type, user_timeout, version)"}},
		{"same port on all interfaces", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.1"}}]}`,
			[]string{"transports[1].endpoint.port: port 8080 is already used by transports[0] (one of them listens on all interfaces)"}},
		{"same interface and port", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"::1"}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"0:0::1"}}]}`,
			[]string{"transports[1].endpoint.port: [::1]:8080 is already used by transports[0]"}},
		{"tls not an object", endpointDoc(`{"type":"tcp","port":443,"tls":true}`), []string{ep + ".tls: must be an object, got boolean"}},
		{"tls keys missing", endpointDoc(`{"type":"tcp","port":443,"tls":{}}`), []string{ep + ".tls.key: is required", ep + ".tls.certificate: is required"}},
		{"tls files missing", endpointDoc(`{"type":"tcp","port":443,"tls":{"key":"nokey.pem","certificate":"` + filepath.Join(dir, "nocert.pem") + `"}}`),
			[]string{ep + `.tls.key: "nokey.pem" (resolved to "` + filepath.Join(dir, "nokey.pem") + `") does not exist`, ep + `.tls.certificate: "` + filepath.Join(dir, "nocert.pem") + `" does not exist`}},
		{"tls file is a folder", endpointDoc(`{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"static"}}`),
			[]string{ep + `.tls.certificate: "static" (resolved to "` + filepath.Join(dir, "static") + `") is not a regular file`}},
		{"tls key does not match", endpointDoc(`{"type":"tcp","port":443,"tls":{"key":"other-key.pem","certificate":"cert.pem"}}`),
			[]string{ep + ".tls: key and certificate do not form a valid PEM key pair: …"}},
		{"tls not PEM", endpointDoc(`{"type":"tcp","port":443,"tls":{"key":"plain.txt","certificate":"cert.pem"}}`),
			[]string{ep + ".tls: key and certificate do not form a valid PEM key pair: …"}},

		// Paths and services.
		{"paths not an object", webDoc(`[]`), []string{"transports[0].paths: must be an object, got array"}},
		{"path key with leading slash", webDoc(`{"/ws":{"type":"status"}}`), []string{`transports[0].paths["/ws"]: path keys have no leading slash (Crossbar style): write "ws", it is served at "/ws"`}},
		{"nested path key", webDoc(`{"a/b":{"type":"status"}}`), []string{`transports[0].paths["a/b"]: path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`}},
		{"empty path key", webDoc(`{"":{"type":"status"}}`), []string{`transports[0].paths[""]: path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`}},
		{"service not an object", wsDoc(`"websocket"`), []string{"transports[0].paths.ws: must be an object, got string"}},
		{"service type missing", wsDoc(`{}`), []string{"transports[0].paths.ws.type: is required"}},
		{"service type unsupported", wsDoc(`{"type":"wsgi","module":"m","object":"o"}`), []string{`transports[0].paths.ws.type: service type "wsgi" is not supported by cookiestore (supported: static, websocket, status, metrics, page)`}},
		{"status with a key", webDoc(`{"status":{"type":"status","format":"json"}}`), []string{"transports[0].paths.status.format: unknown key (valid keys: type)"}},
		{"static without directory", webDoc(`{"/":{"type":"static"}}`), []string{`transports[0].paths["/"].directory: is required`}},
		{"static directory missing", webDoc(`{"/":{"type":"static","directory":"../nowhere"}}`),
			[]string{`transports[0].paths["/"].directory: "../nowhere" (resolved to "` + filepath.Join(filepath.Dir(dir), "nowhere") + `") does not exist`}},
		{"static directory is a file", webDoc(`{"/":{"type":"static","directory":"plain.txt"}}`),
			[]string{`transports[0].paths["/"].directory: "plain.txt" (resolved to "` + filepath.Join(dir, "plain.txt") + `") is not a directory`}},
		{"static from a Python package", webDoc(`{"/":{"type":"static","package":"app","resource":"web"}}`), []string{
			`transports[0].paths["/"].package: static files from a Python package are not supported by cookiestore; use "directory"`,
			`transports[0].paths["/"].resource: static files from a Python package are not supported by cookiestore; use "directory"`,
			`transports[0].paths["/"].directory: is required`,
		}},

		// WebSocket options.
		{"options not an object", wsDoc(`{"type":"websocket","options":[]}`), []string{opt + ": must be an object, got array"}},
		{"allowed_origins not an array", wsDoc(`{"type":"websocket","options":{"allowed_origins":"*"}}`), []string{opt + ".allowed_origins: must be an array, got string"}},
		{"allowed_origins bad entries", wsDoc(`{"type":"websocket","options":{"allowed_origins":[1,"","https://a b"]}}`), []string{
			opt + ".allowed_origins[0]: must be a string, got number",
			opt + ".allowed_origins[1]: must not be empty",
			opt + `.allowed_origins[2]: must be an origin pattern without spaces or control characters, got "https://a b"`,
		}},
		{"max_message_size zero", wsDoc(`{"type":"websocket","options":{"max_message_size":0}}`), []string{opt + ".max_message_size: must be between 1 and 67108864, got 0"}},
		{"max_connections_per_cookie zero", wsDoc(`{"type":"websocket","options":{"max_connections_per_cookie":0}}`), []string{opt + ".max_connections_per_cookie: must be between 1 and 1000000, got 0"}},
		{"unknown option", wsDoc(`{"type":"websocket","options":{"max_conns":5}}`), []string{opt + ".max_conns: unknown key (valid keys: allow_null_origin, allowed_hosts, allowed_origins, …"}},

		// Authentication.
		{"auth not an object", authDoc(`true`), []string{au + ": must be an object, got boolean"}},
		{"auth without methods", authDoc(`{}`), []string{au + `: must enable at least one method (anonymous, ticket, cookie); leave "auth" out for no authentication`}},
		{"auth wampcra", authDoc(`{"wampcra":{"type":"static","users":{}}}`), []string{au + `.wampcra: auth method "wampcra" is not supported by cookiestore (supported: anonymous, ticket, cookie)`}},
		{"auth scram cryptosign tls", authDoc(`{"scram":{},"cryptosign":{},"tls":{}}`), []string{
			au + `.scram: auth method "scram" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
			au + `.cryptosign: auth method "cryptosign" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
			au + `.tls: auth method "tls" is not supported by cookiestore (supported: anonymous, ticket, cookie)`,
		}},
		{"cookie auth without cookie block", wsDoc(`{"type":"websocket","auth":{"cookie":{}}}`), []string{au + ".cookie: cookie authentication needs a cookie block on the same WebSocket service"}},
		{"cookie auth with a key", authDoc(`{"cookie":{"max_age":5}}`), []string{au + ".cookie.max_age: unknown key (this block takes no keys)"}},
		{"anonymous dynamic", authDoc(`{"anonymous":{"type":"dynamic","authenticator":"com.example.auth"}}`), []string{au + `.anonymous.type: dynamic anonymous authentication is not supported by cookiestore; use "static"`}},
		{"anonymous bad type", authDoc(`{"anonymous":{"type":"open"}}`), []string{au + `.anonymous.type: must be "static", got "open"`}},
		{"anonymous empty role", authDoc(`{"anonymous":{"role":""}}`), []string{au + ".anonymous.role: must not be empty"}},
		{"anonymous unknown key", authDoc(`{"anonymous":{"authid":"x"}}`), []string{au + ".anonymous.authid: unknown key (valid keys: role, type)"}},
		{"ticket type missing", authDoc(`{"ticket":{"principals":{}}}`), []string{au + ".ticket.type: is required"}},
		{"ticket dynamic", authDoc(`{"ticket":{"type":"dynamic","authenticator":"com.example.auth"}}`), []string{au + `.ticket.type: dynamic ticket authentication is not supported by cookiestore; use "static"`}},
		{"ticket principals missing", authDoc(`{"ticket":{"type":"static"}}`), []string{au + ".ticket.principals: is required"}},
		{"ticket principals not an object", authDoc(`{"ticket":{"type":"static","principals":[]}}`), []string{au + ".ticket.principals: must be an object, got array"}},
		{"principal incomplete", authDoc(`{"ticket":{"type":"static","principals":{"alice":{}}}}`), []string{au + ".ticket.principals.alice.ticket: is required", au + ".ticket.principals.alice.role: is required"}},
		{"principal empty ticket and authid", authDoc(`{"ticket":{"type":"static","principals":{"bob@example.com":{"ticket":"","role":"user"},"":{"ticket":"t","role":"user"}}}}`), []string{
			au + `.ticket.principals["bob@example.com"].ticket: must not be empty`,
			au + `.ticket.principals[""]: an authid must not be empty`,
		}},
		{"principal ticket from unset variable", authDoc(`{"ticket":{"type":"static","principals":{"alice":{"ticket":"$CFGTEST_UNSET","role":"user"}}}}`), []string{au + ".ticket.principals.alice.ticket: environment variable CFGTEST_UNSET is not set"}},
		{"principal unknown key", authDoc(`{"ticket":{"type":"static","principals":{"alice":{"secret":"s","ticket":"t","role":"user"}}}}`), []string{au + ".ticket.principals.alice.secret: unknown key (valid keys: realm, role, ticket)"}},

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
		{"duplicate path key", webDoc(`{"/":{"type":"page"},"/":{"type":"status"}}`), []string{`transports[0].paths["/"]: duplicate key`}},

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
			cfg, err := Parse([]byte(tt.json), dir)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config %+v returned with the error", cfg)
			}
			got := errorLines(t, err)
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
