//! Where messages go when no server takes them: a folder. One `.eml` file
//! per e-mail, named by the message id derived from the send's key and
//! written atomically (temporary file, then rename), so writing the same
//! send twice leaves one file. Every other action is one line of a JSON
//! Lines file per kind (`sms.jsonl`, `push.jsonl`, `tasks.jsonl`,
//! `webhooks.jsonl`, `updates.jsonl`), written at most once per id: a crash
//! between delivery and its record costs nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::jsonl::JsonlFile;
use super::DeliveryError;

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Not delivered this time (an outage, a broken connection, an SMTP
    /// 4xx): the send stays pending and the next run retries it.
    Retry(String),
    /// Refused for good (an SMTP 5xx): recorded as failed, not retried.
    Rejected(String),
    /// The whole message went, and no answer came (the connection was
    /// lost, or the answer came after the timeout): the server may hold
    /// it. Recorded in doubt, retried with the same Message-ID, and
    /// reported until an operator acknowledges it.
    InDoubt(String),
}

/// What an outbox reports while a batch goes: the sends it is about to
/// start (by index in the batch) and those that ended.
#[derive(Debug, Default)]
pub struct Progress {
    pub starting: Vec<usize>,
    pub ended: Vec<(usize, Attempt)>,
}

/// Delivers rendered payloads.
pub trait Outbox {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError>;

    /// Delivers a batch, reporting through `progress`. A send named in
    /// `starting` is started only after `progress` returned `Ok` (so the
    /// run has recorded it as in flight); an `Err` stops the batch and is
    /// returned. Every send of the batch is eventually reported ended,
    /// unless the batch stops. By default, one at a time through `deliver`.
    fn deliver_batch(
        &mut self,
        payloads: &[serde_json::Value],
        progress: &mut dyn FnMut(Progress) -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        let mut ended = Vec::new();
        for (index, payload) in payloads.iter().enumerate() {
            progress(Progress {
                starting: vec![index],
                ended: std::mem::take(&mut ended),
            })?;
            let attempt = match self.deliver(payload) {
                Ok(()) => Attempt::Delivered,
                Err(error) => Attempt::Retry(error.0),
            };
            ended.push((index, attempt));
        }
        if ended.is_empty() {
            return Ok(());
        }
        progress(Progress {
            starting: Vec::new(),
            ended,
        })
    }
}

/// The JSON Lines file of the folder outbox that holds actions of `kind`.
pub fn jsonl_name(kind: &str) -> &'static str {
    match kind {
        "sms" => "sms.jsonl",
        "push" => "push.jsonl",
        "task" => "tasks.jsonl",
        "webhook" => "webhooks.jsonl",
        // Changes to the contact for the system of record to apply.
        "set" | "tag" | "untag" | "exit" => "updates.jsonl",
        _ => "other.jsonl",
    }
}

pub struct FileOutbox {
    dir: PathBuf,
    /// Opened (and indexed) on first use, once per run.
    lines: HashMap<&'static str, JsonlFile>,
}

impl FileOutbox {
    pub fn new(dir: &Path) -> Result<FileOutbox, DeliveryError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            DeliveryError(format!("cannot create the outbox {}: {e}", dir.display()))
        })?;
        Ok(FileOutbox {
            dir: dir.to_path_buf(),
            lines: HashMap::new(),
        })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        // Names come from our own ids (hex): no path can be smuggled in.
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
            .collect();
        let target = self.dir.join(&safe);
        let temporary = self.dir.join(format!(".{safe}.tmp"));
        std::fs::write(&temporary, bytes)
            .and_then(|_| std::fs::rename(&temporary, &target))
            .map_err(|e| DeliveryError(format!("cannot write {}: {e}", target.display())))
    }

    fn append(&mut self, id: &str, action: &serde_json::Value) -> Result<(), DeliveryError> {
        let name = jsonl_name(action["kind"].as_str().unwrap_or(""));
        let file = match self.lines.entry(name) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(JsonlFile::open(&self.dir.join(name))?)
            }
        };
        file.append(id, action).map(|_| ())
    }
}

impl Outbox for FileOutbox {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        for action in payload["actions"].as_array().into_iter().flatten() {
            let id = action["id"].as_str().unwrap_or("unnamed");
            match action["kind"].as_str() {
                Some("email") => self.write(
                    &format!("{id}.eml"),
                    action["eml"].as_str().unwrap_or("").as_bytes(),
                )?,
                _ => self.append(id, action)?,
            }
        }
        Ok(())
    }

    /// The whole batch, then one report. Writing a send again leaves the
    /// same file (`.eml` by id) or no second line (JSON Lines by id), so
    /// marking every send in flight once, up front, is as safe as one at a
    /// time, and costs one state write per batch instead of one per send.
    fn deliver_batch(
        &mut self,
        payloads: &[serde_json::Value],
        progress: &mut dyn FnMut(Progress) -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        if payloads.is_empty() {
            return Ok(());
        }
        progress(Progress {
            starting: (0..payloads.len()).collect(),
            ended: Vec::new(),
        })?;
        let ended = payloads
            .iter()
            .enumerate()
            .map(|(index, payload)| match self.deliver(payload) {
                Ok(()) => (index, Attempt::Delivered),
                Err(error) => (index, Attempt::Retry(error.0)),
            })
            .collect();
        progress(Progress {
            starting: Vec::new(),
            ended,
        })
    }
}
