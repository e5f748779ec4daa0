package peers

import (
	"reflect"
	"strings"
	"testing"

	"cookiestore/record"
)

func TestCookiesAreDeterministicAndExtendable(t *testing.T) {
	a := Cookies(Seed, 50)
	b := Cookies(Seed, 200)
	if !reflect.DeepEqual(a, b[:50]) {
		t.Fatal("the first 50 cookies differ between a workload of 50 and one of 200")
	}
	if other := Cookies(Seed+1, 50); reflect.DeepEqual(a, other) {
		t.Fatal("another seed gave the same cookies")
	}
}

func TestCookieShape(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cookies(Seed, 2000) {
		if !record.ValidID(c.ID, IDLength) {
			t.Fatalf("ID %q is not a cookie ID of %d characters", c.ID, IDLength)
		}
		if c.Digest != record.DigestOf(c.ID) {
			t.Fatalf("cookie %s: digest %s, want the ID's", c.ID, c.Digest)
		}
		if seen[c.ID] {
			t.Fatalf("ID %q generated twice", c.ID)
		}
		seen[c.ID] = true
		if c.Created.Before(Epoch()) || !c.Created.Before(Now()) || c.MaxAge != MaxAge {
			t.Fatalf("cookie %s: created %v, max-age %v: outside the workload's window", c.ID, c.Created, c.MaxAge)
		}
		if !c.Created.Add(c.MaxAge).After(Now()) {
			t.Fatalf("cookie %s would be expired at the benchmark clock", c.ID)
		}
		a := c.Auth
		if !strings.HasPrefix(a.AuthID, "user-") || a.AuthRole != "user" || a.AuthMethod != "ticket" || a.AuthRealm != "realm1" ||
			!reflect.DeepEqual(a.AuthExtra, map[string]any{"tenant": "t7", "plan": "pro"}) {
			t.Fatalf("cookie %s: unexpected auth %+v", c.ID, a)
		}
	}
}

func TestEventsAreCreateThenUpdate(t *testing.T) {
	cookies := Cookies(Seed, 10)
	evs, err := Events(cookies)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 20 {
		t.Fatalf("got %d events for 10 cookies, want 20", len(evs))
	}
	for i, e := range evs {
		c := &cookies[i/2]
		wantKind := Create
		if i%2 == 1 {
			wantKind = Update
		}
		if e.Kind != wantKind || e.Cookie != c || string(e.Key) != c.ID {
			t.Fatalf("event %d: kind %d for %q, want kind %d for %q", i, e.Kind, e.Key, wantKind, c.ID)
		}
		var got Cookie
		if err := DecodeValue(e.Value, &got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !got.Created.Equal(c.Created) || got.MaxAge != c.MaxAge {
			t.Fatalf("event %d: value has created %v max-age %v, want %v %v", i, got.Created, got.MaxAge, c.Created, c.MaxAge)
		}
		wantAuth := record.Auth{}
		if e.Kind == Update {
			wantAuth = c.Auth
		}
		if !reflect.DeepEqual(got.Auth, wantAuth) {
			t.Fatalf("event %d: value has auth %+v, want %+v", i, got.Auth, wantAuth)
		}
	}
}

func TestStreamMatchesEvents(t *testing.T) {
	evs, err := Events(Cookies(Seed, 30))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		peer bool
		want []Event
	}{
		{"cookiestore", false, evs},
		{"peer", true, nil},
	}
	for i := 1; i < len(evs); i += 2 {
		tests[1].want = append(tests[1].want, evs[i]) // a peer loads each cookie's final state
	}
	for _, tt := range tests {
		next := stream(30, tt.peer)
		for i, want := range tt.want {
			e, ok := next()
			if !ok {
				t.Fatalf("%s: stream ended after %d events, want %d", tt.name, i, len(tt.want))
			}
			wantValue := want.Value
			if !tt.peer {
				wantValue = nil // cookiestore encodes its own events
			}
			if e.Kind != want.Kind || string(e.Key) != string(want.Key) || string(e.Value) != string(wantValue) || e.Cookie.Auth.AuthID != want.Cookie.Auth.AuthID {
				t.Fatalf("%s: stream event %d differs from Events", tt.name, i)
			}
		}
		if _, ok := next(); ok {
			t.Fatalf("%s: stream went on past its cookies", tt.name)
		}
	}
}

func TestNewSample(t *testing.T) {
	tests := []struct {
		runs             []float64
		median, min, max float64
	}{
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	}
	for _, tt := range tests {
		s := newSample(tt.runs)
		if s.Median != tt.median || s.Min != tt.min || s.Max != tt.max {
			t.Errorf("newSample(%v) = %v [%v–%v], want %v [%v–%v]", tt.runs, s.Median, s.Min, s.Max, tt.median, tt.min, tt.max)
		}
	}
}
