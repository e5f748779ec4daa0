package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"time"

	"cookiestore/record"
)

func dumpCommand() *command {
	return &command{
		name:     "dump",
		synopsis: "FILE",
		summary:  "print every event of a journal as JSON lines",
		nargs:    1,
		help: `Dump prints every event of the journal FILE as one JSON object per line, in
file order. A cookie is named by the digest of its ID, as the journal holds it
(never the ID, which is a bearer secret; a version 1 journal's IDs are printed
as their digests too). Events inside a compaction's batch frames are printed
one by one, with the batch frame's offset and their batch_index:

  {"offset":16,"type":"create","digest":"6a6c...","created":"2026-12-02T20:13:14.662Z","max_age_s":86400}
  {"offset":62,"type":"update","digest":"6a6c...","auth":{"authid":"alice","authrole":"user","authmethod":"ticket","authrealm":"default"}}
  {"offset":163,"type":"delete","digest":"9f27...","reason":"logout"}
  {"offset":16,"batch_index":0,"type":"cookie","digest":"6a6c...","created":"2026-12-02T20:13:14.662Z","max_age_s":86400,"auth":null}

A delete's reason is logout, revoke, expired, rotated (then with the
successor's digest) or unspecified (version 1 journals); a cookie event is a cookie's whole state, as a compaction
writes it. The output holds who logged in on which cookie: treat it as the
journal itself.

The file is read, never locked or written, so dump works on the journal of a
running server.`,
		exits: []exit{
			{exitOK, "success"},
			{exitFailure, "the file cannot be read, or holds a bad frame (the events before it are printed)"},
			{exitUsage, "a bad command line"},
		},
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			return func(_ context.Context, out *output, args []string) error {
				w := bufio.NewWriterSize(out.stdout, 64<<10)
				_, _, err := readEvents(args[0], func(off int64, batch int, e *record.Event) error {
					line, err := dumpLine(off, batch, e)
					if err != nil {
						return err
					}
					line = append(line, '\n')
					_, err = w.Write(line)
					return err
				})
				if ferr := w.Flush(); err == nil {
					err = ferr
				}
				return err
			}
		},
	}
}

// The JSON shapes of dump, one per kind of event. Field order is output
// order: encoding/json writes an embedded struct's fields where it stands.
// A cookie is named by its digest: the journal holds no ID.
type (
	// dumpHead leads every line: where the event is, and what it is of.
	dumpHead struct {
		Offset     int64         `json:"offset"`
		BatchIndex *int          `json:"batch_index,omitempty"`
		Type       string        `json:"type"`
		Digest     record.Digest `json:"digest"`
	}
	dumpCreate struct {
		dumpHead
		Created string      `json:"created"`
		MaxAgeS json.Number `json:"max_age_s"`
	}
	dumpUpdate struct {
		dumpHead
		Auth *dumpAuth `json:"auth"` // null: the auth was cleared
	}
	dumpDelete struct {
		dumpHead
		Reason    string         `json:"reason"`
		Successor *record.Digest `json:"successor,omitempty"` // the cookie that a rotation put in its place
	}
	// dumpCookie is a compaction's cookie: its creation and its login.
	dumpCookie struct {
		dumpCreate
		Auth *dumpAuth `json:"auth"` // null: nobody is logged in
	}
	dumpAuth struct {
		AuthID     string         `json:"authid"`
		AuthRole   string         `json:"authrole"`
		AuthMethod string         `json:"authmethod"`
		AuthRealm  string         `json:"authrealm"`
		AuthExtra  map[string]any `json:"authextra,omitempty"`
	}
)

// dumpAuthOf returns the JSON shape of a, or nil for nobody.
func dumpAuthOf(a record.Auth) *dumpAuth {
	if a.IsZero() {
		return nil
	}
	return &dumpAuth{AuthID: a.AuthID, AuthRole: a.AuthRole, AuthMethod: a.AuthMethod, AuthRealm: a.AuthRealm, AuthExtra: a.AuthExtra}
}

func dumpLine(off int64, batch int, e *record.Event) ([]byte, error) {
	var bi *int
	if batch >= 0 {
		bi = &batch
	}
	created := e.Created.UTC().Format(time.RFC3339Nano)
	maxAge := json.Number(strconv.FormatFloat(e.MaxAge.Seconds(), 'f', -1, 64))
	head := dumpHead{Offset: off, BatchIndex: bi, Type: e.Kind.String(), Digest: e.Digest}
	create := dumpCreate{dumpHead: head, Created: created, MaxAgeS: maxAge}
	var v any
	switch e.Kind {
	case record.KindCreate:
		v = create
	case record.KindUpdate:
		v = dumpUpdate{dumpHead: head, Auth: dumpAuthOf(e.Auth)}
	case record.KindDelete:
		d := dumpDelete{dumpHead: head, Reason: e.Reason.String()}
		if !e.Successor.IsZero() {
			d.Successor = &e.Successor
		}
		v = d
	case record.KindCookie:
		v = dumpCookie{dumpCreate: create, Auth: dumpAuthOf(e.Auth)}
	default:
		return nil, fmt.Errorf("unexpected event kind %d", e.Kind)
	}
	line, err := json.Marshal(v)
	if err != nil && len(e.Auth.AuthExtra) > 0 {
		// authextra came from msgpack and may hold what JSON cannot (a
		// NaN); show it as Go prints it rather than fail.
		a := *e
		a.Auth.AuthExtra = map[string]any{"unprintable": fmt.Sprint(e.Auth.AuthExtra)}
		return dumpLine(off, batch, &a)
	}
	return line, err
}
