package memstore_test

import (
	"fmt"
	"time"

	"cookiestore/memstore"
	"cookiestore/record"
)

// A principal logs in on two browsers, then is revoked everywhere at once.
func ExampleStore_DeleteByAuthID() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := memstore.New(memstore.Options{Clock: func() time.Time { return now }, JanitorInterval: -1})
	defer s.Close()

	for _, id := range []string{"cookieA", "cookieB", "cookieC"} {
		if err := s.Create(record.Cookie{ID: id, Created: now, MaxAge: 24 * time.Hour}); err != nil {
			panic(err)
		}
	}
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket"}
	_ = s.SetAuth("cookieA", alice)
	_ = s.SetAuth("cookieB", alice)

	ids, _ := s.DeleteByAuthID("alice")
	fmt.Println("revoked:", ids)
	_, ok := s.Get("cookieA")
	fmt.Println("cookieA still there:", ok)
	fmt.Println("cookies left:", s.Len())

	now = now.Add(24 * time.Hour) // cookieC expires
	_, ok = s.Get("cookieC")
	fmt.Println("cookieC after a day:", ok)
	// Output:
	// revoked: [cookieA cookieB]
	// cookieA still there: false
	// cookies left: 1
	// cookieC after a day: false
}
