package testkit

import (
	"bytes"
	"log/slog"
	"sync"
)

// LogBuffer collects log output from many goroutines, so that a test can
// search all of it: for a message it expects, or for a cookie value that
// must never appear.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// DebugLogger returns a logger that writes everything, debug included, as
// JSON lines into a new LogBuffer.
func DebugLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
