// Package journal stores a sequence of opaque payloads in one append-only
// file: checksummed frames behind a versioned header, appended with group
// commit, recovered after a crash, and guarded by an exclusive lock. It knows
// nothing of what the payloads mean; cookiestore writes the events of
// package record into it.
//
// This comment is the specification of the journal file, format versions 1
// and 2: the one place that states its layout, checksums, recovery and
// durability, enough to write a reader or a repair tool in any language.
// The repository's docs/FORMAT.md links here and shows a worked example,
// which a test decodes with this package.
//
// # File layout
//
// All integers are unsigned and little-endian. A file is a 16-byte header
// followed by zero or more frames, back to back, with no padding, index or
// trailer, and then possibly by zero bytes (see Unwritten space):
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
// The magic (Magic) is the ASCII bytes "CKSJRNL" and a zero byte,
// 43 4b 53 4a 52 4e 4c 00. The header crc covers header bytes 0 to 11.
// Since nothing else in it varies, each version has exactly one header:
//
//	version 1: 43 4b 53 4a 52 4e 4c 00  01 00  00 00  1a 29 f7 5f
//	version 2: 43 4b 53 4a 52 4e 4c 00  02 00  00 00  23 a0 d5 3d
//
// # Checksums
//
// Every crc is CRC-32C, the Castagnoli polynomial (0x1EDC6F41, 0x82F63B78
// bit-reversed), with initial value 0xFFFFFFFF and final XOR 0xFFFFFFFF: the
// CRC of iSCSI and ext4, which SSE 4.2's crc32 instruction computes and Go's
// crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) returns. The CRC-32C
// of the ASCII bytes "123456789" is 0xE3069283.
//
// A frame's crc is the CRC-32C of its 4 length bytes followed by its
// payload. Covering the length means a damaged length is caught as surely
// as a damaged payload. The crc field itself is not covered.
//
// # Frames
//
// The offset of a frame is the offset of its length field: the first frame
// is at offset 16, and each next one starts right after the previous
// payload, at offset+8+length. A frame is valid when, in this order:
//
//  1. at least 8 bytes remain in the file at its offset;
//  2. 0 < length <= MaxFrameSize (16 MiB, 16777216);
//  3. offset+8+length <= the file's size: the whole frame is in the file;
//  4. the stored crc equals the CRC-32C of the length bytes and the payload.
//
// Tests 2 and 3 come before anything is allocated or read for the payload:
// a length field is not trusted until it is checked against the maximum and
// against the bytes left in the file. A file that ends right after a valid
// frame, or right after the header, is complete.
//
// A payload is opaque to the journal. Frames carry no type, sequence number
// or timestamp; their order in the file is the order in which they were
// appended.
//
// # Versions
//
// Versions 1 and 2 have the same header and frames; the version says how
// the payloads are encoded, which is up to the writer (package record
// defines cookiestore's). The journal writes Version (2) into new files and
// into the replacement that a compaction builds, so that a compaction
// upgrades a version 1 file; it keeps a file's version when it appends to
// it or repairs it. Journal.Version, Recovery.Version, VerifyReport.Version and
// Reader.Version report the version of a file.
//
// A reader refuses a file whose magic differs, whose header crc does not
// match, whose version it does not know (this package reads MinVersion to
// Version), or whose flags are not 0. No flags are defined; a change that
// an older reader would misread (a new frame layout, a new checksum, a flag)
// raises the version.
//
// # Unwritten space
//
// A SyncAlways journal writes UnwrittenChunk (1 MiB) of zeros ahead of its
// frames whenever a flush would pass the end of the file, in the same
// flush and before its fdatasync. Later frames overwrite blocks the file
// system has already allocated without changing the file's size, so their
// fdatasyncs flush data and commit no metadata: on ext4 that made the
// fdatasync of a 4 KiB group 1.7 to 3 times as fast
// (BenchmarkLimits/fdatasync-4KiB in package bench). The zeros are written
// UnwrittenPage (4 KiB) at a time: written in one call, they let Linux
// cache the range in large folios, and each small append then made its
// fdatasync write a whole folio (about 57 KB per event instead of a page).
//
// Zero bytes that run from the end of the last frame to the end of the file
// are therefore the end of the journal, not damage: Open keeps them
// (Recovery.Unwritten) and appends into them, readers stop at them, and
// Close cuts them off (if that fails it is only logged: the space is
// harmless). A zero length followed by anything but zeros is a bad frame
// like any other. No frame is lost to this: zeros are only written past the
// last frame, and a frame's length is never zero. Unwritten space came
// within version 1 because an older reader cannot misread it: one that does
// not know it takes the zeros for a torn tail and cuts them off.
//
// # Reading a journal
//
// A reader that only wants the payloads, such as a dump tool, does:
//
//	read 16 bytes; check magic, header crc, version and flags
//	offset = 16
//	loop:
//	    if offset == file size: done, the file is clean
//	    if every byte from offset to the end is zero: done, unwritten space
//	    if fewer than 8 bytes remain: bad frame at offset
//	    length = u32le(file[offset:]); crc = u32le(file[offset+4:])
//	    if length == 0 or length > 16777216 or offset+8+length > file size:
//	        bad frame at offset
//	    if crc32c(file[offset:offset+4] ++ file[offset+8:offset+8+length]) != crc:
//	        bad frame at offset
//	    emit file[offset+8 : offset+8+length]
//	    offset += 8 + length
//
// Reader does this over a stream; what a bad frame means depends on what
// follows it (see Recovery).
//
// # Recovery
//
// Open reads every frame in order. The first frame that is not valid, at
// offset X, ends the valid prefix, and a search for a valid frame starting
// at any offset after X (X+1, X+2, ... to the end, each tested as in
// Frames) decides what it was:
//
//   - No valid frame starts after X: the bytes from X on are the torn tail
//     of a write that a crash interrupted (partly written frames, or blocks
//     the file system extended with zeros or stale data). Open truncates
//     the file to X, syncs it, logs how many bytes it dropped, reports them
//     in Recovery and goes on. No acknowledged frame is lost: a sync covers
//     whole writes, so a frame reported durable lies before X.
//   - A valid frame starts at some Y > X: the damage is in the middle of
//     the file, and cutting it off would silently lose the frames after it.
//     Open refuses with a *CorruptError that names the file, X, the reason
//     and Y, and changes nothing.
//
// Damage inside the last frame is therefore indistinguishable from a torn
// write and is cut off; damage in any other frame needs Repair. One crash
// can look like corruption too: pages of a write that was never synced may
// reach the disk out of order, leaving a hole followed by valid frames.
// Open refuses such a file like any other damage, and Repair keeps the
// frames after the hole (never acknowledged under SyncAlways, but perhaps
// under the other modes).
//
// Repair takes the lock, copies the file to path+".bak" (or .bak.1, .bak.2,
// ..., never overwriting one; mode 0600) and syncs the copy. It then skips
// each bad region by the same search, writes the header and every valid
// frame to a temporary file, fsyncs it, renames it over path and fsyncs the
// folder, and reports the frames kept and each dropped range. A clean file
// is left alone, with no backup.
//
// Headers are never rewritten. Only a file of 0 bytes, a journal whose
// creation was cut short before its header was written, is given a fresh
// header by Open. Any other header problem (a file of 1 to 15 bytes, a
// wrong magic, a bad header crc, an unknown version or flags) is an error
// wrapping ErrBadHeader, from Open, Verify, Repair and NewReader alike.
//
// The search tries every offset, not only the one a damaged length points
// to. It reads each byte after X once and does constant work per offset: a
// length test, and, for the few offsets whose length is plausible and fits
// in the file, a crc test computed in constant time from running CRCs kept
// every 256 bytes (CRC-32C is linear, so the crc of any range follows from
// two running values: the arithmetic of zlib's crc32_combine). Its cost is
// therefore linear in the bytes after X, whatever they hold, and it holds
// at most about 22 MiB (4/3 of MaxFrameSize) of the file in memory. A
// naive search that recomputes a crc over length bytes at each plausible
// offset is correct too, but a hostile file makes it quadratic.
//
// # Durability
//
// Append returns once its frame is as durable as Options.Sync promises:
//
//   - SyncAlways (the default): the frame has been written and fdatasync'd.
//     Nothing acknowledged is lost by a crash of the process or the machine.
//     Concurrent appends share one write and one fdatasync (group commit):
//     while one sync runs, the next appends queue up; when it ends it
//     releases its appenders at once and hands the lead to one of the
//     queued, which waits a moment for the appenders just released to queue
//     again (until all of them and those already queued are in, or a
//     quarter of the last fdatasync's time, at most 200 µs), then writes and
//     syncs the whole queue for everyone.
//   - SyncInterval: the frame has been written to the file, so it survives
//     a crash of the process. A background goroutine fdatasyncs every
//     Options.SyncInterval when something was written since the last, so a
//     crash of the machine loses at most about one interval.
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
// # Files beside the journal
//
// A journal at path is created with mode 0600, and its folder, if missing,
// with mode 0700; on creation the header is written and the file and the
// folder are fsynced before Open returns. Beside it, in the same folder:
//
//   - path+".lock": the lock. One process at a time holds a journal: Open
//     and Repair take an exclusive, non-blocking advisory lock (flock) on
//     this side file, and a second opener, in this process or another,
//     fails at once with an error wrapping ErrLocked ("journal PATH: in use
//     by another process"). It is created with mode 0600, holds no data and
//     is never removed: removing it would let two processes lock two
//     different files of the same name. It lives beside the journal, not
//     on it, so that it survives compaction renaming a new file over path.
//     Verify and Reader take no lock.
//   - path+".compact-" and 16 hex digits: a replacement that a compaction
//     or a repair is writing (mode 0600). It becomes path by an atomic
//     rename; until then the journal never depends on it, so Open and
//     Repair delete any they find, left over from a crash.
//   - path+".bak", path+".bak.N": the copies that Repair made. The journal
//     never reads or deletes them.
//
// # Compaction
//
// BeginRewrite creates a replacement (path+".compact-…") and writes a
// version Version header to it; the caller appends the live state to it in
// that version's encoding while appends to the journal go on. Commit
// briefly holds appends, copies the frames appended to the journal since
// BeginRewrite to the end of the new file as they are, fsyncs it, renames
// it over path and fsyncs the folder; the journal then goes on appending
// to the new file. A crash at any step leaves either the whole old file or
// the whole new one at path: before the rename the new file is only a
// temporary file, and after it the new file is complete and synced.
// Offsets change with compaction; nothing stores them across one. As the
// copied frames cannot be re-encoded, a rewrite that upgrades an older
// file commits only if nothing was appended meanwhile.
//
// # Example
//
// Open a journal, replaying what it holds, and append to it:
//
//	j, err := journal.Open("cookies.dat", journal.Options{}, func(version int, off int64, p []byte) error {
//		return apply(version, p) // p is only valid during the call
//	})
//	if err != nil {
//		return err // errors.Is(err, journal.ErrCorrupt): the file needs journal.Repair
//	}
//	defer j.Close()
//	if _, err := j.Append(payload); err != nil {
//		return err // the payload is not durable; the journal is read-only
//	}
package journal
