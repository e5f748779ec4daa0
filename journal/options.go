package journal

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// SyncMode says when an appended frame is made durable. See the package
// documentation for what each mode promises.
type SyncMode int

const (
	// SyncAlways returns from Append after the frame is written and
	// fdatasync'd, sharing the sync with concurrent appends.
	SyncAlways SyncMode = iota
	// SyncInterval returns after the write; a background goroutine
	// fdatasyncs every Options.SyncInterval.
	SyncInterval
	// SyncNone buffers frames, writes them in chunks and leaves syncing to
	// the OS (and to Sync and Close).
	SyncNone
)

// DefaultSyncInterval is the SyncInterval used when Options leaves it 0.
const DefaultSyncInterval = 100 * time.Millisecond

// ParseSyncMode parses "always", "interval" or "none", the values of the
// store.sync setting.
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "interval":
		return SyncInterval, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("journal: unknown sync mode %q (want always, interval or none)", s)
}

// String returns the name that ParseSyncMode accepts.
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNone:
		return "none"
	}
	return "SyncMode(" + strconv.Itoa(int(m)) + ")"
}

// Options configure Open, Verify and Repair. The zero value is ready to use:
// SyncAlways on the operating system's files, logging nothing.
type Options struct {
	// Sync says when an appended frame is durable; the zero value is SyncAlways.
	Sync SyncMode
	// SyncInterval is how often SyncInterval mode fdatasyncs, and how long
	// SyncNone mode keeps frames in memory at most; 0 means 100ms.
	SyncInterval time.Duration
	// Logger receives recovery and compaction messages; nil discards them.
	Logger *slog.Logger
	// FS is the file system to use; nil means the operating system's.
	FS FS
	// OnSync, if set, is called after every fdatasync with its duration and
	// error, from the goroutine that synced (for latency metrics). It must
	// not call back into the Journal.
	OnSync func(d time.Duration, err error)
}

func (o *Options) fs() FS {
	if o.FS == nil {
		return osFS{}
	}
	return o.FS
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Options) check() error {
	if o.Sync < SyncAlways || o.Sync > SyncNone {
		return fmt.Errorf("journal: unknown sync mode %d", int(o.Sync))
	}
	if o.SyncInterval < 0 {
		return fmt.Errorf("journal: negative sync interval %v", o.SyncInterval)
	}
	return nil
}

func (o *Options) interval() time.Duration {
	if o.SyncInterval == 0 {
		return DefaultSyncInterval
	}
	return o.SyncInterval
}
