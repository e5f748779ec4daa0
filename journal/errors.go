package journal

import (
	"errors"
	"fmt"
)

// Errors that callers test with errors.Is.
var (
	// ErrCorrupt is matched by a *CorruptError: valid frames follow a bad one.
	ErrCorrupt = errors.New("journal: corrupt frame")
	// ErrLocked means another process (or another Journal in this one)
	// holds the journal.
	ErrLocked = errors.New("journal: in use by another process")
	// ErrReadOnly is wrapped by every Append after a failed write or sync.
	ErrReadOnly = errors.New("journal: read-only after a failed write or sync")
	// ErrBadHeader means the file does not start with a valid header of a
	// version from MinVersion to Version.
	ErrBadHeader = errors.New("bad journal header")
	// ErrClosed is returned by calls on a closed Journal.
	ErrClosed = errors.New("journal: closed")
	// ErrPayloadSize rejects a payload that is empty or larger than MaxFrameSize.
	ErrPayloadSize = errors.New("journal: payload must hold 1 to 16777216 bytes")
)

// CorruptError reports damage in the middle of a journal: a bad frame with
// valid frames after it. Open refuses such a file; Repair fixes it. Its
// message names the file, the damage and where the valid frames resume,
// and says that the file needs Repair; a program that wraps Repair in a
// command of its own adds how to run it.
type CorruptError struct {
	// Path is the journal file.
	Path string
	// Offset is the offset of the first bad frame.
	Offset int64
	// Reason says what is wrong with the frame at Offset.
	Reason string
	// Next is the offset of the first valid frame after Offset.
	Next int64
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal %s: corrupt frame at offset %d: %s (a valid frame follows at offset %d); the file needs repair (journal.Repair)",
		e.Path, e.Offset, e.Reason, e.Next)
}

// Is makes errors.Is(err, ErrCorrupt) true for a *CorruptError.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// FrameError is returned by Reader.Next for a frame that is not valid.
type FrameError struct {
	// Offset is the offset of the bad frame from the start of the file.
	Offset int64
	// Reason says what is wrong with it.
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("journal: bad frame at offset %d: %s", e.Offset, e.Reason)
}

// lockedError is the error for a journal held by someone else: one line
// that names the file, "journal cookies.dat: in use by another process",
// matching both ErrLocked and the cause. It is the only place that says so:
// callers show it as it is.
type lockedError struct {
	path string
	err  error
}

func (e *lockedError) Error() string {
	return "journal " + e.path + ": in use by another process"
}

func (e *lockedError) Unwrap() []error { return []error{ErrLocked, e.err} }
