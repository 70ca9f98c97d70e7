//! The tables of the state file, and how a file written by an older flowc
//! is brought up to date (never by dropping what it holds).

use rusqlite::Connection;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS sends (
    flow TEXT NOT NULL,
    rule TEXT NOT NULL,
    contact TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    due_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    not_before TEXT,
    channel TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    payload TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (flow, rule, contact, occurrence)
);
CREATE INDEX IF NOT EXISTS sends_by_contact ON sends (contact);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    contact TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_contact ON events (contact);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, at);
CREATE INDEX IF NOT EXISTS sends_by_status ON sends (status);
CREATE INDEX IF NOT EXISTS sends_by_due ON sends (due_at);
CREATE TABLE IF NOT EXISTS fields (
    contact TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (contact, field)
);
CREATE TABLE IF NOT EXISTS field_changes (
    contact TEXT NOT NULL,
    field TEXT NOT NULL,
    at TEXT NOT NULL,
    old TEXT NOT NULL,
    new TEXT NOT NULL,
    PRIMARY KEY (contact, field, at)
);
CREATE TABLE IF NOT EXISTS exits (
    contact TEXT NOT NULL,
    flow TEXT NOT NULL,
    rule TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (contact, flow, rule, occurrence)
);
CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS coupons (
    code TEXT PRIMARY KEY,
    contact TEXT NOT NULL,
    flow TEXT NOT NULL,
    rule TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT,
    redeemed_at TEXT
);
CREATE INDEX IF NOT EXISTS coupons_by_contact ON coupons (contact);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS held (
    contact TEXT NOT NULL,
    flow TEXT NOT NULL,
    since TEXT NOT NULL,
    reason TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (contact, flow)
);
";

/// The schema version this flowc writes (`PRAGMA user_version`).
pub const VERSION: i64 = 7;

/// Columns added since the first state files, with their definitions: a
/// file that lacks one gets it, with its default, and keeps every row.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // Failed delivery attempts so far, and when the next may start.
    ("sends", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("sends", "retry_at", "TEXT"),
    // How many events the state held when the run began (max rowid).
    ("runs", "events_seen", "INTEGER"),
    // Why the send's outcome is unknown (the server may hold a copy), and
    // when an operator acknowledged it (format 5).
    ("sends", "in_doubt", "TEXT"),
    ("sends", "acknowledged_at", "TEXT"),
    // The send's id (`SendKey::id`), which link tokens and Message-IDs
    // carry: `flowc serve` finds the send by it (format 7).
    ("sends", "message_id", "TEXT"),
];

/// Checks that an existing file is a flowc state: it carries a format
/// version, or (written before versions) the send log. SQLite reads a
/// damaged page only when a query reaches it; asking for the schema reads
/// the first pages, and a file cut short fails here.
pub fn recognise(connection: &Connection) -> Result<(), String> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| e.to_string())?;
    // A newer flowc's file is refused by `migrate`, which says so.
    if tables.iter().any(|t| t == "sends") || version > VERSION {
        return Ok(());
    }
    match (version, tables.is_empty()) {
        (0, true) => Err("it is an empty SQLite database, with no flowc tables".into()),
        (0, false) => Err(format!(
            "it is another program's SQLite database (tables: {})",
            tables.join(", ")
        )),
        _ => Err(format!(
            "it has format version {version} but no send log: it was damaged"
        )),
    }
}

/// Creates the tables of a new file, or brings an older file up to
/// [`VERSION`] in one transaction. A file from a newer flowc is refused:
/// this one would not know what its rows mean.
pub fn migrate(connection: &Connection) -> Result<(), String> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if version > VERSION {
        return Err(format!(
            "it was written by a newer flowc (state format {version}; this flowc knows up to {VERSION})"
        ));
    }
    if version == VERSION {
        return Ok(());
    }
    let apply = || -> rusqlite::Result<()> {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        connection.execute_batch(SCHEMA)?;
        for (table, column, definition) in ADDED_COLUMNS {
            let present: bool = connection.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1)"
                ),
                [column],
                |row| row.get(0),
            )?;
            if !present {
                connection.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                ))?;
            }
        }
        backfill_message_ids(connection)?;
        connection.execute_batch(
            "CREATE INDEX IF NOT EXISTS sends_by_message_id ON sends (message_id)",
        )?;
        connection.execute_batch(&format!("PRAGMA user_version = {VERSION}; COMMIT"))
    };
    apply().map_err(|e| {
        let _ = connection.execute_batch("ROLLBACK");
        e.to_string()
    })
}

/// Sends recorded before format 7 get their id, computed as a run does.
fn backfill_message_ids(connection: &Connection) -> rusqlite::Result<()> {
    let keys: Vec<(i64, crate::state::SendKey)> = connection
        .prepare(
            "SELECT rowid, flow, rule, contact, occurrence FROM sends WHERE message_id IS NULL",
        )?
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                crate::state::SendKey {
                    flow: row.get(1)?,
                    rule: row.get(2)?,
                    contact: row.get(3)?,
                    occurrence: row.get(4)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = connection.prepare("UPDATE sends SET message_id = ?1 WHERE rowid = ?2")?;
    for (rowid, key) in keys {
        update.execute(rusqlite::params![key.id(), rowid])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{SqliteState, StateStore};

    /// The `sends` table as the first flowc wrote it (state format 0).
    const FIRST_SENDS: &str = "
        CREATE TABLE sends (
            flow TEXT NOT NULL, rule TEXT NOT NULL, contact TEXT NOT NULL,
            occurrence TEXT NOT NULL, due_at TEXT NOT NULL, deadline TEXT NOT NULL,
            not_before TEXT, channel TEXT, status TEXT NOT NULL, reason TEXT,
            payload TEXT NOT NULL, run_id INTEGER NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (flow, rule, contact, occurrence)
        );
        INSERT INTO sends VALUES ('birthday', 'offer', 'c001', 'birthday/2027',
            '2027-05-31T06:00:00Z', '2027-05-31T21:59:59Z', NULL, 'email', 'pending',
            'connection refused', '{}', 1, '2027-05-31T06:00:00Z');";

    #[test]
    fn an_older_state_file_is_brought_up_to_date_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flow.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(FIRST_SENDS)
            .unwrap();
        let state = SqliteState::open(&path).unwrap();
        let pending = state.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].reason.as_deref(), Some("connection refused"));
        assert_eq!((pending[0].attempts, pending[0].retry_at), (0, None));
        assert!(state.holds().unwrap().is_empty());
        drop(state);
        // Opening it again changes nothing.
        let state = SqliteState::open(&path).unwrap();
        assert_eq!(state.pending().unwrap().len(), 1);
    }

    #[test]
    fn a_state_file_of_a_newer_flowc_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flow.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("PRAGMA user_version = {}", VERSION + 1))
            .unwrap();
        let error = SqliteState::open(&path).err().expect("refused").0;
        assert!(error.contains("written by a newer flowc"), "{error}");
    }
}
