//! The `.flowb` file: a header that says what it is, which format version
//! and which sources it came from, then the program (postcard encoding).
//!
//! ```text
//! offset  size  content
//! 0       6     magic "FLOWB\0"
//! 6       2     format version, little-endian
//! 8       8     hash of the sources, little-endian
//! 16      ...   the program, postcard-encoded
//! ```
//!
//! The serialized program is the only contract between compiler and
//! runtime: any change to `program.rs` or `op.rs` that changes the encoding
//! must bump `FORMAT_VERSION`.

use std::fmt;

use super::program::Program;

pub const MAGIC: &[u8; 6] = b"FLOWB\0";

/// The format this runtime reads and writes.
pub const FORMAT_VERSION: u16 = 5;

const HEADER_LEN: usize = 16;

#[derive(Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The bytes do not start with the magic number.
    NotAProgram,
    /// A program of another format version.
    Version { found: u16, expected: u16 },
    /// The body does not decode (a truncated or damaged file).
    Corrupt(String),
    /// The header's source hash does not match the body's.
    HashMismatch,
    /// The program could not be encoded (a bug: every type here encodes).
    Encode(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NotAProgram => {
                write!(f, "not a flowc program (no FLOWB header); build one with `flowc build`")
            }
            FormatError::Version { found, expected } => write!(
                f,
                "this program has format version {found}, but this runtime reads version {expected}; rebuild it with this flowc (`flowc build`)"
            ),
            FormatError::Corrupt(reason) => {
                write!(f, "the program is damaged or truncated ({reason}); rebuild it with `flowc build`")
            }
            FormatError::HashMismatch => write!(
                f,
                "the program's header and body disagree on its sources; rebuild it with `flowc build`"
            ),
            FormatError::Encode(why) => write!(f, "the program cannot be encoded (a bug in flowc): {why}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// The bytes of a `.flowb` file.
///
/// # Errors
/// The program does not encode: never for a program the compiler built
/// (every type here is serializable), and said rather than written empty.
pub fn encode(program: &Program) -> Result<Vec<u8>, FormatError> {
    let mut bytes = Vec::with_capacity(4096);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&program.source_hash.to_le_bytes());
    let body = postcard::to_allocvec(program).map_err(|e| FormatError::Encode(e.to_string()))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Reads a `.flowb` file, refusing other formats with a clear error.
pub fn decode(bytes: &[u8]) -> Result<Program, FormatError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::NotAProgram);
    }
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Corrupt("header cut short".into()));
    }
    let found = u16::from_le_bytes([bytes[6], bytes[7]]);
    if found != FORMAT_VERSION {
        return Err(FormatError::Version {
            found,
            expected: FORMAT_VERSION,
        });
    }
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&bytes[8..16]);
    let program: Program = postcard::from_bytes(&bytes[HEADER_LEN..])
        .map_err(|e| FormatError::Corrupt(e.to_string()))?;
    if program.source_hash != u64::from_le_bytes(hash) {
        return Err(FormatError::HashMismatch);
    }
    Ok(program)
}

/// FNV-1a, 64 bits: identifies the sources a program came from (not a
/// security measure; nothing here is secret).
pub fn source_hash<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (path, text) in sources {
        feed(path.as_bytes());
        feed(&[0]);
        feed(text.as_bytes());
        feed(&[0]);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::program::PolicyCode;

    fn program() -> Program {
        Program {
            sources: vec!["a.flow".into()],
            source_hash: source_hash([("a.flow", "on birthday send x")]),
            strings: vec!["x".into()],
            flows: Vec::new(),
            policy: PolicyCode::default(),
            consent_fields: Vec::new(),
            fields: Vec::new(),
            events: Vec::new(),
            templates: Vec::new(),
            webhooks: Vec::new(),
            kinds: Vec::new(),
            attribution: None,
        }
    }

    #[test]
    fn round_trips() {
        let p = program();
        assert_eq!(decode(&encode(&p).unwrap()), Ok(p));
    }

    #[test]
    fn refuses_other_files_versions_and_damage() {
        let mut bytes = encode(&program()).unwrap();
        assert_eq!(decode(b"hello"), Err(FormatError::NotAProgram));
        assert_eq!(
            decode(&bytes[..10]),
            Err(FormatError::Corrupt("header cut short".into()))
        );
        let cut = decode(&bytes[..bytes.len() - 3]);
        assert!(matches!(cut, Err(FormatError::Corrupt(_))), "{cut:?}");
        bytes[8] ^= 1;
        assert_eq!(decode(&bytes), Err(FormatError::HashMismatch));
        bytes[6] = 9;
        let error = decode(&bytes).unwrap_err();
        assert_eq!(
            error,
            FormatError::Version {
                found: 9,
                expected: FORMAT_VERSION
            }
        );
        assert!(error.to_string().contains("rebuild"));
    }

    #[test]
    fn the_hash_depends_on_paths_and_texts() {
        let a = source_hash([("a.flow", "x")]);
        assert_ne!(a, source_hash([("b.flow", "x")]));
        assert_ne!(a, source_hash([("a.flow", "y")]));
        assert_ne!(source_hash([("ab", "c")]), source_hash([("a", "bc")]));
    }
}
