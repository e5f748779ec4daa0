package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStaticFolderFence refuses a static folder that would serve the
// secrets of the node: a cookie journal (with the side files beside it),
// the config file, TLS key material and NATS credentials.
func TestStaticFolderFence(t *testing.T) {
	dir := testNodeDir(t) // holds key.pem, cert.pem, static/
	root := filepath.Dir(dir)
	for _, d := range []string{filepath.Join(dir, "state"), filepath.Join(root, "web2")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dir, filepath.Join(root, "link-to-node")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "node.creds"), []byte("creds"), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		static = `transports[0].paths["/"].directory`
		fs     = `,"store":{"type":"file","filename":`
		tail   = `: a static folder must not hold store files, the config file or key material, which it would serve to anyone`
	)
	doc := func(folder, store string) string {
		return webDoc(`{"/":{"type":"static","directory":` + folder + `},"ws":{"type":"websocket","cookie":{"name":"sid"` + store + `}}}`)
	}
	tlsDoc := func(folder string) string {
		return `{"transports":[{"type":"web","endpoint":{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"cert.pem"}},"paths":{"/":{"type":"static","directory":` + folder + `}}}]}`
	}
	journal := func(name string) string {
		return ` holds the cookie journal "` + filepath.Join(dir, name) + `" (transports[0].paths.ws.cookie.store.filename)` + tail
	}
	tests := []struct {
		name string
		json string
		want []string // nil = valid
	}{
		{"the node directory with the journal", doc(`"."`, fs+`"cookies.dat"}`), []string{static + `: "` + dir + `"` + journal("cookies.dat")}},
		{"the journal's own folder", doc(`"state"`, fs+`"state/cookies.dat"}`), []string{static + `: "` + filepath.Join(dir, "state") + `"` + journal("state/cookies.dat")}},
		{"a folder above the node directory", doc(`".."`, fs+`"cookies.dat"}`), []string{static + `: "` + root + `"` + journal("cookies.dat")}},
		{"a symbolic link to the node directory", doc(`"../link-to-node"`, fs+`"cookies.dat"}`), []string{static + `: "` + filepath.Join(root, "link-to-node") + `"` + journal("cookies.dat")}},
		{"the TLS key and certificate", tlsDoc(`"."`), []string{
			`transports[0].paths["/"].directory: "` + dir + `" holds the TLS key "` + filepath.Join(dir, "key.pem") + `" (transports[0].endpoint.tls.key)` + tail,
			`transports[0].paths["/"].directory: "` + dir + `" holds the TLS certificate "` + filepath.Join(dir, "cert.pem") + `" (transports[0].endpoint.tls.certificate)` + tail,
		}},
		{"NATS credentials", doc(`"static"`, `,"store":{"type":"nats","url":"nats://a:4222","creds":"static/node.creds"}`), []string{
			static + `: "` + filepath.Join(dir, "static") + `" holds the NATS credentials "` + filepath.Join(dir, "static", "node.creds") + `" (transports[0].paths.ws.cookie.store.creds)` + tail,
		}},
		{"a sibling folder", doc(`"../web"`, fs+`"cookies.dat"}`), nil},
		{"a sibling whose name starts alike", doc(`"../web2"`, fs+`"../web2x/cookies.dat"}`), nil},
		{"a journal elsewhere", doc(`"."`, fs+`"`+filepath.Join(root, "web2", "c.dat")+`"}`), nil},
		{"a memory store", doc(`"."`, `,"store":{"type":"memory"}`), nil},
		{"a subfolder without secrets", tlsDoc(`"static"`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json), dir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(cfg.Transports) == 0 {
					t.Fatal("no transports")
				}
				return
			}
			if got := errorLines(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestStaticFolderHoldsConfigFile refuses, through Load, a static folder
// that would serve the config file with its tickets. Parse has no file to
// guard.
func TestStaticFolderHoldsConfigFile(t *testing.T) {
	dir := testNodeDir(t)
	doc := webDoc(`{"/":{"type":"static","directory":"."},"ws":{"type":"websocket","cookie":{"store":{"type":"memory"}}}}`)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, dir)
	want := []string{path + `: transports[0].paths["/"].directory: "` + dir + `" holds the config file "` + path +
		`": a static folder must not hold store files, the config file or key material, which it would serve to anyone`}
	if got := errorLines(t, err); !slices.Equal(got, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Parse([]byte(doc), dir); err != nil {
		t.Errorf("Parse: %v", err)
	}
	// The same config kept outside the folder it serves is fine.
	outside := filepath.Join(filepath.Dir(dir), "config.json")
	if err := os.WriteFile(outside, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(outside, dir); err != nil {
		t.Errorf("Load from outside: %v", err)
	}
}
