package httpd

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cookiestore/config"
	"cookiestore/internal/testkit"

	"github.com/gorilla/websocket"
)

// A static folder serves its files and nothing else: no dotfiles or
// dot-folders, no symlink that leads out of it, no listing of a folder.
func TestStaticFolderFenced(t *testing.T) {
	node := t.TempDir()
	web := filepath.Join(node, "web")
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(web, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "home")
	write("a.txt", "a")
	write("docs/index.html", "docs")
	write("plain/b.txt", "b")
	write(".env", "SECRET=1")
	write(".git/config", "secret")
	write("sub/.hidden", "secret")
	outside := filepath.Join(node, "outside.txt")
	if err := os.WriteFile(outside, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLink := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(web, name)); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	mustLink(outside, "out.txt")
	mustLink(node, "up")
	mustLink("a.txt", "inside.txt")

	cfg := parseTestConfig(t, `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":8080},"paths":{
		"/": {"type":"static","directory":"web"},
		"ws": {"type":"websocket","cookie":{"store":{"type":"memory"}}}}}]}`, node)
	ts := startServer(t, cfg, Options{})
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "home"},
		{"/a.txt", 200, "a"},
		{"/docs/", 200, "docs"},
		{"/inside.txt", 200, "a"},
		{"/docs", 301, ""},
		{"/plain/", 404, ""},
		{"/plain/b.txt", 200, "b"},
		{"/.env", 404, ""},
		{"/.git/config", 404, ""},
		{"/.git/", 404, ""},
		{"/sub/.hidden", 404, ""},
		{"/%2e%65nv", 404, ""},
		{"/out.txt", 404, ""},
		{"/up/outside.txt", 404, ""},
		{"/up/", 404, ""},
		{"/missing", 404, ""},
	} {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(ts.base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || tt.body != "" && string(b) != tt.body {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, resp.StatusCode, b, tt.status, tt.body)
		}
		if strings.Contains(string(b), "secret") || strings.Contains(string(b), "outside") || strings.Contains(string(b), ".git") {
			t.Errorf("GET %s showed %q", tt.path, b)
		}
	}
	if resp, err := http.Post(ts.base+"/a.txt", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a static file: %v %v", resp, err)
	}
}

// Cookie names with the __Host- and __Secure- prefixes work end to end:
// the handshake sets them Secure, with Path=/ and no Domain, a returning
// browser is recognised by them, and a rotation sets them again.
func TestPrefixedCookieNames(t *testing.T) {
	dir := t.TempDir()
	pool := testkit.WriteKeyPair(t, dir)
	for _, tt := range []struct {
		name, endpoint, secure string
	}{
		{"__Host-sid", `"port":8443,"tls":{"key":"key.pem","certificate":"cert.pem"}`, ""},
		{"__Secure-sid", `"port":8080`, `"secure":true,`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseTestConfig(t, `{"transports":[{"type":"web","endpoint":{"type":"tcp",`+tt.endpoint+`},"paths":{
				"ws":{"type":"websocket","cookie":{"name":"`+tt.name+`",`+tt.secure+`"store":{"type":"memory"}},
				      "auth":{"cookie":{},"ticket":{"type":"static","principals":{"alice":{"ticket":"secret-a","role":"user"}}}}}}}]}`, dir)
			ts := startServer(t, cfg, Options{})
			tlsConf := &tls.Config{RootCAs: pool}
			d := &websocket.Dialer{TLSClientConfig: tlsConf}
			c := dialURL(t, ts.ws("/ws"), nil, d)
			check := func(what string, h http.Header) string {
				t.Helper()
				set := h.Values("Set-Cookie")
				if len(set) != 1 || !strings.HasPrefix(set[0], tt.name+"=") || !strings.Contains(set[0], "; Secure") ||
					!strings.Contains(set[0], "; Path=/;") || strings.Contains(strings.ToLower(set[0]), "domain") {
					t.Fatalf("%s: Set-Cookie %q, want %s, Secure, Path=/, no Domain", what, set, tt.name)
				}
				return strings.TrimPrefix(strings.SplitN(set[0], ";", 2)[0], tt.name+"=")
			}
			id := check("handshake", c.resp.Header)
			if again := dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {tt.name + "=" + id}}, d); again.hello.New {
				t.Fatal("the prefixed cookie was not recognised")
			}
			token := c.login("alice", "secret-a")
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
			req, _ := http.NewRequest("POST", ts.base+"/ws", strings.NewReader(`{"rotate":"`+token+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cookie", tt.name+"="+id)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			hc.CloseIdleConnections()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("rotation: %s", resp.Status)
			}
			next := check("rotation", resp.Header)
			if again := dialURL(t, ts.ws("/ws"), http.Header{"Cookie": {tt.name + "=" + next}}, d); again.hello.Auth == nil || again.hello.Auth.AuthID != "alice" {
				t.Fatalf("the rotated prefixed cookie: %+v", again.hello.Auth)
			}
		})
	}
}

// A tracker built by hand with a prefixed name sends the cookie Secure even
// over plain HTTP (behind a TLS proxy), since browsers refuse it otherwise.
func TestPrefixedNameIsAlwaysSecure(t *testing.T) {
	e := newEnv(t, &config.WebSocket{Cookie: &config.Cookie{Name: "__Host-sid"}}, nil, TrackerOptions{})
	c := dialURL(t, e.url, nil, nil)
	if c.cookie == nil || c.cookie.Name != "__Host-sid" || !c.cookie.Secure || c.cookie.Path != "/" || c.cookie.Domain != "" {
		t.Fatalf("Set-Cookie %q: want __Host-sid, Secure, Path=/, no Domain", c.resp.Header.Values("Set-Cookie"))
	}
	if _, err := NewTracker(&config.WebSocket{Cookie: &config.Cookie{Name: "bad name"}}, e.store, TrackerOptions{}); err == nil {
		t.Fatal("NewTracker took a cookie name with a space")
	}
}
