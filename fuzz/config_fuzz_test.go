package fuzz

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"cookiestore/config"
)

// FuzzConfig checks config.Parse on arbitrary bytes:
//   - it never panics;
//   - it returns a config or a non-empty config.Errors, never both, never
//     neither, and every problem has a message;
//   - parsing is deterministic: the same bytes give an equal config (or the
//     same problems) again.
func FuzzConfig(f *testing.F) {
	root := f.TempDir()
	nodeDir := filepath.Join(root, "node")
	for _, d := range []string{nodeDir, filepath.Join(root, "web")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte(config.DefaultJSON))
	for _, name := range []string{"seed-memory.json", "seed-file.json", "node.json", "three-problems.json"} {
		data, err := os.ReadFile(filepath.Join("..", "config", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"transports":[{"type":"websocket","endpoint":{"type":"tcp","port":1,"port":2},"cookie":{"same_site":"None","store":{"type":"file","filename":"a","sync_interval_ms":1e3}}}]}`))
	f.Add([]byte(`{"workers":[{"type":"router","transports":[{"type":"rawsocket","cookie":{}}]},{"type":"guest"}],"version":2}`))
	f.Add([]byte(`{"transports":[{"type":"web","endpoint":{"type":"tcp","port":443,"tls":{"key":"k","certificate":"c"}},"paths":{"/":{"type":"static","directory":"."},"ws":{"type":"websocket","options":{"allowed_hosts":["[::1]:8080","example.com"],"trusted_proxies":["10.0.0.0/8","::1"],"allow_null_origin":true,"max_new_cookies_per_second":0},"cookie":{"name":"__Host-sid","store":{"type":"nats","url":"nats://a:4222,tls://b","replicas":3,"creds":"x.creds","subject_prefix":"a.b"}}}}}]}`))
	f.Add([]byte(`{"transports": [`))
	f.Add([]byte(`[]`))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, nodeDir)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg, err)
		}
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty config.Errors", err, err)
			}
			for _, e := range errs {
				if e.Msg == "" {
					t.Fatalf("problem at %q has no message", e.Path)
				}
			}
		}
		again, err2 := config.Parse(data, nodeDir)
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("second parse differs:\n%+v\n%+v", cfg, again)
		}
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("second parse reports differently:\n%v\n%v", err, err2)
		}
	})
}
