//! What iupack needs from the operating system beyond std, each behind one small interface:
//! atomic file replacement and syncing (`fsutil`), folders held open by handle against local
//! attackers (`safedir`), UTC time as text (`time`), early write-out on Linux (`writeback`) and
//! rename-at-restart on Windows (`winreboot`). Knows nothing of packages or inventories.

pub mod fsutil;
pub mod safedir;
pub mod time;
#[cfg(windows)]
mod winreboot;
#[cfg(target_os = "linux")]
mod writeback;
