//! The persisted next-due index of a contacts file: for each row, where it
//! starts and the earliest instant its row alone can make something due.
//! A run over the same file (same bytes, same program, same zone rules)
//! reads only the rows due before its end, and those whose state is
//! active; the others are not even parsed. Any difference in the file, the
//! program or the zone rules, or a window that starts before the index was
//! built, and the run reads the whole file and writes a new index.
//!
//! The index is a cache, never the truth: it is written after the run's
//! records are durable (temporary file, then rename), a damaged or stale
//! one is ignored, and deleting it only costs one full read.
//!
//! Layout (little-endian): magic, format, the fingerprint, the instant it
//! was built for, the number of contacts, then one [`Entry`] per row in
//! file order.

use std::fs::File;
use std::hash::Hasher;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rustc_hash::FxHasher;

const MAGIC: &[u8; 8] = b"FLOWCIDX";
const FORMAT: u64 = 1;
const HEADER_BYTES: u64 = 8 + 8 * 8;
const ENTRY_BYTES: usize = 32;

/// What the index was built from: any change makes it stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fingerprint {
    pub program: u64,
    pub zones: u64,
    pub file_len: u64,
    pub file_hash: u64,
}

impl Fingerprint {
    /// Reads the whole contacts file once (about 30 ms for 60 MB).
    pub(super) fn of(program: u64, zones: &str, contacts: &Path) -> std::io::Result<Fingerprint> {
        let mut file = BufReader::with_capacity(1 << 16, File::open(contacts)?);
        let mut hasher = FxHasher::default();
        let mut buffer = vec![0u8; 1 << 16];
        let mut file_len = 0u64;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.write(&buffer[..n]);
            file_len += n as u64;
        }
        let mut zone_hasher = FxHasher::default();
        zone_hasher.write(zones.as_bytes());
        Ok(Fingerprint {
            program,
            zones: zone_hasher.finish(),
            file_len,
            file_hash: hasher.finish(),
        })
    }
}

/// One row of the contacts file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub offset: u64,
    pub line: u64,
    /// The hash of the contact's id (0 for a row that is not a contact).
    pub id_hash: u64,
    /// Seconds: no row-only due before this instant. `i64::MIN`: read on
    /// every run (a rejected row, a zone or date the VM cannot use).
    pub next_due: i64,
}

impl Entry {
    pub(super) const ALWAYS: i64 = i64::MIN;

    /// Whether the row may have something due at or before `end`.
    pub(super) fn due_before(&self, end: Timestamp) -> bool {
        // Stored rounded down: comparing whole seconds reads more, never less.
        self.next_due <= end.as_second() || self.next_due == Entry::ALWAYS
    }

    fn bytes(&self) -> [u8; ENTRY_BYTES] {
        let mut out = [0u8; ENTRY_BYTES];
        out[0..8].copy_from_slice(&self.offset.to_le_bytes());
        out[8..16].copy_from_slice(&self.line.to_le_bytes());
        out[16..24].copy_from_slice(&self.id_hash.to_le_bytes());
        out[24..32].copy_from_slice(&self.next_due.to_le_bytes());
        out
    }

    fn from_bytes(b: &[u8; ENTRY_BYTES]) -> Entry {
        let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        Entry {
            offset: word(0),
            line: word(8),
            id_hash: word(16),
            next_due: word(24) as i64,
        }
    }
}

/// An index read back, entry by entry.
pub(super) struct IndexReader {
    file: BufReader<File>,
    remaining: u64,
    /// The contacts (rows that were contacts) of the file.
    pub contacts: u64,
}

impl IndexReader {
    /// The index at `path` if it was built from `fingerprint` for a window
    /// ending at or before `start`; `None` when missing, stale or damaged.
    pub(super) fn open_valid(
        path: &Path,
        fingerprint: &Fingerprint,
        start: Timestamp,
    ) -> Option<IndexReader> {
        let file = File::open(path).ok()?;
        let length = file.metadata().ok()?.len();
        let mut file = BufReader::with_capacity(1 << 16, file);
        let mut header = [0u8; HEADER_BYTES as usize];
        file.read_exact(&mut header).ok()?;
        let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or_default());
        let found = Fingerprint {
            program: word(16),
            zones: word(24),
            file_len: word(32),
            file_hash: word(40),
        };
        let built_to = word(48) as i64;
        let contacts = word(56);
        let entries = word(64);
        let complete = length == HEADER_BYTES + entries * ENTRY_BYTES as u64;
        let valid = &header[0..8] == MAGIC
            && word(8) == FORMAT
            && found == *fingerprint
            && built_to <= start.as_second()
            && complete;
        valid.then_some(IndexReader {
            file,
            remaining: entries,
            contacts,
        })
    }
}

