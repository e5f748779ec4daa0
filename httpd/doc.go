// Package httpd is cookiestore's tracking server: it recognises browsers
// that connect over WebSocket by an HTTP cookie, remembers in a [Store] who
// authenticated on each cookie, and serves the static files, status and
// metrics around it. Its configuration is Crossbar.io's JSON shape, read by
// package config.
//
// A [Server] serves a whole config.Config ([New]), opening the stores it
// names through Options.OpenStore. A program that has its own mux mounts a
// [Tracker], the http.Handler of one WebSocket service, instead
// ([NewTracker], see the example): it gives the tracker an opened [Store]
// and a config.WebSocket, whose zero fields are the secure defaults.
//
// # Handshake
//
// A WebSocket handshake on a service with a cookie block goes:
//
//  1. The Origin header must name the same host as the request, or match
//     one of options.allowed_origins, where "*" matches any run of
//     characters and a pattern without "://" is matched against the host
//     alone. A request without Origin (not a browser) passes. Otherwise the
//     answer is 403, before any cookie is looked at.
//  2. Of the values of the cookie in the Cookie header (the name may be
//     repeated; other cookies may hold anything), the first well-formed ID
//     that the store holds unexpired is reused. Malformed values never
//     reach the store, and at most 8 candidates are looked up.
//  3. If there is none, a new random ID is drawn and created in the store.
//     Create returns once the cookie is as durable as store.sync promises,
//     and only then is the 101 sent with Set-Cookie: the server never hands
//     out a cookie that a crash could forget. If the store fails (a full
//     disk, a read-only journal), the answer is 503 and no cookie is set.
//  4. A cookie that already has max_connections_per_cookie connections
//     (default 100) is refused with 429.
//
// Set-Cookie is sent only with a new cookie, never refreshed:
//
//	Set-Cookie: cbtid=<id>; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax
//
// The defaults are safer than Crossbar's: HttpOnly unless "http_strict":
// false, SameSite=Lax unless "same_site" says otherwise, and Secure whenever
// the request came over TLS (or "secure": true, for a TLS proxy in front).
// Path=/ is added, unlike Crossbar, so that the page and the WebSocket of a
// site see one cookie whatever their paths.
//
// Without a cookie block, tracking is off: no cookie is read or set, and
// the protocol works per connection.
//
// # Protocol
//
// Messages are JSON text frames. The server speaks first:
//
//	{"type":"hello","visitor":"3f2a...","new":true,"connections":1,"created":"2026-11-26T12:00:00Z","auth":null}
//
// visitor is a stable, non-secret name of the cookie (16 hex digits of a
// SHA-256 of it), new says whether this handshake issued the cookie,
// connections counts this browser's live connections, and created is when
// the cookie was issued. Untracked, visitor is "", new false, connections
// 1, and created is absent. The cookie value itself is never sent in a
// message nor written to a log: it is a bearer secret.
//
// auth is null or {"authid","authrole","authmethod","authrealm",
// "authprovider"}: with auth.cookie on and a cookie that carries a login,
// the original method (say "ticket") with authprovider "cookie"; with
// auth.anonymous, the anonymous role with the visitor as authid (a random
// one per connection when untracked) and method "anonymous". whoami reads
// the cookie again, so a login made in another tab shows through cookie
// auth.
//
// The client may send:
//
//	{"type":"login","authid":"alice","ticket":"..."}  → {"type":"welcome","auth":{...,"authprovider":"static"}} or an error
//	{"type":"logout"}                                  → {"type":"goodbye"}, then the close
//	{"type":"whoami"}                                  → a fresh hello
//
// A login is checked against auth.ticket's principals in constant time, and
// stored on the cookie before the welcome is sent, so that with auth.cookie
// on the browser's next connections, also after a restart, are
// authenticated by the cookie. Untracked, a login lasts for its connection.
// Anything else (not JSON, no type, an unknown type, a binary frame) gets
// {"type":"error","error":"..."} and the connection stays open.
//
// A logout collects the cookie's other connections first, then deletes the
// cookie, then closes them: Crossbar looked them up after the delete and
// closed none. [Tracker.Revoke] does the same for every cookie of a
// principal, and [Tracker.Logout] for one cookie, from Go.
//
// # Close codes
//
//	1000 "logout"       the connection that logged out
//	1001 "going away"   the server is shutting down
//	1008                the client does not read its answers (32 queued)
//	1009                a message over max_message_size (default 64 KiB)
//	4001 "logged out"   another connection of the browser logged out ([CloseLoggedOut])
//	4002 "revoked"      the principal was revoked ([CloseRevoked])
//
// The server pings every 25 seconds and drops a connection that has not
// answered for 60.
//
// # Around the WebSocket
//
// Service type "static" serves a folder, gzip-compressed for clients that
// accept it; "status" serves a JSON document (connections, cookies, ready,
// and per store its journal figures, read_only, error, ready and, for a
// store shared through a stream, its position there; see [StoreStats]);
// "metrics" serves Prometheus metrics from a registry of the Server's own:
// cookiestore_connections, cookiestore_cookies,
// cookiestore_events_appended_total, cookiestore_journal_bytes,
// cookiestore_compactions_total, cookiestore_fsync_errors_total,
// cookiestore_store_read_only, cookiestore_stream_lag, the summary
// cookiestore_stream_publish_seconds, the histogram cookiestore_fsync_seconds and
// cookiestore_handshakes_total{result="new|returning|untracked|refused|error"},
// plus the Go runtime's. "page" is the built-in page.
//
// Every HTTP server has a read-header timeout (10 s by default), an idle
// timeout and a 64 KiB header limit. Logs go to log/slog and name a
// browser by its visitor only.
package httpd
