package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVersion: version prints what /status reports.
func TestVersion(t *testing.T) {
	r := runCLI(t, "version")
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "cookiestore ") {
		t.Fatalf("version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	wantOneLine(t, "version", r.stdout)
	version := strings.TrimSpace(strings.TrimPrefix(r.stdout, "cookiestore "))
	if version == "" {
		t.Fatalf("version %q names no version", r.stdout)
	}

	s := startServe(t, freePort(t), "--dir", filepath.Join(t.TempDir(), "node"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var status struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &status); err != nil || status.Version != version {
		t.Errorf("/status version %q (%v), want %q as the version command says", status.Version, err, version)
	}
}
