//! An append-only JSON Lines file in which each line carries an `id`, and
//! no id is written twice — even across a crash between the append and the
//! record of the delivery in the state.
//!
//! Appending is not idempotent by itself, so the file is read once when it
//! is opened: a torn last line (a crash during a write leaves text without
//! its final newline) is cut off, and the ids of the complete lines are
//! indexed. Each line then goes out with one `write_all` and `sync_data`:
//! when `append` returns, the line is on disk, whole.
//!
//! The index holds a 64-bit hash per id (8 bytes a line, not the string);
//! a hit, which only a crash-and-retry or a hash collision produces, is
//! confirmed by reading the file again, so a collision cannot lose a line.
//! Lines start with their `id` so indexing reads a prefix, not the JSON.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashSet, FxHasher};
use serde::Deserialize;

use super::DeliveryError;

pub struct JsonlFile {
    path: PathBuf,
    file: File,
    ids: FxHashSet<u64>,
}

/// The only field an index needs, for lines that do not start with it.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

fn hash(id: &str) -> u64 {
    let mut hasher = FxHasher::default();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The id of a line: read from the `{"id":"...` prefix this module writes,
/// else parsed (a line someone else wrote). `None`: no id.
fn line_id(line: &[u8]) -> Option<String> {
    if let Some(rest) = line.strip_prefix(br#"{"id":""#) {
        if let Some(end) = rest.iter().position(|b| *b == b'"' || *b == b'\\') {
            if rest[end] == b'"' {
                return std::str::from_utf8(&rest[..end]).ok().map(str::to_string);
            }
        }
    }
    serde_json::from_slice::<IdOnly>(line).ok().map(|l| l.id)
}

/// `value` as one line of JSON, its `id` first, then the other fields in
/// the usual (sorted) order. The bytes of a line and of a webhook body.
pub fn encode(value: &serde_json::Value) -> Result<Vec<u8>, String> {
    let Some(object) = value.as_object() else {
        return serde_json::to_vec(value).map_err(|e| e.to_string());
    };
    let mut out = b"{".to_vec();
    let id = object.get_key_value("id");
    for (key, field) in id
        .into_iter()
        .chain(object.iter().filter(|(k, _)| *k != "id"))
    {
        if out.len() > 1 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key).map_err(|e| e.to_string())?;
        out.push(b':');
        serde_json::to_writer(&mut out, field).map_err(|e| e.to_string())?;
    }
    out.push(b'}');
    Ok(out)
}

/// Calls `each` with every complete line (newline included); returns the
/// length of the complete lines, so a torn rest can be cut off.
fn scan(file: &File, mut each: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    reader.seek(SeekFrom::Start(0))?;
    let mut complete: u64 = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(complete);
        }
        complete += read as u64;
        each(&line);
    }
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
        let mut ids = FxHashSet::default();
        let complete = scan(&file, |line| {
            // A line without an id (someone else's) is kept, not indexed.
            if let Some(id) = line_id(line) {
                ids.insert(hash(&id));
            }
        })
        .map_err(|e| fail("read", e))?;
        let length = file.metadata().map_err(|e| fail("read", e))?.len();
        if complete < length {
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
    pub fn contains(&self, id: &str) -> Result<bool, DeliveryError> {
        if !self.ids.contains(&hash(id)) {
            return Ok(false);
        }
        let mut found = false;
        scan(&self.file, |line| {
            found = found || line_id(line).as_deref() == Some(id);
        })
        .map_err(|e| DeliveryError(format!("cannot read {}: {e}", self.path.display())))?;
        Ok(found)
    }

    /// Appends `value` (with `id`) as one line unless the id is already
    /// there. True when written now.
    pub fn append(&mut self, id: &str, value: &serde_json::Value) -> Result<bool, DeliveryError> {
        if self.contains(id)? {
            return Ok(false);
        }
        let mut line =
            encode(value).map_err(|e| DeliveryError(format!("cannot encode {id}: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| DeliveryError(format!("cannot write {}: {e}", self.path.display())))?;
        self.ids.insert(hash(id));
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
            .append("a", &json!({"text": "hi", "id": "a"}))
            .expect("writes"));
        assert!(!file
            .append("a", &json!({"id": "a", "text": "hi"}))
            .expect("no-op"));
        drop(file);
        // A crash in the middle of writing `b`, and a line from elsewhere.
        let mut raw = OpenOptions::new().append(true).open(&path).expect("raw");
        raw.write_all(b"{\"x\":1,\"id\":\"c\"}\n{\"id\":\"b\",\"te")
            .expect("torn write");
        drop(raw);
        let mut file = JsonlFile::open(&path).expect("reopens");
        assert!(file.contains("a").expect("reads") && file.contains("c").expect("reads"));
        assert!(!file.contains("b").expect("reads"));
        assert!(!file.append("a", &json!({"id": "a"})).expect("no-op"));
        assert!(file
            .append("b", &json!({"id": "b", "text": "yo"}))
            .expect("writes"));
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            text,
            "{\"id\":\"a\",\"text\":\"hi\"}\n{\"x\":1,\"id\":\"c\"}\n{\"id\":\"b\",\"text\":\"yo\"}\n"
        );
    }

    #[test]
    fn a_hash_hit_is_confirmed_against_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = JsonlFile::open(&dir.path().join("t.jsonl")).expect("opens");
        assert!(file.append("a", &json!({"id": "a"})).expect("writes"));
        // As if another id collided with `a`'s hash.
        file.ids.insert(hash("z"));
        assert!(!file.contains("z").expect("reads"));
        assert!(file
            .append("z", &json!({"id": "z"}))
            .expect("a collision loses nothing"));
    }

    #[test]
    fn encodes_the_id_first() {
        let value = json!({"contact": "c1", "id": "k\"1", "kind": "task"});
        let line = encode(&value).expect("encodes");
        assert_eq!(line, br#"{"id":"k\"1","contact":"c1","kind":"task"}"#);
        assert_eq!(line_id(&line).as_deref(), Some("k\"1"), "escapes parsed");
        let parsed: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(parsed, value);
    }
}
