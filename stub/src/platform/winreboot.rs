//! Windows only: scheduling a rename for the next restart, the one thing iupack needs from the
//! Win32 API that std does not offer. With `writeback`'s, one of the project's two `unsafe`
//! blocks (each a single FFI call).
#![allow(unsafe_code)]

use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Storage::FileSystem::{MoveFileExW, MOVEFILE_DELAY_UNTIL_REBOOT};

fn wide(p: &Path) -> Vec<u16> {
    p.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// `from` → `to` at the next restart, in order with other scheduled moves.
pub fn move_at_reboot(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (wide(from), wide(to));
    // SAFETY: both arguments are NUL-terminated UTF-16 strings that live until the call returns;
    // MoveFileExW only reads them.
    let ok = unsafe { MoveFileExW(f.as_ptr(), t.as_ptr(), MOVEFILE_DELAY_UNTIL_REBOOT) };
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
