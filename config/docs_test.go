package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigDocShowsDefault keeps the reference's copy of the built-in
// config in step with the code.
func TestConfigDocShowsDefault(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+DefaultJSON+"```") {
		t.Error("docs/CONFIG.md does not show DefaultJSON as it is")
	}
}

// TestConfigDocNamesEveryKey holds docs/CONFIG.md to the tables of the walk:
// every key that some block takes or refuses is named in the reference.
func TestConfigDocNamesEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := testNodeDir(t)
	// Documents that reach every block; whether they are valid does not
	// matter, only which tables the walk meets.
	docs := []string{
		`{"version":2,"controller":{},"workers":[{"type":"router","transports":[
			{"type":"web","endpoint":{"type":"tcp","port":443,"tls":{"key":"key.pem","certificate":"cert.pem"}},"paths":{
				"/":{"type":"static","directory":"static"},
				"ws":{"type":"websocket","options":{},"cookie":{"store":{"type":"file","filename":"c.dat"}},
					"auth":{"cookie":{},"anonymous":{},"ticket":{"type":"static","principals":{"a":{"ticket":"t","role":"r"}}}}},
				"status":{"type":"status"}}},
			{"type":"websocket","endpoint":{"type":"tcp","port":8080},"cookie":{"name":"m","store":{"type":"memory"}}}]}]}`,
		cookieDoc(`{"store":{"type":"nats","url":"nats://a:4222"}}`),
		cookieDoc(`{"store":{}}`),
	}
	p := &parser{nodeDir: dir, met: map[string]bool{}}
	for _, d := range docs {
		root, err := p.decode([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		p.document(root)
	}
	for _, k := range []string{"manhole", "dhparam", "paths", "directory", "allowed_hosts", "same_site", "sync_interval_ms", "subject_prefix", "principals", "realm"} {
		if !p.met[k] {
			t.Fatalf("the documents no longer reach the block of %q", k)
		}
	}
	for k := range p.met {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/CONFIG.md does not name the key %q", k)
		}
	}
}
