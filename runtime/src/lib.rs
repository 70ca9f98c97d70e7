//! flowc runtime: the calendar on current IANA zone rules, the bytecode the
//! compiler produces, and the VM that finds what is due for one contact.

pub mod bytecode;
pub mod calendar;
pub mod delivery;
pub mod feedback;
pub mod input;
pub mod keys;
pub mod run;
pub mod state;
pub mod vm;
