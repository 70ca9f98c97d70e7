//! Whether a file on disk can be a whole SQLite database, read from its
//! 100-byte header before SQLite opens it: SQLite itself takes a 0-byte
//! file as a new, empty database, and notices a file cut short only when a
//! query reaches a missing page.

use std::io::Read;
use std::path::Path;

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// `Ok` when the file starts with SQLite's header and is at least as long
/// as the header says; otherwise why not, in plain words.
pub fn whole_sqlite_file(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it ({e})"))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot read it ({e})"))?;
    let length = metadata.len();
    if length == 0 {
        return Err("it is empty (0 bytes)".into());
    }
    // SQLite names the write-ahead log after the path it was given: two
    // names of one file would have two logs, and each would miss what the
    // other holds (and the run lease in it). A symlink is resolved, and safe.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let links = metadata.nlink();
        if links > 1 {
            return Err(format!(
                "it has {links} hard links, and SQLite keeps its journal by name: two names of one state would each miss what the other recorded. Keep one name (a symlink is safe)"
            ));
        }
    }
    let mut header = [0u8; 100];
    let read = read_up_to(&mut file, &mut header).map_err(|e| format!("cannot read it ({e})"))?;
    if read < MAGIC.len() || &header[..MAGIC.len()] != MAGIC {
        return Err(format!("it is not a SQLite database ({length} bytes)"));
    }
    if read < header.len() {
        return Err(format!(
            "it is truncated ({length} bytes, less than a header)"
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    // A power of two from 512 to 65536 (file format, section 1.3.2); a
    // damaged header could say 0, which no length is a multiple of.
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!(
            "its header is damaged (a page size of {page_size} bytes)"
        ));
    }
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    // The page count is valid only when the change counter matches the
    // "version valid for" number (SQLite file format, section 1.3.7).
    let counted = header[24..28] == header[92..96] && pages > 0;
    if counted && length < pages * page_size {
        return Err(format!(
            "it is truncated ({length} bytes; its header says {pages} pages of {page_size} bytes)"
        ));
    }
    if length % page_size != 0 {
        return Err(format!(
            "it is truncated ({length} bytes, not a whole number of {page_size}-byte pages)"
        ));
    }
    Ok(())
}

fn read_up_to(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_foreign_short_and_truncated_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.db");
        std::fs::write(&path, b"").unwrap();
        assert!(whole_sqlite_file(&path).unwrap_err().contains("empty"));
        std::fs::write(&path, b"id,email\nc1,a@b.c\n").unwrap();
        assert!(whole_sqlite_file(&path)
            .unwrap_err()
            .contains("not a SQLite database"));
        let real = dir.path().join("real.db");
        let connection = rusqlite::Connection::open(&real).unwrap();
        connection
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(20000));")
            .unwrap();
        drop(connection);
        assert_eq!(whole_sqlite_file(&real), Ok(()));
        let bytes = std::fs::read(&real).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4096]).unwrap();
        assert!(whole_sqlite_file(&path).unwrap_err().contains("truncated"));
        std::fs::write(&path, &bytes[..50]).unwrap();
        assert!(whole_sqlite_file(&path).unwrap_err().contains("truncated"));
        // A page size of 0 in a damaged header: said, not a division by 0.
        let mut damaged = bytes.clone();
        damaged[16] = 0;
        damaged[17] = 0;
        std::fs::write(&path, &damaged).unwrap();
        assert!(whole_sqlite_file(&path)
            .unwrap_err()
            .contains("header is damaged"));
    }
}
