package httpd

import "cookiestore/record"

// Store is what the server needs from a cookie store. Package memstore (the
// memory backend) and package filestore (the file backend) satisfy it.
//
// Create must not return before the cookie is as durable as the store
// promises: the server sends the cookie to the browser only after Create
// has returned. Get must treat an expired cookie as absent.
type Store interface {
	Get(id string) (record.Cookie, bool)
	Create(c record.Cookie) error
	SetAuth(id string, a record.Auth) error
	Delete(id string) error
	DeleteByAuthID(authid string) ([]string, error)
	Len() int
	Close() error
}

// StoreStats is what a store reports to /status and /metrics. Fields that a
// backend does not have stay zero.
type StoreStats struct {
	Cookies        int     // entries in the index
	EventsAppended int64   // events written to the journal since open
	JournalBytes   int64   // current size of the journal file
	Syncs          int64   // fdatasyncs since open
	SyncErrors     int64   // failed fdatasyncs since open
	Compactions    int64   // compactions since open
	DeadRatio      float64 // share of journal bytes that no live cookie needs
	ReadOnly       bool    // the store refuses writes after a failed write or sync
	Err            string  // why it is read-only; "" while healthy
}

// StatsReporter is implemented by stores that have more to report than
// their number of cookies, such as a file store wrapped by the command.
type StatsReporter interface {
	StoreStats() StoreStats
}
