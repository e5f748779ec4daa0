// Package testkit is the support that cookiestore's tests share, so that
// each thing a test needs exists once:
//
//   - one settable [Clock], so that every component of a test runs on the
//     same time (below);
//   - one fault-injecting file system, [FaultFS], over the journal's file
//     operations, whose [Faults] are named by operation;
//   - one thread-safe log buffer, [LogBuffer], behind a debug logger;
//   - a version 1 journal ([V1Journal]), a golden file with known cookies, for
//     the tests of reading and upgrading the old format;
//   - docs/FORMAT.md's worked examples ([DocExample]), which the packages
//     that own a format fact decode in their tests, so that the document
//     cannot drift from the code;
//   - self-signed keys for the TLS tests ([WriteKeyPair], [WriteKey]).
//
// Two packages below it hold what needs the project's own packages, which
// this one cannot import (their tests import it): journaltest builds
// journals, nodetest runs a node with its stores and WebSocket clients.
//
// # One clock
//
// A test that gives one component a fixed date and another the wall clock
// passes only until the two drift a cookie's lifetime apart, and then fails
// for every newcomer. So tests never use time.Now as a clock: they make a
// [Clock] and hand its Now to every component, store and server alike.
//
// Every Clock starts at [Start]: a fixed instant, moved by the environment
// variable COOKIESTORE_TEST_CLOCK_SHIFT ("+1y", "-30d", "+36h", ...). CI runs
// the suite a second time with the start a year ahead; a test in which some
// component still reads the wall clock fails there at once, instead of on
// some later day.
package testkit
