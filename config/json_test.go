package config

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestConfigPathSyntax(t *testing.T) {
	tests := []struct{ parent, key, want string }{
		{"", "transports", "transports"},
		{"transports[0].paths", "ws", "transports[0].paths.ws"},
		{"transports[0].paths", "/", `transports[0].paths["/"]`},
		{"p", "bob@example.com", `p["bob@example.com"]`},
		{"p", "stored-key", "p.stored-key"},
		{"p", "9lives", `p["9lives"]`},
		{"p", "", `p[""]`},
		{"", "$schema", `["$schema"]`},
	}
	for _, tt := range tests {
		if got := join(tt.parent, tt.key); got != tt.want {
			t.Errorf("join(%q, %q) = %s, want %s", tt.parent, tt.key, got, tt.want)
		}
	}
}

// TestParseHostileInput bounds the work and the report for documents
// that only a machine makes: deep nesting, many problems, long paths.
func TestParseHostileInput(t *testing.T) {
	deep := strings.Repeat(`{"`+strings.Repeat("k", 50)+`":`, 2000)
	tests := []struct {
		name     string
		json     string
		problems int
	}{
		{"deep array", deep + "[" + strings.Repeat("1,", 20000) + "1]" + strings.Repeat("}", 2000), 1},
		{"deep duplicate keys", deep + "{" + strings.Repeat(`"a":1,`, 20000) + `"a":1}` + strings.Repeat("}", 2000), maxProblems + 1},
		{"many bad transports", `{"transports":[` + strings.Repeat(`1,`, 5000) + `1]}`, maxProblems + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse([]byte(tt.json), t.TempDir())
			// Generous for slow, shared machines; the quadratic version took minutes.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			lines := errorLines(t, err)
			if len(lines) != tt.problems {
				t.Fatalf("got %d problems, want %d", len(lines), tt.problems)
			}
			if tt.problems > maxProblems && lines[maxProblems] != "too many problems; only the first 100 are listed" {
				t.Errorf("last problem = %q", lines[maxProblems])
			}
			for _, l := range lines {
				if len(l) > 1000 {
					t.Fatalf("problem of %d bytes: %.200s…", len(l), l)
				}
			}
		})
	}
}

func TestConfigShortenPath(t *testing.T) {
	long := strings.Repeat("é", 400) // two bytes each: the cut must not split one
	got := shorten(long)
	if !strings.Contains(got, "…") || len(got) > 320 || !utf8.ValidString(got) {
		t.Errorf("shorten = %q (%d bytes)", got, len(got))
	}
	if short := "transports[0].paths.ws"; shorten(short) != short {
		t.Errorf("short path changed")
	}
}
