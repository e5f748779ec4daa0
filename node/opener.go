package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/httpd"
	"cookiestore/journal"
	"cookiestore/memstore"
	"cookiestore/natsstore"
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
	// Dir is the node directory, where a nats store keeps the snapshot of
	// its index between runs; "" = no snapshot: each start replays the
	// stream.
	Dir string
	// NATSTimeout bounds one write to a nats store, retries included; 0 =
	// the natsstore default.
	NATSTimeout time.Duration
}

// natsOpenTimeout bounds connecting to NATS and checking the stream.
const natsOpenTimeout = 30 * time.Second

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
		return o.openNATS(sc)
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

// openNATS opens a nats store. It returns once the stream is there; the
// store catches up with it in the background (NATSStore.Ready).
func (o *Opener) openNATS(sc config.Store) (NATSStore, error) {
	opts := natsstore.Options{
		URLs:          sc.URLs,
		Stream:        sc.Stream,
		Replicas:      sc.Replicas,
		SubjectPrefix: sc.SubjectPrefix,
		Creds:         sc.Creds,
		Clock:         o.Clock,
		Logger:        o.Logger,
		Timeout:       o.NATSTimeout,
	}
	if o.Dir != "" {
		opts.Snapshot = SnapshotFile(o.Dir, sc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), natsOpenTimeout)
	defer cancel()
	st, err := natsstore.Open(ctx, opts)
	if err != nil {
		return NATSStore{}, err
	}
	return NATSStore{st}, nil
}

// SnapshotFile is where a node keeps the snapshot of a nats store's index:
// in the node directory, named by the stream and the subject prefix.
func SnapshotFile(dir string, sc config.Store) string {
	stream, prefix := sc.Stream, sc.SubjectPrefix
	if stream == "" {
		stream = natsstore.DefaultStream
	}
	if prefix == "" {
		prefix = natsstore.DefaultSubjectPrefix
	}
	return filepath.Join(dir, "nats-"+stream+"-"+prefix+".snapshot")
}

// NATSStore is a nats store as the server sees it: an httpd.Store, a
// Notifier and a Readiness, and an httpd.StatsReporter for its place in the
// stream and its publish latency.
type NATSStore struct{ *natsstore.Store }

// StoreStats reports the index and where it stands in the stream.
func (s NATSStore) StoreStats() httpd.StoreStats {
	st := s.Stats()
	return httpd.StoreStats{
		Cookies: st.Cookies,
		Stream: &httpd.StreamStats{
			Stream:         st.Stream,
			Seq:            st.Applied,
			LastSeq:        st.LastSeq,
			Lag:            st.Lag,
			Connection:     st.Connection,
			Server:         st.Server,
			Publishes:      st.Publishes,
			PublishErrors:  st.PublishErrors,
			PublishSeconds: st.PublishTime.Seconds(),
		},
	}
}
