package httpd

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"
	"strconv"
	"strings"

	"cookiestore/config"
)

// The built-in page (Service Type "page") shows a browser what the tracking
// server knows about it: visitor, first visit, live connections and login.
// It is plain HTML, CSS and JavaScript embedded in the binary, with no
// external resource, so `cookiestore serve` works offline and the page's
// Content-Security-Policy can forbid everything but its own origin.

//go:embed page/index.html page/app.js page/style.css page/favicon.svg
var pageAssets embed.FS

// pageCSP allows the page's own script and stylesheet and WebSocket
// connections back to the server, and nothing else: no inline script, no
// framing, no form posts elsewhere. connect-src lists ws: and wss: because
// not every browser counts them as 'self'.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageDefaultWebSocket is the WebSocket service the page connects to,
// relative to the page's own folder: "ws", as in the built-in config
// (config.Default), where the page is "/" and the tracking service "/ws". A
// page served elsewhere can be pointed at another service of the same origin
// with the query parameter ?ws=/path.
const pageDefaultWebSocket = "ws"

// pageHandler serves the page and its assets below one base path.
type pageHandler struct {
	base  string // folder of the page, ending in "/": "/" for the service "/", "/p/" for "/p"
	root  string // the service's own URL path, which serves the page too
	index []byte // the rendered HTML
	js    []byte
	css   []byte
	icon  []byte
}

// newPageHandler returns the handler of a "page" service.
func newPageHandler(svc *config.Service) http.Handler {
	root := svc.URLPath
	if root == "" {
		root = "/"
	}
	base := root
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	h := &pageHandler{
		base: base,
		root: root,
		js:   mustAsset("page/app.js"),
		css:  mustAsset("page/style.css"),
		icon: mustAsset("page/favicon.svg"),
	}
	// The page is the same for every request: render it once. html/template
	// escapes the injected paths for their attribute context.
	tmpl := template.Must(template.ParseFS(pageAssets, "page/index.html"))
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, struct{ Base, WebSocket string }{
		Base:      base,
		WebSocket: path.Join(base, pageDefaultWebSocket),
	})
	if err != nil {
		// Unreachable: the template and its data are fixed at build time,
		// and TestPage renders it.
		panic("httpd: render the built-in page: " + err.Error())
	}
	h.index = buf.Bytes()
	return h
}

// mustAsset reads an embedded file; they are fixed at build time.
func mustAsset(name string) []byte {
	b, err := pageAssets.ReadFile(name)
	if err != nil {
		panic("httpd: missing embedded asset " + name)
	}
	return b
}

func (h *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", pageCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var body []byte
	switch p := r.URL.Path; p {
	case h.root, h.base, h.base + "index.html":
		body = h.index
		hdr.Set("Content-Type", "text/html; charset=utf-8")
	case h.base + "app.js":
		body = h.js
		hdr.Set("Content-Type", "text/javascript; charset=utf-8")
	case h.base + "style.css":
		body = h.css
		hdr.Set("Content-Type", "text/css; charset=utf-8")
	case h.base + "favicon.svg":
		body = h.icon
		hdr.Set("Content-Type", "image/svg+xml")
	case "/favicon.ico", h.base + "favicon.ico":
		// Browsers that ignore the page's icon link ask for this one; an
		// empty answer keeps a 404 out of their console and our logs.
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		http.NotFound(w, r)
		return
	}
	// Always revalidate: the page is tiny, and a stale script after an
	// upgrade would speak an old protocol.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