impl Iterator for IndexReader {
    type Item = std::io::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let mut bytes = [0u8; ENTRY_BYTES];
        Some(
            self.file
                .read_exact(&mut bytes)
                .map(|_| Entry::from_bytes(&bytes)),
        )
    }
}

/// A new index, written beside the old one and put in its place by
/// [`IndexWriter::finish`].
pub(super) struct IndexWriter {
    file: BufWriter<File>,
    temporary: PathBuf,
    path: PathBuf,
    entries: u64,
    pub contacts: u64,
}

impl IndexWriter {
    pub(super) fn create(
        path: &Path,
        fingerprint: &Fingerprint,
        built_to: Timestamp,
    ) -> std::io::Result<IndexWriter> {
        let temporary = path.with_extension("rows-tmp");
        let mut file = BufWriter::with_capacity(1 << 16, File::create(&temporary)?);
        file.write_all(MAGIC)?;
        for word in [
            FORMAT,
            fingerprint.program,
            fingerprint.zones,
            fingerprint.file_len,
            fingerprint.file_hash,
            built_to.as_second() as u64,
            0, // contacts, written by finish
            0, // entries, written by finish
        ] {
            file.write_all(&word.to_le_bytes())?;
        }
        Ok(IndexWriter {
            file,
            temporary,
            path: path.to_path_buf(),
            entries: 0,
            contacts: 0,
        })
    }

    pub(super) fn push(&mut self, entry: Entry) -> std::io::Result<()> {
        self.entries += 1;
        self.file.write_all(&entry.bytes())
    }

    /// Completes the header and puts the index in place.
    /// Leaves no index: the temporary file goes, an earlier index too
    /// (it describes other bytes).
    pub(super) fn abandon(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.temporary);
        let _ = std::fs::remove_file(&self.path);
    }

    pub(super) fn finish(self) -> std::io::Result<()> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(HEADER_BYTES - 16))?;
        file.write_all(&self.contacts.to_le_bytes())?;
        file.write_all(&self.entries.to_le_bytes())?;
        drop(file);
        std::fs::rename(&self.temporary, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn an_index_reads_back_only_for_its_fingerprint_and_later_windows() {
        let dir = tempfile::tempdir().unwrap();
        let contacts = dir.path().join("contacts.csv");
        std::fs::write(&contacts, "id\nc1\nc2\n").unwrap();
        let print = Fingerprint::of(7, "tzdb 2026f", &contacts).unwrap();
        let path = dir.path().join("flow.db.rows");
        let mut writer = IndexWriter::create(&path, &print, at(1000)).unwrap();
        let entries = [
            Entry {
                offset: 3,
                line: 2,
                id_hash: 11,
                next_due: 5000,
            },
            Entry {
                offset: 6,
                line: 3,
                id_hash: 12,
                next_due: Entry::ALWAYS,
            },
        ];
        for entry in entries {
            writer.push(entry).unwrap();
        }
        writer.contacts = 2;
        writer.finish().unwrap();

        let reader = IndexReader::open_valid(&path, &print, at(1000)).expect("valid");
        assert_eq!(reader.contacts, 2);
        let read: Vec<Entry> = reader.map(Result::unwrap).collect();
        assert_eq!(read, entries);
        assert!(!read[0].due_before(at(4999)) && read[0].due_before(at(5000)));
        assert!(read[1].due_before(at(i64::from(i32::MIN))));
        // A window before the index was built, another file, another
        // program, other zone rules, a torn file: not used.
        assert!(IndexReader::open_valid(&path, &print, at(999)).is_none());
        std::fs::write(&contacts, "id\nc1\nc3\n").unwrap();
        let other = Fingerprint::of(7, "tzdb 2026f", &contacts).unwrap();
        assert!(IndexReader::open_valid(&path, &other, at(2000)).is_none());
        let other_program = Fingerprint {
            program: 8,
            ..print
        };
        assert!(IndexReader::open_valid(&path, &other_program, at(2000)).is_none());
        let other_zones = Fingerprint { zones: 1, ..print };
        assert!(IndexReader::open_valid(&path, &other_zones, at(2000)).is_none());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(IndexReader::open_valid(&path, &print, at(2000)).is_none());
    }
}
