package journal

// OSFS returns the operating system's file layer, the one a journal uses
// when Options.FS is nil. Wrappers that inject faults or pauses embed it.
func OSFS() FS { return osFS{} }
