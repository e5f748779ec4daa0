// Command cookiestore serves cookie tracking over WebSocket, revokes a
// principal on a running or stopped node, and inspects and maintains the
// journal files of its file store.
//
// Usage:
//
//	cookiestore serve   [--config FILE] [--dir NODEDIR] [--listen ADDR]
//	cookiestore check   --config FILE [--dir NODEDIR]
//	cookiestore dump    FILE
//	cookiestore verify  FILE
//	cookiestore repair  FILE
//	cookiestore compact FILE
//	cookiestore stats   [--json] FILE
//	cookiestore revoke  [--config FILE | --dir NODEDIR] AUTHID
//	cookiestore version
//
// Run `cookiestore help COMMAND` for the details of one command. Exit codes:
// 0 success, 1 a runtime error (or, for verify, a damaged file), 2 a usage
// error (or, for check and revoke, an invalid config).
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
