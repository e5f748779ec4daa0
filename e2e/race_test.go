//go:build race

package e2e

// raceEnabled is true when the tests run under the race detector, which
// makes every memory access several times slower and caps a process at
// 8,128 live goroutines: the soak test scales its load down (see soak_test.go).
const raceEnabled = true
