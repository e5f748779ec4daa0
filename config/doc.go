// Package config reads cookiestore's configuration: Crossbar.io's JSON
// shape, reduced to what a cookie tracking server needs, plus a few keys of
// cookiestore's own. docs/CONFIG.md is the reference of every key; this is
// how the package goes about it.
//
// # Shapes
//
// Two documents are accepted: a full Crossbar node config,
//
//	{"version": 2, "workers": [{"type": "router", "transports": [...]}]}
//
// and the bare {"transports": [...]} of Crossbar's documentation. A
// transport is "web" (an endpoint and path services: "static", "websocket",
// and cookiestore's "status", "metrics" and "page") or "websocket" (one
// WebSocket service on the transport itself). A WebSocket service may hold
// a "cookie" block, which turns tracking on and names its "store", an
// "auth" block and "options". [Parse] turns a document into a [Config] of
// [Transport] values; a [WebSocket] is the description of one WebSocket
// service, which httpd's NewTracker takes as it is, and its [Store] sits
// beside it on the [Service] or [Transport], because the tracker is given
// an opened store, not a description of one.
//
// # Errors
//
// A config is checked whole. The walk collects every problem with the JSON
// path of the value at fault and returns either a complete *Config, with
// every default filled in, or [Errors] that list them all, so that an
// operator fixes a config in one round:
//
//	transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3
//
// Each problem is an [*Error] with File, Path and Msg, which errors.As
// finds. Malformed JSON is one problem that names its line and column.
// Unknown keys are errors, and so is a key that appears twice. Crossbar
// keys that cookiestore accepts without acting on them (serializers,
// realms, most WebSocket options, ...) are not errors but lines in
// Config.Warnings; nothing is dropped silently. Config.Recommendations
// holds safer settings the config could use, such as a "__Host-" cookie
// name on a TLS endpoint.
//
// Files are checked as the server would use them: relative names resolve
// against the node directory, static folders, TLS files and NATS
// credentials must exist, a TLS key must match its certificate, and no
// static folder may hold a cookie journal, the config file (when read by
// [Load]) or key material.
//
// # The walk
//
// The JSON tree (json.go) is generic: it keeps the order of keys and names
// every value by its path. The walk over Crossbar's structure (walk.go,
// websocket.go, store.go, auth.go) is a set of tables, one per JSON object:
// each key, the rule that reads its value (rules.go), and the field the
// value lands in. A key that a table does not hold is an error naming the
// valid ones. The rules across the whole config (one listener per port, one
// user per journal or stream, static folders fenced off the node's secrets)
// are in claims.go.
//
// # cookiestore's own keys
//
// Beyond Crossbar's keys: the service types "status", "metrics" and
// "page"; cookie names with the "__Host-" or "__Secure-" prefix; the store
// keys "sync" and "sync_interval_ms" of a file store and the "nats" store
// type with "url", "stream", "replicas", "creds" and "subject_prefix"; and
// the WebSocket options "max_connections_per_cookie", "allowed_hosts",
// "max_new_cookies_per_second", "new_cookie_burst" and "trusted_proxies".
// Of Crossbar's own WebSocket options, "allowed_origins", "max_message_size"
// and "allow_null_origin" are read into fields; the others are warnings.
//
// # Zero values
//
// The Go types are also the API of a program that builds a service by
// hand. Their zero values are the secure defaults: a zero [Cookie] is
// HttpOnly (ScriptReadable opts out) and SameSite=Lax, a file [Store]'s zero
// Sync is journal.SyncAlways, a zero limit means its default and a negative
// one [Unlimited].
package config
