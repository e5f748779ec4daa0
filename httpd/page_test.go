package httpd

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"cookiestore/config"
)

func TestPage(t *testing.T) {
	tests := []struct {
		name        string
		svcPath     string
		method      string
		target      string
		wantStatus  int
		wantType    string // Content-Type prefix; "" = not checked
		wantInBody  []string
		wantNoBody  bool
		wantAllowed string
	}{
		{
			name: "index at root", svcPath: "/", method: "GET", target: "/",
			wantStatus: 200, wantType: "text/html",
			wantInBody: []string{`data-ws="/ws"`, `src="/app.js"`, `href="/style.css"`},
		},
		{
			name: "index.html at root", svcPath: "/", method: "GET", target: "/index.html",
			wantStatus: 200, wantType: "text/html", wantInBody: []string{`id="visitor"`},
		},
		{
			name: "script", svcPath: "/", method: "GET", target: "/app.js",
			wantStatus: 200, wantType: "text/javascript", wantInBody: []string{"new WebSocket("},
		},
		{
			name: "stylesheet", svcPath: "/", method: "GET", target: "/style.css",
			wantStatus: 200, wantType: "text/css", wantInBody: []string{"#state"},
		},
		{
			name: "head has no body", svcPath: "/", method: "HEAD", target: "/",
			wantStatus: 200, wantType: "text/html", wantNoBody: true,
		},
		{
			name: "unknown file", svcPath: "/", method: "GET", target: "/robots.txt",
			wantStatus: 404,
		},
		{
			name: "icon", svcPath: "/", method: "GET", target: "/favicon.svg",
			wantStatus: 200, wantType: "image/svg+xml", wantInBody: []string{"<svg"},
		},
		{
			name: "no favicon 404", svcPath: "/", method: "GET", target: "/favicon.ico",
			wantStatus: 204,
		},
		{
			name: "no traversal into the embedded folder", svcPath: "/", method: "GET", target: "/page/app.js",
			wantStatus: 404,
		},
		{
			name: "post refused", svcPath: "/", method: "POST", target: "/",
			wantStatus: 405, wantAllowed: "GET, HEAD",
		},
		{
			name: "page below a path", svcPath: "/p", method: "GET", target: "/p",
			wantStatus: 200, wantType: "text/html",
			wantInBody: []string{`data-ws="/p/ws"`, `src="/p/app.js"`, `href="/p/style.css"`},
		},
		{
			name: "asset below a path", svcPath: "/p", method: "GET", target: "/p/app.js",
			wantStatus: 200, wantType: "text/javascript",
		},
		{
			name: "asset of another folder", svcPath: "/p", method: "GET", target: "/app.js",
			wantStatus: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newPageHandler(&config.Service{URLPath: tt.svcPath, Type: config.ServicePage})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			// Every response, errors included, carries the security headers.
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != pageCSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, pageCSP)
			}
			if tt.wantType != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tt.wantType) {
				t.Errorf("Content-Type = %q, want %s", res.Header.Get("Content-Type"), tt.wantType)
			}
			if tt.wantAllowed != "" && res.Header.Get("Allow") != tt.wantAllowed {
				t.Errorf("Allow = %q, want %q", res.Header.Get("Allow"), tt.wantAllowed)
			}
			for _, s := range tt.wantInBody {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q", s)
				}
			}
			if tt.wantNoBody && len(body) != 0 {
				t.Errorf("HEAD returned %d body bytes", len(body))
			}
			if tt.wantStatus == 200 && !tt.wantNoBody {
				if cl := res.Header.Get("Content-Length"); cl == "" {
					t.Error("no Content-Length")
				}
			}
		})
	}
}

// TestPageCSP checks the policy itself: own origin only, WebSocket back to
// the server, no inline script.
func TestPageCSP(t *testing.T) {
	directives := map[string]string{}
	for d := range strings.SplitSeq(pageCSP, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			directives[f[0]] = strings.Join(f[1:], " ")
		}
	}
	want := map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"connect-src":     "'self' ws: wss:",
		"frame-ancestors": "'none'",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("%s = %q, want %q", k, directives[k], v)
		}
	}
	for k, v := range directives {
		if strings.Contains(v, "unsafe") || strings.Contains(v, "*") {
			t.Errorf("%s allows %q", k, v)
		}
	}
}

// TestPageSelfContained checks that the page loads nothing from elsewhere
// and that it carries every element the browser test and users rely on.
func TestPageSelfContained(t *testing.T) {
	h := newPageHandler(&config.Service{URLPath: "/", Type: config.ServicePage}).(*pageHandler)
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|<script>|\son[a-z]+=`)
	for name, body := range map[string][]byte{"index": h.index, "app.js": h.js, "style.css": h.css} {
		if m := external.Find(body); m != nil {
			t.Errorf("%s references %q: the page must be self-contained, with no inline script", name, m)
		}
	}
	for _, id := range []string{
		"visitor", "new", "created", "connections", "auth", "state",
		"authid", "ticket", "login", "logout", "error", "ticket-login", "no-login",
	} {
		if !strings.Contains(string(h.index), `id="`+id+`"`) {
			t.Errorf("the page has no element #%s", id)
		}
		if !strings.Contains(string(h.js), `"`+id+`"`) {
			t.Errorf("app.js never touches #%s", id)
		}
	}
	for _, msg := range []string{`type: "login"`, `type: "logout"`, `type: "whoami"`, `rotate: token`, `new BroadcastChannel("cookiestore")`} {
		if !strings.Contains(string(h.js), msg) {
			t.Errorf("app.js never sends {%s}", msg)
		}
	}
}

// TestPageServedOverHTTP runs the handler behind a real listener, as a browser
// meets it.
func TestPageServedOverHTTP(t *testing.T) {
	srv := httptest.NewServer(newPageHandler(&config.Service{URLPath: "/", Type: config.ServicePage}))
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.Contains(string(body), "<title>cookiestore</title>") {
		t.Fatalf("GET / = %d, %q", res.StatusCode, body)
	}
	if res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", res.Header.Get("Cache-Control"))
	}
}
