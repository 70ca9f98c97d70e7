//! flowc runtime: the calendar on current IANA zone rules, the bytecode the
//! compiler produces, and (later) the VM and the scheduler-invoked run.

pub mod bytecode;
pub mod calendar;
