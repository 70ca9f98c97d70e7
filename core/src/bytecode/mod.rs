//! The compiled form of flows, the only contract between the compiler and
//! the runtime: the program model, its instruction set, its file format
//! (versioned, refused when it does not match) and its disassembly.

pub mod disasm;
pub mod format;
pub mod op;
pub mod program;

pub use disasm::disassemble;
pub use format::{decode, encode, source_hash, FormatError, FORMAT_VERSION};
pub use op::{Channel, MessageId, Op, StrId};
pub use program::*;
