package testkit

import (
	"sync"
	"testing"
	"time"
)

func TestShifted(t *testing.T) {
	t0 := time.Date(2026, 2, 28, 12, 0, 0, 5, time.UTC)
	for _, tt := range []struct {
		spec string
		want time.Time
	}{
		{"", t0},
		{"+1y", time.Date(2027, 2, 28, 12, 0, 0, 5, time.UTC)},
		{"1y", time.Date(2027, 2, 28, 12, 0, 0, 5, time.UTC)},
		{"-2y", time.Date(2024, 2, 28, 12, 0, 0, 5, time.UTC)},
		{"+30d", time.Date(2026, 3, 30, 12, 0, 0, 5, time.UTC)},
		{"+36h", t0.Add(36 * time.Hour)},
		{"-90m", t0.Add(-90 * time.Minute)},
		{" +1y ", time.Date(2027, 2, 28, 12, 0, 0, 5, time.UTC)},
	} {
		got, err := shifted(t0, tt.spec)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("shifted(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
	for _, bad := range []string{"y", "+xd", "soon", "1 year"} {
		if _, err := shifted(t0, bad); err == nil {
			t.Errorf("shifted(%q): want an error", bad)
		}
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	if !c.Now().Equal(Start()) {
		t.Fatalf("a new clock shows %v, want Start() = %v", c.Now(), Start())
	}
	c.Add(time.Hour)
	c.Add(-2 * time.Hour)
	if want := Start().Add(-time.Hour); !c.Now().Equal(want) {
		t.Fatalf("after +1h and -2h the clock shows %v, want %v", c.Now(), want)
	}
	at := Start().AddDate(0, 0, 3)
	c.Set(at)
	if !c.Now().Equal(at) || c.Now().Location() != time.UTC {
		t.Fatalf("after Set the clock shows %v, want %v in UTC", c.Now(), at)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add(time.Nanosecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if want := at.Add(8000); !c.Now().Equal(want) {
		t.Fatalf("after 8000 concurrent steps of 1ns the clock shows %v, want %v", c.Now(), want)
	}
}
