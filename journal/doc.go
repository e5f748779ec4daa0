// Package journal stores a sequence of opaque payloads in one append-only
// file: checksummed frames behind a versioned header, appended with group
// commit, recovered after a crash, and guarded by an exclusive lock. It knows
// nothing of what the payloads mean; cookiestore writes the msgpack events of
// package record into it.
//
// This comment is the specification of the file format, versions 1 and 2. It is
// meant to be enough to write a reader in any language. The repository's
// docs/FORMAT.md says the same with worked hex examples.
//
// # File layout
//
// All integers are unsigned and little-endian. A file is a 16-byte header
// followed by zero or more frames, back to back, with no padding or trailer,
// and then possibly by zero bytes (see Unwritten space):
//
//	file := header frame* 0x00*
//
//	header, HeaderSize = 16 bytes:
//	+----------------------+-----------+-----------+--------------+
//	| magic "CKSJRNL\x00"  | version   | flags     | header crc   |
//	| 8 bytes              | u16 (1,2) | u16 (= 0) | u32          |
//	+----------------------+-----------+-----------+--------------+
//	0                      8           10          12             16
//
//	frame, FrameHeaderSize = 8 bytes followed by the payload:
//	+------------+-----------+--------------------------+
//	| length u32 | crc u32   | payload, length bytes    |
//	+------------+-----------+--------------------------+
//	0            4           8                          8+length
//
// The header crc is the CRC-32C (Castagnoli polynomial) of header bytes
// 0 to 11. A frame's crc is the CRC-32C of its 4 length bytes followed by its
// payload; covering the length means a damaged length is caught as surely as
// a damaged payload. The crc field itself is not covered.
//
// A frame is valid when 0 < length <= MaxFrameSize (16 MiB), the whole frame
// lies inside the file, and the crc matches. The offset of a frame is the
// offset of its length field: the first frame is at offset 16, and each
// next one starts right after the previous payload. Frames carry no type,
// sequence number or timestamp; their order in the file is the order in
// which they were appended. What a payload holds is up to the writer
// (package record defines cookiestore's events).
//
// A reader rejects a file whose magic differs, whose header crc does not
// match, whose version is not 1 or 2, or whose flags are not 0. No flags
// are defined yet; a change that needs one will also raise the version.
//
// Frames are the same in versions 1 and 2: the version says how the
// payloads are encoded, which package record defines. New files, and the
// replacements that compaction writes, are version 2 (Version), so a
// compaction upgrades a version 1 file; appending to a file and repairing
// it keep its version.
//
// # Unwritten space
//
// A SyncAlways journal writes 1 MiB of zeros ahead of its frames whenever a
// flush would pass the end of the file, in the same flush and before its
// fdatasync. Later frames overwrite blocks the file system has already
// allocated without changing the file's size, so their fdatasyncs flush data
// and commit no metadata: on ext4 that made the fdatasync of a 4 KiB group
// 1.7 to 3 times as fast (BenchmarkLimits/fdatasync-4KiB in package bench).
// Zero bytes that run from the end of the last frame to the end of the file
// are therefore the end of the journal, not damage: Open keeps them
// (Recovery.Unwritten) and appends into them, readers stop at them, and
// Close cuts them off. A zero length followed by anything but zeros is a
// bad frame like any other.
//
// # Recovery
//
// Open reads every frame in order. The first frame that is not valid, at
// offset X, ends the valid prefix, and what follows it decides what it was:
//
//   - No valid frame starts at any offset after X: the bytes from X on are
//     the torn tail of a write that a crash interrupted. Open truncates the
//     file to X, syncs it, logs how many bytes it dropped and reports them in
//     Recovery.
//   - A valid frame starts somewhere after X: the damage is in the middle of
//     the file, and dropping it would silently lose the frames after it. Open
//     refuses with a *CorruptError that names the file, X and the reason.
//     Repair keeps a backup, drops the bad bytes and reports them.
//
// The search after X tries every offset, not only the one a damaged length
// points to. It reads each byte after X once and does constant work per
// offset: a length test, and, for the few offsets whose length is plausible
// and fits in the file, a crc test computed in constant time from running
// CRCs kept every 256 bytes (CRC-32C is linear, so the crc of any range
// follows from two running values). Its cost is therefore linear in the
// bytes after X, whatever they hold, and it holds at most about 22 MiB (4/3
// of MaxFrameSize) of the file in memory. No length field is trusted
// before it has been checked against MaxFrameSize and against the bytes left
// in the file, so no input makes the package allocate more than that.
//
// Only a file of 0 bytes, a journal whose creation was cut short before its
// header was written, is given a fresh header by Open. Any other header
// problem is an error wrapping ErrBadHeader: a header is never rewritten.
//
// One crash can look like corruption: pages of a write that was never
// synced may reach the disk out of order, leaving a hole followed by valid
// frames. Open refuses such a file like any other damage, and Repair keeps
// the frames after the hole.
//
// # Durability
//
// Append returns once its frame is as durable as Options.Sync promises:
//
//   - SyncAlways (the default): the frame has been written and fdatasync'd.
//     Concurrent appends share one write and one fdatasync (group commit):
//     while one sync runs, the next appends queue up; when it ends it
//     releases its appenders at once and hands the lead to one of the
//     queued, which writes and syncs the whole queue for everyone.
//   - SyncInterval: the frame has been written to the file, so it survives
//     a crash of the process. A background goroutine fdatasyncs every
//     Options.SyncInterval, so a crash of the machine loses at most about
//     one interval.
//   - SyncNone: the frame is in the journal's memory. Frames are written in
//     chunks of 64 KiB and at least every Options.SyncInterval, and the OS
//     decides when they reach the disk. A crash of the process loses at most
//     the last chunk or interval.
//
// Sync and Close write and fdatasync everything appended before them, in
// every mode. A Reader or Verify sees what was written; after Sync that is
// everything appended.
//
// A failed write or fdatasync makes the journal read-only for good: every
// later Append fails with an error wrapping both ErrReadOnly and the first
// failure. The fsync is never retried, because after a failure the kernel
// may have dropped the dirty pages and a second fsync could report success
// for data that is gone. After a failed write the file is cut back to the
// end of the last complete frame; if even that fails, the next Open sees a
// torn tail.
//
// # Locking
//
// One process at a time holds a journal. Open and Repair take an exclusive,
// non-blocking advisory lock (flock) on the side file path+".lock", created
// with mode 0600 and never removed: removing it would let two processes lock
// two different files of the same name. The lock lives beside the journal,
// not on it, so that it survives compaction renaming a new file over the
// journal. A second opener fails at once with an error wrapping ErrLocked.
//
// # Compaction
//
// BeginRewrite creates path+".compact-" followed by 16 hex digits in the
// same folder (mode 0600) and writes a header to it; the caller appends the
// live state to it. Commit briefly holds appends, copies the frames appended
// to the journal since BeginRewrite to the end of the new file, fsyncs it,
// renames it over path and fsyncs the folder; the journal then goes on
// appending to the new file. A crash at any step leaves either the whole old
// file or the whole new one at path, and Open removes leftover temporary
// files. Repair replaces the file the same way.
//
// # Example
//
// Open a journal, replaying what it holds, and append to it:
//
//	j, err := journal.Open("cookies.dat", journal.Options{}, func(off int64, p []byte) error {
//		return apply(p) // p is only valid during the call
//	})
//	if err != nil {
//		return err // errors.Is(err, journal.ErrCorrupt): the file needs journal.Repair
//	}
//	defer j.Close()
//	if _, err := j.Append(payload); err != nil {
//		return err // the payload is not durable; the journal is read-only
//	}
package journal
