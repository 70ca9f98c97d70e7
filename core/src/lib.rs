//! flowc core: the calendar on current IANA zone rules, the bytecode the
//! compiler produces, and the VM that finds what is due for one contact.
//! Pure: no IO of any kind (see Cargo.toml), so the compiler, the language
//! server and the runtime share it.

pub mod bytecode;
pub mod calendar;
pub mod vm;
