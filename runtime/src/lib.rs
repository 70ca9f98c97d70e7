//! flowc runtime: the calendar on current IANA zone rules, and (later) the
//! bytecode, the VM and the scheduler-invoked run.

pub mod calendar;
