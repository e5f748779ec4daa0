package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	pebble "github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"
)

// Durability is what a store promises when a put returns.
type Durability int

const (
	// Durable: the event is on disk when the put returns (fdatasync or
	// equivalent), each store in its documented durable setting.
	Durable Durability = iota
	// NotDurable: the event is in the operating system's page cache; a
	// machine crash may lose it, a process crash may not.
	NotDurable
)

func (d Durability) String() string {
	if d == Durable {
		return "durable"
	}
	return "not durable"
}

// Config is how a store is opened for a run.
type Config struct {
	Durability Durability
	// Writers is the number of goroutines that will call Put at once. bbolt
	// uses it to choose between Update (one writer) and Batch (several), as
	// its documentation recommends.
	Writers int
}

// Store is one store under test. Put and Get are safe for concurrent use.
type Store interface {
	// Put applies one event, with the durability the store was opened with.
	Put(e *Event) error
	// Get looks up a cookie by ID and reads its value. The value is not
	// decoded, which favours the peers: cookiestore hands back a decoded
	// cookie.
	Get(id []byte) (bool, error)
	// Lookup returns the cookie's decoded state; the tests check the
	// adapters with it.
	Lookup(id []byte) (Cookie, bool, error)
	// Compact reclaims the space of overwritten values, if the store can.
	Compact() error
	// Close releases the store; everything put is durable afterwards.
	Close() error
}

// Engine opens stores of one kind.
type Engine struct {
	Name string
	// Open opens (creating if needed) the store kept in dir.
	Open func(dir string, cfg Config) (Store, error) `json:"-"`
	// Load builds a store in the empty folder dir from events, as fast as
	// it can, and leaves it closed and durable: how a dataset for the open
	// benchmark is made, not measured.
	Load func(dir string, next func() (Event, bool)) error `json:"-"`
	// Note says, for the results page, how the engine is configured.
	Note string
	// UsesValues says the store puts Event.Value; cookiestore encodes its
	// own events from Event.Cookie.
	UsesValues bool
}

// Engines returns the stores under test, cookiestore first.
func Engines() []Engine {
	return []Engine{Cookiestore(), Bbolt(), Pebble()}
}

// loadWith returns a Load that opens the store with open, writes the events
// through the store's own bulk path and closes it.
func loadWith(open func(dir string, cfg Config) (Store, error)) func(string, func() (Event, bool)) error {
	return func(dir string, next func() (Event, bool)) error {
		s, err := open(dir, Config{Durability: NotDurable, Writers: 1})
		if err != nil {
			return err
		}
		if err := s.(interface {
			load(func() (Event, bool)) error
		}).load(next); err != nil {
			s.Close()
			return err
		}
		return s.Close()
	}
}

// bucketName is the one bbolt bucket that holds the cookies.
const bucketName = "cookies"

// Bbolt returns the go.etcd.io/bbolt engine: a copy-on-write B+tree in one
// memory-mapped file. Durable puts use db.Update from one writer and db.Batch
// from several, with bbolt's default batch size and delay; not durable sets
// db.NoSync.
func Bbolt() Engine {
	return Engine{
		Name:       "bbolt",
		Open:       openBbolt,
		Load:       loadWith(openBbolt),
		UsesValues: true,
		Note:       "go.etcd.io/bbolt, default options; durable: `db.Update` per put from one writer, `db.Batch` (default MaxBatchSize 1000, MaxBatchDelay 10ms) from several; not durable: `db.NoSync = true` and `db.NoGrowSync = true`",
	}
}

type bboltStore struct {
	db     *bolt.DB
	bucket []byte // bucketName
	batch  bool
}

func openBbolt(dir string, cfg Config) (Store, error) {
	db, err := bolt.Open(filepath.Join(dir, "cookies.bolt"), 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("open bbolt in %s: %w", dir, err)
	}
	// Not durable skips both of bbolt's syncs: the one per commit and the
	// one after the file grows.
	db.NoSync = cfg.Durability == NotDurable
	db.NoGrowSync = cfg.Durability == NotDurable
	bucket := []byte(bucketName)
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("create bbolt bucket: %w", err)
	}
	return &bboltStore{db: db, bucket: bucket, batch: cfg.Writers > 1}, nil
}

func (s *bboltStore) Put(e *Event) error {
	put := func(tx *bolt.Tx) error { return tx.Bucket(s.bucket).Put(e.Key, e.Value) }
	if s.batch {
		return s.db.Batch(put)
	}
	return s.db.Update(put)
}

func (s *bboltStore) Get(id []byte) (found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(s.bucket).Get(id)
		found = v != nil && len(v) > 0
		return nil
	})
	return found, err
}

