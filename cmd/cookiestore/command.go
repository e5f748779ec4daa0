package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"cookiestore/journal"
)

// Exit codes, the same for every command.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime error; verify: the file is damaged
	exitUsage   = 2 // a bad command line; check: the config is invalid
)

// command is one subcommand.
type command struct {
	name     string
	synopsis string // the arguments after the command name, e.g. "[--json] FILE"
	summary  string // one line for the command list
	help     string // what it does, for `cookiestore help NAME`; wrapped by hand
	exits    []exit // what each exit code means for this command, from 0 up
	nargs    int    // exact number of positional arguments
	argName  string // what the positional argument is, e.g. "FILE"
	// setup defines the command's flags and returns the function that runs
	// it with the positional arguments, once the flags are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, out *output, args []string) error
}

// exit is one exit code of a command and what it means there.
type exit struct {
	code    int
	meaning string
}

// output is where a command writes: results to stdout, logs and diagnostics
// to stderr.
type output struct {
	stdout, stderr io.Writer
}

// commands returns every subcommand, in the order of the help text.
func commands() []*command {
	return []*command{
		serveCommand(),
		checkCommand(),
		dumpCommand(),
		verifyCommand(),
		repairCommand(),
		compactCommand(),
		statsCommand(),
		revokeCommand(),
		versionCommand(),
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is a bad command line: exit 2, with a hint to the help.
type usageError struct {
	cmd string // "" for the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

// exitError ends a command with a given code once it has said why itself,
// e.g. check after listing the problems of a config.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run is the whole program minus os.Exit: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &output{stdout: stdout, stderr: stderr}
	err := dispatch(ctx, out, args)
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		// One line: what is wrong and where to read more.
		if ue.cmd == "" {
			fmt.Fprintf(stderr, "cookiestore: %s (run 'cookiestore --help' for usage)\n", ue.msg)
		} else {
			fmt.Fprintf(stderr, "cookiestore %s: %s (run 'cookiestore %s --help' for usage)\n", ue.cmd, ue.msg, ue.cmd)
		}
		return exitUsage
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "cookiestore: %s\n", message(ee.err))
		}
		return ee.code
	default:
		fmt.Fprintf(stderr, "cookiestore: %s\n", message(err))
		return exitFailure
	}
}

// message is the line that run prints for err: the error on one line and,
// for a journal that Open refused as corrupt, the command that repairs it.
// Every command reports errors here, so serve and the tools all say it.
func message(err error) string {
	msg := oneLine(err.Error())
	var ce *journal.CorruptError
	if errors.As(err, &ce) {
		msg += fmt.Sprintf("; run `cookiestore repair %s`", ce.Path)
	}
	return msg
}

// oneLine keeps an error message on one line, whatever wrapped it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func dispatch(ctx context.Context, out *output, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(out.stderr, topUsage())
		return &exitError{code: exitUsage}
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help":
		fmt.Fprint(out.stdout, topUsage())
		return nil
	case "help":
		switch len(args) {
		case 1:
			fmt.Fprint(out.stdout, topUsage())
			return nil
		case 2:
			c := lookup(args[1])
			if c == nil {
				return &usageError{msg: fmt.Sprintf("unknown command %q", args[1])}
			}
			fmt.Fprint(out.stdout, c.usage())
			return nil
		default:
			return &usageError{msg: "help takes at most one command name"}
		}
	default:
		c := lookup(name)
		if c == nil {
			if strings.HasPrefix(name, "-") {
				return &usageError{msg: fmt.Sprintf("unknown flag %s: flags go after the command", name)}
			}
			return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
		}
		return c.run(ctx, out, args[1:])
	}
}

// newFlagSet returns the command's flags and the function that runs it.
func (c *command) newFlagSet() (*flag.FlagSet, func(context.Context, *output, []string) error) {
	fs := flag.NewFlagSet("cookiestore "+c.name, flag.ContinueOnError)
	// The flag package would print its own error and usage; we print one
	// line instead, or the full help on request.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs, c.setup(fs)
}

func (c *command) run(ctx context.Context, out *output, args []string) error {
	fs, run := c.newFlagSet()
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(out.stdout, c.usage())
		return nil
	}
	if err != nil {
		return &usageError{cmd: c.name, msg: flagMessage(err)}
	}
	if len(pos) != c.nargs {
		switch {
		case c.nargs == 0:
			return &usageError{cmd: c.name, msg: fmt.Sprintf("unexpected argument %q", pos[0])}
		case len(pos) < c.nargs:
			what := c.argName
			if what == "" {
				what = "FILE"
			}
			return &usageError{cmd: c.name, msg: fmt.Sprintf("missing %s argument", what)}
		default:
			return &usageError{cmd: c.name, msg: fmt.Sprintf("too many arguments: %s", strings.Join(pos, " "))}
		}
	}
	return run(ctx, out, pos)
}

// singleDashFlag finds the flag names in the flag package's messages,
// which it writes with one dash.
var singleDashFlag = regexp.MustCompile(`(^|\s)-([A-Za-z][A-Za-z0-9_-]*)`)

// flagMessage rewrites an error of the flag package in the double-dash
// spelling that the help uses.
func flagMessage(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + rest
	}
	return singleDashFlag.ReplaceAllString(msg, "$1--$2")
}

// parseInterspersed parses flags wherever they stand, so that both
// `verify --x FILE` and `verify FILE --help` work; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// The headings of every help text, in this order. The command list has
// "Commands:" in place of "Flags:".
const (
	headingUsage    = "Usage:"
	headingFlags    = "Flags:"
	headingCommands = "Commands:"
	headingExits    = "Exit codes:"
)

// usage is the full help of a command: the usage line, what it does, its
// flags and its exit codes.
func (c *command) usage() string {
	var b strings.Builder
	line := strings.TrimSpace("cookiestore " + c.name + " " + c.synopsis)
	fmt.Fprintf(&b, "%s %s\n\n%s\n\n%s\n", headingUsage, line, c.help, headingFlags)
	fs, _ := c.newFlagSet()
	fs.VisitAll(func(f *flag.Flag) {
		typ, text := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(&b, " %s", typ)
		}
		fmt.Fprintf(&b, "\n      %s", text)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		}
		b.WriteString("\n")
	})
	b.WriteString("  --help\n      print this help and exit\n")
	writeExits(&b, c.exits)
	return b.String()
}

// writeExits writes the "Exit codes:" section.
func writeExits(b *strings.Builder, exits []exit) {
	fmt.Fprintf(b, "\n%s\n", headingExits)
	for _, e := range exits {
		fmt.Fprintf(b, "  %d  %s\n", e.code, e.meaning)
	}
}

func topUsage() string {
	var b strings.Builder
	fmt.Fprintf(&b, `%s cookiestore COMMAND [flags] [args]

cookiestore tracks WebSocket clients with an HTTP cookie, remembers who logged in
on each cookie, and keeps the cookies in an append-only journal. Run
'cookiestore help COMMAND' or 'cookiestore COMMAND --help' for one command.

%s
`, headingUsage, headingCommands)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	writeExits(&b, []exit{
		{exitOK, "success"},
		{exitFailure, "a runtime error (verify: the file is damaged)"},
		{exitUsage, "a bad command line (check: the config is invalid)"},
	})
	return b.String()
}

// plural returns n and the noun, in the singular for 1: "1 frame",
// "2 frames", "0 frames".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
