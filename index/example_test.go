package index_test

import (
	"fmt"
	"time"

	"cookiestore/index"
	"cookiestore/record"
)

// A replay applies each event as its payload holds it; the index keeps the
// authextra as those bytes, and decodes it only when a cookie is read.
func ExampleIndex_Apply() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	x := index.New(index.Options{Clock: func() time.Time { return now }})

	d := record.DigestOf("cookieA")
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthExtra: map[string]any{"tenant": "t7"}}
	for _, ev := range []record.Event{record.Create(d, now, 24*time.Hour), record.Update(d, alice)} {
		payload, err := record.AppendEvent(nil, &ev) // what a journal frame holds
		if err != nil {
			panic(err)
		}
		var v record.View
		if err := record.Parse(payload, record.V2, &v); err != nil {
			panic(err)
		}
		x.Apply(&v)
	}

	c, ok := x.Get(d)
	fmt.Println(ok, c.Auth.AuthID, c.Auth.AuthRole, c.Auth.AuthExtra["tenant"])
	fmt.Println(x.DigestsByAuthID("alice")[0] == d)
	// Output:
	// true alice user t7
	// true
}