func (s *bboltStore) Lookup(id []byte) (c Cookie, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(s.bucket).Get(id)
		if v == nil {
			return nil
		}
		found = true
		c.ID = string(id)
		return DecodeValue(v, &c)
	})
	return c, found, err
}

func (s *bboltStore) load(next func() (Event, bool)) error {
	// bbolt's fastest path, which also gives its smallest file: the keys
	// in order, in large transactions, with the fill percent its
	// documentation suggests for sequential inserts, without a sync until
	// the end. (Random keys in small transactions take minutes for a
	// million cookies and leave a file a quarter larger.)
	type kv struct{ k, v []byte }
	var kvs []kv
	for {
		e, ok := next()
		if !ok {
			break
		}
		kvs = append(kvs, kv{e.Key, e.Value})
	}
	slices.SortStableFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	noSync := s.db.NoSync
	s.db.NoSync = true
	defer func() { s.db.NoSync = noSync }()
	for len(kvs) > 0 {
		chunk := kvs[:min(len(kvs), 100000)]
		kvs = kvs[len(chunk):]
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(s.bucket)
			b.FillPercent = 0.9
			for _, p := range chunk {
				if err := b.Put(p.k, p.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load bbolt: %w", err)
		}
	}
	return s.db.Sync()
}

// Compact does nothing: bbolt reuses freed pages but never shrinks its file
// (its offline `bbolt compact` copies the database to a new file).
func (s *bboltStore) Compact() error { return nil }

func (s *bboltStore) Close() error { return s.db.Close() }

// Pebble returns the github.com/cockroachdb/pebble engine: a log-structured
// merge tree with a write-ahead log whose commit pipeline syncs concurrent
// writers together. Durable puts use pebble.Sync, not durable pebble.NoSync.
func Pebble() Engine {
	return Engine{
		Name:       "pebble",
		Open:       openPebble,
		Load:       loadWith(openPebble),
		UsesValues: true,
		Note:       "github.com/cockroachdb/pebble/v2, default options (format FormatNewest); durable: `db.Set(k, v, pebble.Sync)` from every writer (its commit pipeline groups concurrent syncs); not durable: `pebble.NoSync`",
	}
}

type pebbleStore struct {
	db   *pebble.DB
	sync *pebble.WriteOptions
}

// quietLogger drops pebble's informational messages, which would interleave
// with the progress lines, and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { log.Printf("pebble: "+f, args...) }
func (quietLogger) Fatalf(f string, args ...any) {
	log.Printf("pebble: fatal: "+f, args...)
	os.Exit(1)
}

func openPebble(dir string, cfg Config) (Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("open pebble in %s: %w", dir, err)
	}
	s := &pebbleStore{db: db, sync: pebble.Sync}
	if cfg.Durability == NotDurable {
		s.sync = pebble.NoSync
	}
	return s, nil
}

func (s *pebbleStore) Put(e *Event) error { return s.db.Set(e.Key, e.Value, s.sync) }

func (s *pebbleStore) Get(id []byte) (bool, error) {
	v, closer, err := s.db.Get(id)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := len(v) > 0
	return found, closer.Close()
}

func (s *pebbleStore) Lookup(id []byte) (Cookie, bool, error) {
	v, closer, err := s.db.Get(id)
	if errors.Is(err, pebble.ErrNotFound) {
		return Cookie{}, false, nil
	}
	if err != nil {
		return Cookie{}, false, err
	}
	defer closer.Close()
	c := Cookie{ID: string(id)}
	if err := DecodeValue(v, &c); err != nil {
		return Cookie{}, true, err
	}
	return c, true, nil
}

func (s *pebbleStore) load(next func() (Event, bool)) error {
	for {
		b := s.db.NewBatch()
		n := 0
		for ; n < 1000; n++ {
			e, ok := next()
			if !ok {
				break
			}
			if err := b.Set(e.Key, e.Value, nil); err != nil {
				return fmt.Errorf("load pebble: %w", err)
			}
		}
		if n > 0 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("load pebble: %w", err)
			}
		}
		b.Close()
		if n < 1000 {
			break
		}
	}
	// Flush the memtables so that a reopen has no log to replay: this makes
	// pebble's open time its best case.
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("load pebble: flush: %w", err)
	}
	return nil
}

func (s *pebbleStore) Compact() error {
	// Every cookie ID sorts between these two keys: the alphabet is ASCII
	// below 0x7f.
	return s.db.Compact(context.Background(), []byte{0}, []byte{0x7f}, true)
}

func (s *pebbleStore) Close() error { return s.db.Close() }
