package testkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ShiftEnv names the environment variable that moves [Start].
const ShiftEnv = "COOKIESTORE_TEST_CLOCK_SHIFT"

// base is where test clocks start when ShiftEnv is unset. Its nanoseconds
// are not zero, so that tests see whether time survives encoding whole.
var base = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

// start is base moved by ShiftEnv, read once.
var start = func() time.Time {
	t, err := shifted(base, os.Getenv(ShiftEnv))
	if err != nil {
		panic(err)
	}
	return t
}()

// Start returns the instant at which every test clock starts.
func Start() time.Time { return start }

// shifted returns t moved by spec: "" (no move), a Go duration ("36h",
// "-90m"), or a signed count of days or years ("+30d", "+1y"). Years and
// days are calendar steps (AddDate).
func shifted(t time.Time, spec string) (time.Time, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return t, nil
	}
	if n := len(spec); spec[n-1] == 'y' || spec[n-1] == 'd' {
		count, err := strconv.Atoi(strings.TrimPrefix(spec[:n-1], "+"))
		if err == nil {
			if spec[n-1] == 'y' {
				return t.AddDate(count, 0, 0), nil
			}
			return t.AddDate(0, 0, count), nil
		}
	}
	d, err := time.ParseDuration(strings.TrimPrefix(spec, "+"))
	if err != nil {
		return t, fmt.Errorf("testkit: %s=%q: want a shift such as +1y, -30d or +36h", ShiftEnv, spec)
	}
	return t.Add(d), nil
}

// Clock is a settable clock, safe for concurrent use. Give its Now method
// to every component of a test.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock that shows [Start] until it is moved.
func NewClock() *Clock {
	c := &Clock{}
	c.Set(start)
	return c
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Add moves the clock by d, which may be negative: a clock that steps back.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }
