package peers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"cookiestore/journal"
	"cookiestore/record"
)

// checkCookie asserts that the store holds want, with its auth when
// withAuth is set.
func checkCookie(t *testing.T, s Store, want *Cookie, withAuth bool) {
	t.Helper()
	found, err := s.Get([]byte(want.ID))
	if err != nil || !found {
		t.Fatalf("Get(%s) = %v, %v; want found", want.ID, found, err)
	}
	got, found, err := s.Lookup([]byte(want.ID))
	if err != nil || !found {
		t.Fatalf("Lookup(%s) = %v, %v; want found", want.ID, found, err)
	}
	wantAuth := record.Auth{}
	if withAuth {
		wantAuth = want.Auth
	}
	if got.ID != want.ID || !got.Created.Equal(want.Created) || got.MaxAge != want.MaxAge || !reflect.DeepEqual(got.Auth, wantAuth) {
		t.Fatalf("Lookup(%s) = %+v, want %+v with auth %+v", want.ID, got, want, wantAuth)
	}
}

func TestStores(t *testing.T) {
	engines := Engines()
	if len(engines) < 2 {
		t.Fatalf("only %d engines", len(engines))
	}
	cookies := Cookies(Seed, 300)
	events, err := Events(cookies)
	if err != nil {
		t.Fatal(err)
	}
	missing := []byte("AAAAAAAAAAAAAAAAAAAAAAAA")
	for _, eng := range engines {
		for _, cfg := range []Config{{Durability: Durable, Writers: 1}, {Durability: Durable, Writers: 8}, {Durability: NotDurable, Writers: 1}} {
			t.Run(eng.Name+"/"+cfg.Durability.String(), func(t *testing.T) {
				dir := t.TempDir()
				s, err := eng.Open(dir, cfg)
				if err != nil {
					t.Fatal(err)
				}
				// The first 100 cookies get only their create, the next
				// 200 both events, from cfg.Writers goroutines.
				for i := range 100 {
					if err := s.Put(&events[2*i]); err != nil {
						t.Fatal(err)
					}
				}
				n, err := drive(s, events[200:], cfg.Writers, timeZero)
				if err != nil || n != 400 {
					t.Fatalf("drive put %d events, err %v; want 400", n, err)
				}
				check := func(s Store) {
					for i := range cookies {
						checkCookie(t, s, &cookies[i], i >= 100)
					}
					if found, err := s.Get(missing); found || err != nil {
						t.Fatalf("Get(missing) = %v, %v; want not found", found, err)
					}
					if _, found, err := s.Lookup(missing); found || err != nil {
						t.Fatalf("Lookup(missing) = %v, %v; want not found", found, err)
					}
				}
				check(s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s, err = eng.Open(dir, cfg)
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				check(s)
				if err := s.Compact(); err != nil {
					t.Fatalf("compact: %v", err)
				}
				check(s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s, err = eng.Open(dir, cfg)
				if err != nil {
					t.Fatalf("reopen after compaction: %v", err)
				}
				defer s.Close()
				check(s)
			})
		}
		t.Run(eng.Name+"/load", func(t *testing.T) {
			dir := t.TempDir()
			if err := eng.Load(dir, stream(len(cookies), eng.UsesValues)); err != nil {
				t.Fatal(err)
			}
			s, err := eng.Open(dir, Config{Durability: Durable, Writers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range cookies {
				checkCookie(t, s, &cookies[i], true)
			}
		})
	}
}

func TestConcurrentGets(t *testing.T) {
	cookies := Cookies(Seed, 50)
	events, err := Events(cookies)
	if err != nil {
		t.Fatal(err)
	}
	for _, eng := range Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s, err := eng.Open(t.TempDir(), Config{Durability: NotDurable, Writers: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := drive(s, events, 4, timeZero); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range cookies {
						c := &cookies[(i+g*13)%len(cookies)]
						if found, err := s.Get([]byte(c.ID)); !found || err != nil {
							t.Errorf("Get(%s) = %v, %v", c.ID, found, err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestCookiestoreLoadWritesWhatPutsWrite checks that the fast loader of the
// open benchmark leaves the same journal as the store's own Create and
// SetAuth calls: the same frames, holding the same events. (The bytes of an
// update may differ: msgpack writes authextra in map order.)
func TestCookiestoreLoadWritesWhatPutsWrite(t *testing.T) {
	eng := Cookiestore()
	cookies := Cookies(Seed, 200)
	events, err := Events(cookies)
	if err != nil {
		t.Fatal(err)
	}
	viaPuts := t.TempDir()
	s, err := eng.Open(viaPuts, Config{Durability: NotDurable, Writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drive(s, events, 1, timeZero); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	viaLoad := t.TempDir()
	if err := eng.Load(viaLoad, stream(len(cookies), false)); err != nil {
		t.Fatal(err)
	}
	a, b := journalEvents(t, viaPuts), journalEvents(t, viaLoad)
	if len(a) != len(events) {
		t.Fatalf("Create and SetAuth left %d events, want %d", len(a), len(events))
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the loaded journal holds other events than the one Create and SetAuth wrote")
	}
	sa, sb := fileSize(t, filepath.Join(viaPuts, JournalName)), fileSize(t, filepath.Join(viaLoad, JournalName))
	if sa != sb {
		t.Fatalf("the loaded journal has %d bytes, the one Create and SetAuth wrote %d", sb, sa)
	}
}

// journalEvents returns the events of the journal in dir, in order, with
// their offsets.
func journalEvents(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, JournalName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := journal.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		off, p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var e record.Event
		if err := record.DecodeEvent(p, r.Version(), &e); err != nil {
			t.Fatalf("frame at %d: %v", off, err)
		}
		out = append(out, fmt.Sprintf("%d %+v", off, e))
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
