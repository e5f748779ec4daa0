package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The cluster contract's store: {"type": "nats", ...}, and the keys that one
// store type takes and another refuses.

func TestNATSStore(t *testing.T) {
	dir := testNodeDir(t)
	if err := os.WriteFile(filepath.Join(dir, "node.creds"), []byte("creds"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		store string
		want  *Store
	}{
		{"defaults", `{"type":"nats","url":"nats://127.0.0.1:4222"}`, &Store{
			Type: StoreNATS, URLs: []string{"nats://127.0.0.1:4222"},
			Stream: "COOKIES", Replicas: 1, SubjectPrefix: "cookies",
		}},
		{"the contract's example", `{"type": "nats", "url": "nats://127.0.0.1:4222,nats://127.0.0.1:4223", "stream": "COOKIES", "replicas": 3}`, &Store{
			Type: StoreNATS, URLs: []string{"nats://127.0.0.1:4222", "nats://127.0.0.1:4223"},
			Stream: "COOKIES", Replicas: 3, SubjectPrefix: "cookies",
		}},
		{"every key", `{"type":"nats","url":" tls://a.example:4222 , wss://b.example/nats ","stream":"SITE_cookies-2","replicas":5,"creds":"node.creds","subject_prefix":"site.cookies"}`, &Store{
			Type: StoreNATS, URLs: []string{"tls://a.example:4222", "wss://b.example/nats"},
			Stream: "SITE_cookies-2", Replicas: 5, Creds: filepath.Join(dir, "node.creds"), SubjectPrefix: "site.cookies",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(cookieDoc(`{"store":`+tt.store+`}`)), dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := wsStore(t, cfg, "/ws"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("store:\n got %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestStoreErrors(t *testing.T) {
	dir := testNodeDir(t)
	const st = "transports[0].paths.ws.cookie.store"
	tests := []struct {
		name  string
		store string
		want  []string
	}{
		{"url missing", `{"type":"nats"}`, []string{st + ".url: is required"}},
		{"url empty", `{"type":"nats","url":""}`, []string{st + ".url: must not be empty"}},
		{"url list", `{"type":"nats","url":["nats://a:4222"]}`, []string{st + ".url: must be a string, got array"}},
		{"url without scheme", `{"type":"nats","url":"127.0.0.1:4222"}`, []string{st + `.url: server 1, "127.0.0.1:4222", is not a NATS server URL such as "nats://127.0.0.1:4222" (schemes: nats, tls, ws, wss; several servers are comma separated)`}},
		{"url http", `{"type":"nats","url":"nats://a:4222,http://b:4222"}`, []string{st + `.url: server 2, "http://b:4222", is not a NATS server URL such as "nats://127.0.0.1:4222" (schemes: nats, tls, ws, wss; several servers are comma separated)`}},
		{"url trailing comma", `{"type":"nats","url":"nats://a:4222,"}`, []string{st + `.url: server 2, "", is not a NATS server URL such as "nats://127.0.0.1:4222" (schemes: nats, tls, ws, wss; several servers are comma separated)`}},
		{"file keys on nats", `{"type":"nats","url":"nats://a:4222","filename":"c.dat","purge_on_startup":true,"sync":"always","sync_interval_ms":5}`, []string{
			st + `.filename: only valid for a "file" store`,
			st + `.purge_on_startup: only valid for a "file" store`,
			st + `.sync: only valid for a "file" store`,
			st + `.sync_interval_ms: only valid for a "file" store`,
		}},
		{"nats keys on file", `{"type":"file","filename":"c.dat","url":"nats://a:4222","replicas":3}`, []string{
			st + `.url: only valid for a "nats" store`,
			st + `.replicas: only valid for a "nats" store`,
		}},
		{"nats keys on memory", `{"type":"memory","stream":"S","creds":"x","subject_prefix":"p"}`, []string{
			st + `.stream: only valid for a "nats" store`,
			st + `.creds: only valid for a "nats" store`,
			st + `.subject_prefix: only valid for a "nats" store`,
		}},
		{"unknown nats key", `{"type":"nats","url":"nats://a:4222","user":"x"}`, []string{st + ".user: unknown key (valid keys: creds, replicas, stream, subject_prefix, type, url)"}},
		{"unknown key without type", `{"url":"nats://a:4222","user":"x"}`, []string{
			st + ".user: unknown key (valid keys: creds, filename, purge_on_startup, replicas, stream, subject_prefix, sync, sync_interval_ms, type, url)",
			st + ".type: is required",
		}},
		{"replicas zero", `{"type":"nats","url":"nats://a:4222","replicas":0}`, []string{st + ".replicas: must be between 1 and 5, got 0"}},
		{"replicas six", `{"type":"nats","url":"nats://a:4222","replicas":6}`, []string{st + ".replicas: must be between 1 and 5, got 6"}},
		{"stream with a dot", `{"type":"nats","url":"nats://a:4222","stream":"cookies.v2"}`, []string{st + `.stream: must be a JetStream stream name, without spaces, ".", "*", ">" or slashes, got "cookies.v2"`}},
		{"stream with a space", `{"type":"nats","url":"nats://a:4222","stream":"my cookies"}`, []string{st + `.stream: must be a JetStream stream name, without spaces, ".", "*", ">" or slashes, got "my cookies"`}},
		{"stream empty", `{"type":"nats","url":"nats://a:4222","stream":""}`, []string{st + ".stream: must not be empty"}},
		{"subject prefix wildcard", `{"type":"nats","url":"nats://a:4222","subject_prefix":"cookies.>"}`, []string{st + `.subject_prefix: must be NATS subject tokens separated by ".", without spaces or wildcards, e.g. "cookies" or "site.cookies", got "cookies.>"`}},
		{"subject prefix empty token", `{"type":"nats","url":"nats://a:4222","subject_prefix":"site..cookies"}`, []string{st + `.subject_prefix: must be NATS subject tokens separated by ".", without spaces or wildcards, e.g. "cookies" or "site.cookies", got "site..cookies"`}},
		{"creds missing", `{"type":"nats","url":"nats://a:4222","creds":"nope.creds"}`, []string{st + `.creds: "nope.creds" (resolved to "` + filepath.Join(dir, "nope.creds") + `") does not exist`}},
		{"creds a folder", `{"type":"nats","url":"nats://a:4222","creds":"static"}`, []string{st + `.creds: "static" (resolved to "` + filepath.Join(dir, "static") + `") is not a regular file`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(cookieDoc(`{"store":`+tt.store+`}`)), dir)
			if got := errorLines(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestTwoStoresOnOneStream refuses two NATS stores that would share one
// stream and subject prefix on one server, as two file stores may not
// share one journal; other streams, prefixes or servers are fine.
func TestTwoStoresOnOneStream(t *testing.T) {
	dir := testNodeDir(t)
	two := func(a, b string) string {
		return webDoc(`{"a":{"type":"websocket","cookie":{"name":"one","store":` + a + `}},"b":{"type":"websocket","cookie":{"name":"two","store":` + b + `}}}`)
	}
	const base = `{"type":"nats","url":"nats://a:4222,nats://b:4222"`
	_, err := Parse([]byte(two(base+`}`, `{"type":"nats","url":"NATS://B:4222"}`)), dir)
	want := []string{`transports[0].paths.b.cookie.store.stream: stream "COOKIES" with subject prefix "cookies" on NATS://B:4222 is already the store of transports[0].paths.a.cookie.store`}
	if got := errorLines(t, err); !slices.Equal(got, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, other := range []string{
		base + `,"stream":"OTHER"}`,
		base + `,"subject_prefix":"other"}`,
		`{"type":"nats","url":"nats://c:4222"}`,
	} {
		if _, err := Parse([]byte(two(base+`}`, other)), dir); err != nil {
			t.Errorf("%s: %v", other, err)
		}
	}
}
