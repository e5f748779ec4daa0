package peers

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var timeZero time.Time

func TestLimits(t *testing.T) {
	dir := t.TempDir()
	for _, ahead := range []Ahead{Growing, Fallocated, Zeroed} {
		rate, err := FdatasyncRate(dir, 5, time.Second, ahead)
		if ahead == Fallocated && runtime.GOOS != "linux" {
			continue
		}
		if err != nil || rate <= 0 {
			t.Fatalf("FdatasyncRate(%v) = %v, %v", ahead, rate, err)
		}
	}
	path, w, err := SeqWrite(dir, 3<<20+5)
	if err != nil || w <= 0 {
		t.Fatalf("SeqWrite = %v, %v", w, err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 3<<20+5 {
		t.Fatalf("SeqWrite left %v (%v), want %d bytes", st, err, 3<<20+5)
	}
	r, err := SeqRead(path)
	if err != nil || r <= 0 {
		t.Fatalf("SeqRead = %v, %v", r, err)
	}
	alloc, apparent, err := DiskUsage(dir)
	if err != nil || apparent != 3<<20+5 || alloc < 3<<20 {
		t.Fatalf("DiskUsage = %d allocated, %d apparent, %v; want %d apparent", alloc, apparent, err, 3<<20+5)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the limit runs left %d files, want only the sequential one", len(entries))
	}
	if fs := FSType(dir); fs == "" || strings.HasPrefix(fs, "unknown") {
		t.Fatalf("FSType = %q", fs)
	}
	if FSType(filepath.Join(dir, "missing")) != "unknown" {
		t.Fatal("FSType of a missing folder is not unknown")
	}
}
