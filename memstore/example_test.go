package memstore_test

import (
	"fmt"
	"time"

	"cookiestore/memstore"
	"cookiestore/record"
)

// A principal logs in on two browsers, then is revoked everywhere at once.
// The store knows each browser by the digest of its cookie, never by the
// cookie itself.
func ExampleStore_DeleteByAuthID() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := memstore.New(memstore.Options{Clock: func() time.Time { return now }, JanitorInterval: -1})
	defer s.Close()

	laptop, phone, kiosk := record.DigestOf("cookieA"), record.DigestOf("cookieB"), record.DigestOf("cookieC")
	for _, d := range []record.Digest{laptop, phone, kiosk} {
		if err := s.Create(record.Cookie{Digest: d, Created: now, MaxAge: 24 * time.Hour}); err != nil {
			panic(err)
		}
	}
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket"}
	_ = s.SetAuth(laptop, alice)
	_ = s.SetAuth(phone, alice)

	revoked, _ := s.DeleteByAuthID("alice")
	fmt.Println("revoked:", len(revoked), "cookies")
	_, ok := s.Get(laptop)
	fmt.Println("laptop still there:", ok)
	fmt.Println("cookies left:", s.Len())

	now = now.Add(24 * time.Hour) // the kiosk's cookie expires
	_, ok = s.Get(kiosk)
	fmt.Println("kiosk after a day:", ok)
	// Output:
	// revoked: 2 cookies
	// laptop still there: false
	// cookies left: 1
	// kiosk after a day: false
}
