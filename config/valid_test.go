package config

import (
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cookiestore/journal"
)

func TestParseValid(t *testing.T) {
	dir := testNodeDir(t)
	t.Setenv("CFGTEST_PORT", "9443")
	t.Setenv("CFGTEST_TICKET", "from-env")

	const mem = `"store":{"type":"memory"}`
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, cfg *Config)
	}{
		{"cookie defaults", cookieDoc(`{` + mem + `}`), func(t *testing.T, cfg *Config) {
			want := &Cookie{Name: "cbtid", Length: 24, MaxAge: 86400 * time.Second, SameSite: http.SameSiteLaxMode}
			if got := wsService(t, cfg, "/ws").Cookie; !reflect.DeepEqual(got, want) {
				t.Errorf("cookie = %+v, want %+v", got, want)
			}
			if got := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(got, &Store{Type: StoreMemory}) {
				t.Errorf("store = %+v, want a memory store", got)
			}
		}},
		{"cookie settings", cookieDoc(`{"name":"sid_2","length":64,"max_age":315360000,"secure":true,"http_strict":false,"same_site":"None",` + mem + `}`), func(t *testing.T, cfg *Config) {
			want := &Cookie{
				Name: "sid_2", Length: 64, MaxAge: 315360000 * time.Second, Secure: true,
				ScriptReadable: true, SameSite: http.SameSiteNoneMode,
			}
			if got := wsService(t, cfg, "/ws").Cookie; !reflect.DeepEqual(got, want) {
				t.Errorf("cookie = %+v, want %+v", got, want)
			}
		}},
		{"shortest cookie", cookieDoc(`{"name":"ab","length":6,"max_age":1,"same_site":"Strict",` + mem + `}`), func(t *testing.T, cfg *Config) {
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
		{"file store defaults", cookieDoc(`{"store":{"type":"file","filename":"cookies.dat"}}`), func(t *testing.T, cfg *Config) {
			want := &Store{Type: StoreFile, Filename: filepath.Join(dir, "cookies.dat"), Sync: journal.SyncAlways}
			if got := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
				t.Errorf("store = %+v, want %+v", got, want)
			}
		}},
		{"file store settings", cookieDoc(`{"store":{"type":"file","filename":"/var/lib/cs/../cookies.dat","purge_on_startup":true,"sync":"interval","sync_interval_ms":250}}`), func(t *testing.T, cfg *Config) {
			want := &Store{Type: StoreFile, Filename: filepath.FromSlash("/var/lib/cookies.dat"), PurgeOnStartup: true, Sync: journal.SyncInterval, SyncInterval: 250 * time.Millisecond}
			if got := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
				t.Errorf("store = %+v, want %+v", got, want)
			}
		}},
		{"interval sync default", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"interval"}}`), func(t *testing.T, cfg *Config) {
			if got := wsStore(t, cfg, "/ws"); got.SyncInterval != 100*time.Millisecond {
				t.Errorf("SyncInterval = %v, want 100ms", got.SyncInterval)
			}
		}},
		{"no sync", cookieDoc(`{"store":{"type":"file","filename":"c.dat","sync":"none"}}`), func(t *testing.T, cfg *Config) {
			if got := wsStore(t, cfg, "/ws"); got.Sync != journal.SyncNone || got.SyncInterval != 0 {
				t.Errorf("store = %+v", got)
			}
		}},
		{"no cookie no auth", wsDoc(`{"type":"websocket"}`), func(t *testing.T, cfg *Config) {
			want := &WebSocket{MaxMessageSize: 65536, MaxConnectionsPerCookie: 100, MaxNewCookiesPerSecond: 100, NewCookieBurst: 1000}
			if got := wsService(t, cfg, "/ws"); !reflect.DeepEqual(got, want) {
				t.Errorf("service = %+v, want %+v", got, want)
			}
			if got := wsStore(t, cfg, "/ws"); got != nil {
				t.Errorf("store = %+v, want none without a cookie block", got)
			}
		}},
		{"websocket options", wsDoc(`{"type":"websocket","options":{"allowed_origins":["https://*.example.com","*"],"max_message_size":1024,"max_connections_per_cookie":3}}`), func(t *testing.T, cfg *Config) {
			ws := wsService(t, cfg, "/ws")
			if !slices.Equal(ws.AllowedOrigins, []string{"https://*.example.com", "*"}) || ws.MaxMessageSize != 1024 || ws.MaxConnectionsPerCookie != 3 {
				t.Errorf("service = %+v", ws)
			}
		}},
		{"auth methods", authDoc(`{"cookie":{},"anonymous":{},"ticket":{"type":"static","principals":{
			"alice":{"ticket":"s3cret","role":"user"},
			"bob@example.com":{"ticket":"$CFGTEST_TICKET","role":"admin","realm":"realm1"}}}}`), func(t *testing.T, cfg *Config) {
			want := &Auth{
				Cookie:    true,
				Anonymous: &Anonymous{Role: "anonymous"},
				Ticket: &Ticket{Principals: map[string]Principal{
					"alice":           {Ticket: "s3cret", Role: "user", Realm: "default"},
					"bob@example.com": {Ticket: "from-env", Role: "admin", Realm: "realm1"},
				}},
			}
			if got := wsService(t, cfg, "/ws").Auth; !reflect.DeepEqual(got, want) {
				t.Errorf("auth = %+v, want %+v", got, want)
			}
		}},
		{"anonymous with role", wsDoc(`{"type":"websocket","auth":{"anonymous":{"type":"static","role":"guest"}}}`), func(t *testing.T, cfg *Config) {
			want := &Auth{Anonymous: &Anonymous{Role: "guest"}}
			if got := wsService(t, cfg, "/ws").Auth; !reflect.DeepEqual(got, want) {
				t.Errorf("auth = %+v, want %+v", got, want)
			}
		}},
		{"empty principals", authDoc(`{"ticket":{"type":"static","principals":{}}}`), func(t *testing.T, cfg *Config) {
			if tk := wsService(t, cfg, "/ws").Auth.Ticket; tk == nil || tk.Principals == nil || len(tk.Principals) != 0 {
				t.Errorf("ticket = %+v, want an empty, non-nil principal map", tk)
			}
		}},
		{"paths sorted with URL paths", webDoc(`{"ws":{"type":"websocket"},"status":{"type":"status"},"/":{"type":"static","directory":"../web"},"metrics":{"type":"metrics"},"home":{"type":"page"}}`), func(t *testing.T, cfg *Config) {
			type row struct{ path, url, typ, dir string }
			var got []row
			for _, s := range cfg.Transports[0].Paths {
				got = append(got, row{s.Path, s.URLPath, string(s.Type), s.Directory})
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
		{"all interfaces by default", endpointDoc(`{"type":"tcp","port":8080}`), func(t *testing.T, cfg *Config) {
			if ep := cfg.Transports[0].Endpoint; ep.Interface != "" {
				t.Errorf("interface = %q, want all interfaces", ep.Interface)
			}
		}},
		{"port from the environment", endpointDoc(`{"type":"tcp","port":"$CFGTEST_PORT","interface":"::1"}`), func(t *testing.T, cfg *Config) {
			if ep := cfg.Transports[0].Endpoint; ep.Port != 9443 || ep.Interface != "::1" {
				t.Errorf("endpoint = %+v", ep)
			}
		}},
		{"one port on two interfaces", `{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.1"}},{"type":"websocket","endpoint":{"type":"tcp","port":8080,"interface":"127.0.0.2"}},{"type":"websocket","endpoint":{"type":"tcp","port":8081}}]}`, func(t *testing.T, cfg *Config) {
			if len(cfg.Transports) != 3 {
				t.Errorf("got %d transports, want 3", len(cfg.Transports))
			}
		}},
		{"byte order mark", "\xEF\xBB\xBF" + endpointDoc(`{"type":"tcp","port":8080}`), func(t *testing.T, cfg *Config) {
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
			cfg, err := Parse([]byte(tt.json), dir)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(cfg.Transports) == 0 {
				t.Fatal("no transports")
			}
			tt.check(t, cfg)
		})
	}
}
