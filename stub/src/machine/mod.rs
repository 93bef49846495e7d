//! This machine's state and the only ways it is changed: the product inventory (what is
//! installed and which keys are trusted), its lock, the commit journal and the transaction that
//! writes through it, the admin's hooks, and the fault-injection points of the crash tests.
//! Nothing here reads a package or prints: it is told what to change and changes it
//! all-or-nothing.

pub mod fault;
pub mod hooks;
pub mod installed;
pub mod inventory;
pub mod journal;
pub mod lock;
pub mod session;
pub mod transaction;
