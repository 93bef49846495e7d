//! Linux only: starting a written file's write-out to disk at once (`sync_file_range` with
//! `SYNC_FILE_RANGE_WRITE`, as dpkg does for the files it unpacks), without waiting for it. The
//! disk then works while the stub goes on decoding and hashing, and the fsync before the swap
//! waits only for what is still in flight. The fsync stays: this call promises nothing about
//! durability (it does not flush metadata or the disk's cache), it only starts the writing early.
//! With `winreboot`'s, one of the project's two `unsafe` blocks (each a single FFI call).
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;

extern "C" {
    // musl and glibc both have it (Linux 2.6.17+); off_t is 64 bits on x86-64 and in musl.
    fn sync_file_range(fd: i32, offset: i64, nbytes: i64, flags: u32) -> i32;
}

const SYNC_FILE_RANGE_WRITE: u32 = 2;

/// Starts writing `len` bytes of `file` from `offset` to disk (`len` 0: to the end of the file).
/// A hint: a failure (a file system that doesn't support it) is ignored, and the fsync that
/// follows reports real write errors.
pub fn start(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor belongs to `file`, which is borrowed for the call; the call takes
    // only integers and touches no memory of ours.
    unsafe {
        sync_file_range(file.as_raw_fd(), offset, len, SYNC_FILE_RANGE_WRITE);
    }
}
