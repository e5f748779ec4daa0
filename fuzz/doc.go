// Package fuzz holds cookiestore's cross-package `go test -fuzz` targets:
// journal recovery, event decoding, the index against a plain map, and
// config parsing. A target that needs one package's internals sits beside
// its code instead: record's FuzzParse, httpd's FuzzCookieHeader. Each target states the properties it checks, and its seed
// corpus lives in testdata/fuzz/<Target>/, in the format that `go test`
// reads, or in its f.Add calls, so that every plain `go test ./fuzz` replays
// the seeds and any input that once failed. Run one target with, for
// example:
//
//	go test -run XXX -fuzz FuzzConfig -fuzztime 1m ./fuzz
package fuzz
