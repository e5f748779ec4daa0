package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cookiestore/internal/testkit"
)

// seedFileConfig is the file-store example of Crossbar's documentation,
// verbatim.
const seedFileConfig = `{
         "transports": [
            {
               "type": "web",
               "endpoint": {
                  "type": "tcp",
                  "port": 8080
               },
               "paths": {
                  "/": {
                     "type": "static",
                     "directory": "../web"
                  },
                  "ws": {
                     "type": "websocket",
                     "cookie": {
                        "name": "cbtid",
                        "length": 24,
                        "max_age": 864000,
                        "store": {
                           "type": "file",
                           "filename": "cookies.dat"
                        }
                     }
                  }
               }
            }
         ]
}`

// writeConfig writes a config as node/config.json in a fresh folder that
// also holds web/, the static folder of the seed example.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"node", "web"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(root, "node", "config.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		config     string // "" = no file at all
		wantCode   int
		wantStdout string   // substring
		wantStderr []string // whole lines, after the config path and ": "
	}{
		{
			name:       "seed file-store example",
			config:     seedFileConfig,
			wantCode:   0,
			wantStdout: "ok, 1 transport\n",
		},
		{
			name: "three problems, each with its JSON path",
			config: `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 0},
				"paths": {"ws": {"type": "websocket", "cookie": {"length": 3, "store": {"type": "database"}}}}}]}`,
			wantCode: 2,
			wantStderr: []string{
				"transports[0].endpoint.port: must be between 1 and 65535, got 0",
				"transports[0].paths.ws.cookie.length: must be between 6 and 64, got 3",
				`transports[0].paths.ws.cookie.store.type: store type "database" (LMDB) is not supported; use "file"`,
			},
		},
		{
			name: "nats store",
			config: `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
				"paths": {"ws": {"type": "websocket", "cookie": {"store": {"type": "nats",
					"url": "nats://127.0.0.1:4222,nats://127.0.0.1:4223", "stream": "COOKIES", "replicas": 3}}}}}]}`,
			wantCode:   0,
			wantStdout: "ok, 1 transport",
		},
		{
			name: "nats store with file keys",
			config: `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
				"paths": {"ws": {"type": "websocket", "cookie": {"store": {"type": "nats",
					"url": "nats://127.0.0.1:4222", "sync": "always"}}}}}]}`,
			wantCode: 2,
		},
		{
			name:       "truncated JSON",
			config:     "{\n  \"transports\": [\n",
			wantCode:   2,
			wantStderr: []string{"invalid JSON at line 3, column 1: unexpected end of JSON input"},
		},
		{
			name: "static folder resolved against the node directory",
			config: `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
				"paths": {"/": {"type": "static", "directory": "../missing"}}}]}`,
			wantCode: 2,
		},
		{
			name:     "missing file",
			wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.config != "" {
				path = writeConfig(t, tt.config)
			} else {
				path = filepath.Join(t.TempDir(), "nope.json")
			}
			r := runCLI(t, "check", "--config", path)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantStdout)
			}
			if tt.wantCode == 0 {
				return
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if tt.wantStderr != nil {
				if len(lines) != len(tt.wantStderr) {
					t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tt.wantStderr), r.stderr)
				}
				for i, want := range tt.wantStderr {
					if lines[i] != path+": "+want {
						t.Errorf("line %d = %q, want %q", i, lines[i], path+": "+want)
					}
				}
			}
			wantOneLinePerProblem(t, r.stderr, path)
		})
	}
}

// wantOneLinePerProblem checks that every line names the file, and that no
// panic or trace leaked.
func wantOneLinePerProblem(t *testing.T, stderr, path string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.Contains(l, path) {
			t.Errorf("line %q does not name %s", l, path)
		}
		if strings.Contains(l, "goroutine ") || strings.Contains(l, "panic") {
			t.Errorf("line %q looks like a crash", l)
		}
	}
}

func TestCheckDirFlag(t *testing.T) {
	// The seed's "../web" resolves against --dir when it is given: from a
	// folder with no ../web next to it, the same file is invalid.
	path := writeConfig(t, seedFileConfig)
	other := filepath.Join(t.TempDir(), "a", "b")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", "--config", path, "--dir", other)
	if r.code != 2 || !strings.Contains(r.stderr, `transports[0].paths["/"].directory`) {
		t.Errorf("exit %d, stderr %q: want 2 naming the static directory", r.code, r.stderr)
	}
}

func TestCheckWarnings(t *testing.T) {
	path := writeConfig(t, `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
		"paths": {"ws": {"type": "websocket", "serializers": ["json"],
			"cookie": {"store": {"type": "memory"}}}}}]}`)
	r := runCLI(t, "check", "--config", path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: transports[0].paths.ws.serializers") {
		t.Errorf("stderr %q, want a warning naming the ignored key", r.stderr)
	}
}

// TestCheckRefusesStaticFolderOverNode: a static folder that would serve the
// journal and the config file (with its tickets) is refused, naming the JSON
// path and each file.
func TestCheckRefusesStaticFolderOverNode(t *testing.T) {
	path := writeConfig(t, `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
		"paths": {"/": {"type": "static", "directory": "."},
			"ws": {"type": "websocket", "cookie": {"store": {"type": "file", "filename": "cookies.dat"}}}}}]}`)
	node := filepath.Dir(path)
	r := runCLI(t, "check", "--config", path)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		path + `: transports[0].paths["/"].directory: "` + node + `" holds the config file "` + path + `"`,
		path + `: transports[0].paths["/"].directory: "` + node + `" holds the cookie journal "` + filepath.Join(node, "cookies.dat") + `" (transports[0].paths.ws.cookie.store.filename)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q\nlacks %q", r.stderr, want)
		}
	}
	wantOneLinePerProblem(t, r.stderr, path)
}

// TestCheckRecommendsHostPrefix: on a TLS endpoint, check suggests the
// __Host- cookie name, and the config stays valid.
func TestCheckRecommendsHostPrefix(t *testing.T) {
	cfg := func(name string) string {
		return `{"transports": [{"type": "websocket",
			"endpoint": {"type": "tcp", "port": 8443, "tls": {"key": "key.pem", "certificate": "cert.pem"}},
			"cookie": {"name": "` + name + `", "store": {"type": "memory"}}}]}`
	}
	path := writeConfig(t, cfg("sid"))
	testkit.WriteKeyPair(t, filepath.Dir(path))
	r := runCLI(t, "check", "--config", path)
	want := path + `: recommendation: transports[0].cookie.name: the endpoint has TLS: the name "__Host-sid" would keep other hosts of the site from setting or shadowing this cookie`
	if r.code != 0 || strings.TrimSpace(r.stderr) != want {
		t.Errorf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
	}
	if err := os.WriteFile(path, []byte(cfg("__Host-sid")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "check", "--config", path); r.code != 0 || r.stderr != "" {
		t.Errorf("with __Host-: exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
}
