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
