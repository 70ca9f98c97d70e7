//! An append-only JSON Lines file in which each line carries an `id`, and
//! no id is written twice — even across a crash between the append and the
//! record of the delivery in the state.
//!
//! Appending is not idempotent by itself, so the file is read once when it
//! is opened: a torn last line (a crash during a write leaves text without
//! its final newline) is cut off, and the ids of the complete lines are
//! indexed. Each line then goes out with one `write_all` and `sync_data`:
//! when `append` returns, the line is on disk, whole.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DeliveryError;

pub struct JsonlFile {
    path: PathBuf,
    file: File,
    ids: HashSet<String>,
}

/// The only field an index needs; the rest of a line is skipped unparsed.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl JsonlFile {
    /// Opens (or creates) `path`, repairs a torn last line and indexes ids.
    pub fn open(path: &Path) -> Result<JsonlFile, DeliveryError> {
        let fail = |what: &str, e: std::io::Error| {
            DeliveryError(format!("cannot {what} {}: {e}", path.display()))
        };
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| fail("open", e))?;
        if !existed {
            // The new file's name must survive a crash too.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| fail("sync the folder of", e))?;
            }
        }
        let mut ids = HashSet::new();
        let mut complete: u64 = 0;
        let mut torn = false;
        let mut reader = BufReader::new(&file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| fail("read", e))?;
            if read == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                torn = true;
                break;
            }
            complete += read as u64;
            // A line someone else wrote without an id is kept, not indexed.
            if let Ok(IdOnly { id }) = serde_json::from_slice(&line) {
                ids.insert(id);
            }
        }
        if torn {
            file.set_len(complete)
                .and_then(|_| file.sync_data())
                .map_err(|e| fail("cut the torn last line of", e))?;
        }
        Ok(JsonlFile {
            path: path.to_path_buf(),
            file,
            ids,
        })
    }

    /// Whether a line with this id is in the file.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Appends `value` (with `id`) as one line unless the id is already
    /// there. True when written now.
    pub fn append(&mut self, id: &str, value: &serde_json::Value) -> Result<bool, DeliveryError> {
        if self.contains(id) {
            return Ok(false);
        }
        let mut line = serde_json::to_vec(value)
            .map_err(|e| DeliveryError(format!("cannot encode {id}: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| DeliveryError(format!("cannot write {}: {e}", self.path.display())))?;
        self.ids.insert(id.to_string());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn appends_each_id_once_and_repairs_a_torn_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sms.jsonl");
        let mut file = JsonlFile::open(&path).expect("opens");
        assert!(file
            .append("a", &json!({"id": "a", "text": "hi"}))
            .expect("writes"));
        assert!(!file
            .append("a", &json!({"id": "a", "text": "hi"}))
            .expect("no-op"));
        drop(file);
        // A crash in the middle of writing `b`.
        let mut raw = OpenOptions::new().append(true).open(&path).expect("raw");
        raw.write_all(b"{\"id\":\"b\",\"te").expect("torn write");
        drop(raw);
        let mut file = JsonlFile::open(&path).expect("reopens");
        assert!(file.contains("a") && !file.contains("b"));
        assert!(!file.append("a", &json!({"id": "a"})).expect("no-op"));
        assert!(file
            .append("b", &json!({"id": "b", "text": "yo"}))
            .expect("writes"));
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            text,
            "{\"id\":\"a\",\"text\":\"hi\"}\n{\"id\":\"b\",\"text\":\"yo\"}\n"
        );
    }
}
