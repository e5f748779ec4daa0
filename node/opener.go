package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/httpd"
	"cookiestore/journal"
	"cookiestore/memstore"
)

// ErrNotSupported is wrapped by the error of a store type that this build
// cannot open.
var ErrNotSupported = errors.New("not supported yet")

// Opener opens the stores of a config's cookie blocks. The zero value opens
// them on the operating system's files with the real clock. An Opener keeps
// no state between calls, so each Open's error depends on that call alone;
// its fields must not change after the first Open.
type Opener struct {
	// Logger receives the stores' messages (journal recovery, compaction);
	// nil discards them.
	Logger *slog.Logger
	// Clock is the time for cookie expiry in the stores; nil = time.Now.
	// Give the server the same clock (httpd.Options.Clock).
	Clock func() time.Time
	// FS is the file layer of file stores; nil = the operating system.
	// Tests inject faults through it.
	FS journal.FS
	// CompactMinBytes is the journal size below which a file store never
	// compacts by itself; 0 = the filestore default (4 MiB), < 0 = never.
	CompactMinBytes int64
}

// Open opens the store sc describes. It has the signature of
// httpd.Options.OpenStore: onSync, given by the server, is called after
// each fdatasync of a file store, for /metrics. A file store is returned as
// a [FileStore]. The zero sc.Sync is journal.SyncAlways, the durable
// default.
func (o *Opener) Open(sc config.Store, onSync func(time.Duration, error)) (httpd.Store, error) {
	switch sc.Type {
	case config.StoreMemory:
		return memstore.New(memstore.Options{Clock: o.Clock}), nil
	case config.StoreFile:
		st, err := filestore.Open(sc.Filename, filestore.Options{
			Sync:            sc.Sync,
			SyncInterval:    sc.SyncInterval,
			Clock:           o.Clock,
			PurgeOnStartup:  sc.PurgeOnStartup,
			CompactMinBytes: o.CompactMinBytes,
			Logger:          o.Logger,
			FS:              o.FS,
			OnSync:          onSync,
		})
		if err != nil {
			return nil, err
		}
		return FileStore{st}, nil
	case config.StoreNATS:
		return nil, fmt.Errorf("store type %q: %w in this build", sc.Type, ErrNotSupported)
	default:
		return nil, fmt.Errorf("store type %q is not supported", sc.Type)
	}
}

// FileStore is a file store as the server sees it: an httpd.Store that is
// also an httpd.StatsReporter, so that /status and /metrics report its
// journal's counters and whether it has turned read-only.
type FileStore struct{ *filestore.Store }

// StoreStats reports the journal's counters, and the reason the store
// refuses writes if it does.
func (s FileStore) StoreStats() httpd.StoreStats {
	st := s.Stats()
	ss := httpd.StoreStats{
		Cookies:        st.Cookies,
		EventsAppended: st.Journal.Appends,
		JournalBytes:   st.Journal.Size,
		Syncs:          st.Journal.Syncs,
		SyncErrors:     st.Journal.SyncErrors,
		Compactions:    st.Compactions,
		DeadRatio:      st.DeadRatio,
	}
	if st.Err != nil {
		ss.ReadOnly, ss.Err = true, st.Err.Error()
	}
	return ss
}
