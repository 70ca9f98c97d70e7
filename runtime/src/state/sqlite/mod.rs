//! The state in one SQLite file (WAL mode; every write in a transaction).
//! Instants are stored as RFC 3339 text, which sorts in time order.

use std::collections::HashMap;
use std::path::Path;

use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    Activity, ContactState, Conversions, Coupon, Exit, FeedbackCount, Held, HeldBy, Holder,
    InDoubt, Mark, RunInfo, RunRecord, SendCount, SendKey, SendRecord, SendStatus, StateError,
    StateResult, StateStore, StoredChange, Taken, LEASE_FOR,
};
mod file_check;
mod rows;
mod schema;

use crate::vm::{Event, SentMessage};
use rows::{event, event_at, held_at, instant, sent_message, sent_message_at, to_json};

pub struct SqliteState {
    connection: Connection,
    /// No file was there: this open created a new, empty state.
    created: bool,
    /// The run lease this connection holds, and when it was last renewed.
    lease: Option<Holder>,
    renewed: std::cell::Cell<Option<std::time::Instant>>,
}

/// How often a commit renews the lease (and checks it is still this
/// run's): far inside [`LEASE_FOR`], so a live run never loses it, and
/// rarely enough to cost nothing per message (an UPDATE per commit was 4%
/// of a 1-connection SMTP run).
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

fn error(context: &str) -> impl Fn(rusqlite::Error) -> StateError + '_ {
    move |e| StateError(format!("{context}: {e}"))
}
/// Contacts per prefetch statement: well under SQLite's parameter limit.
const PREFETCH_CHUNK: usize = 500;

impl SqliteState {
    /// Opens the state file, or creates it where no file exists. A file
    /// that exists but is not a whole flowc state (empty, truncated, not
    /// SQLite, another program's database) is refused, never taken as a
    /// new state: that would send again everything it had recorded.
    pub fn open(path: &Path) -> StateResult<SqliteState> {
        let created = match std::fs::metadata(path) {
            Ok(_) => {
                file_check::whole_sqlite_file(path).map_err(|cause| {
                    StateError(format!(
                        "{} is not a usable flowc state: {cause}. Nothing was done: restore it from a backup, or move it away to start a new state (everything in the lookback would be sent again)",
                        path.display()
                    ))
                })?;
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(StateError(format!(
                    "cannot read the state file {}: {e}",
                    path.display()
                )))
            }
        };
        // A new state appears whole or not at all: a run killed while
        // creating it must not leave a file with no tables, which the next
        // run would rightly refuse.
        let created = created && create_whole(path)?;
        let connection = Connection::open(path).map_err(|e| {
            StateError(format!(
                "cannot open the state file {}: {e}",
                path.display()
            ))
        })?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;")
            .map_err(error("cannot configure the state file"))?;
        if !created {
            schema::recognise(&connection).map_err(|e| {
                StateError(format!(
                    "{} is not a flowc state file: {e}. Nothing was done",
                    path.display()
                ))
            })?;
        }
        schema::migrate(&connection).map_err(|e| {
            StateError(format!("{} is not a flowc state file: {e}", path.display()))
        })?;
        Ok(SqliteState {
            connection,
            created,
            lease: None,
            renewed: std::cell::Cell::new(None),
        })
    }

    /// Inside a transaction: extends the lease this run holds, or fails
    /// if another run took it over (this one was presumed dead). Nothing
    /// of the transaction is then committed, and nothing more delivered.
    fn renew_lease(&self) -> StateResult<()> {
        let Some(holder) = &self.lease else {
            return Ok(());
        };
        if self
            .renewed
            .get()
            .is_some_and(|at| at.elapsed() < RENEW_EVERY)
        {
            return Ok(());
        }
        let expires = Timestamp::now()
            .checked_add(LEASE_FOR)
            .unwrap_or(Timestamp::MAX);
        let renewed = self
            .connection
            .prepare_cached("UPDATE lease SET expires_at = ?1 WHERE name = 'run' AND holder = ?2")
            .and_then(|mut s| s.execute(params![expires.to_string(), holder.0]))
            .map_err(error("cannot renew the run's lease on the state"))?;
        if renewed == 0 {
            return Err(StateError(
                "another run took over this run's lease on the state (this run was presumed stopped): stopping before delivering anything more".into(),
            ));
        }
        self.renewed.set(Some(std::time::Instant::now()));
        Ok(())
    }

    /// Whether this open created the file (a new state).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Runs `query` (its `IN (?)` widened to one mark per contact of
    /// `chunk`) and hands each row, whose first column is the contact, to
    /// `add` with what is gathered for that contact (its state, or a
    /// list). One statement per chunk size is cached (a run's chunks all
    /// have one size but the last).
    fn per_contact<T: Default>(
        &self,
        query: &str,
        chunk: &[&str],
        context: &str,
        add: impl Fn(&rusqlite::Row, &mut T) -> rusqlite::Result<()>,
        found: &mut HashMap<String, T>,
    ) -> StateResult<()> {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut statement = self
            .connection
            .prepare_cached(&query.replace("IN (?)", &format!("IN ({marks})")))
            .map_err(error(context))?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(chunk))
            .map_err(error(context))?;
        while let Some(row) = rows.next().map_err(error(context))? {
            let contact: String = row.get(0).map_err(error(context))?;
            add(row, found.entry(contact).or_default()).map_err(error(context))?;
        }
        Ok(())
    }

    /// Whether any field value was ever recorded (only programs with
    /// `becomes`/`changes` triggers record them): the two queries are
    /// skipped otherwise.
    fn watches_fields(&self) -> StateResult<bool> {
        self.connection
            .query_row("SELECT EXISTS (SELECT 1 FROM fields)", [], |row| row.get(0))
            .map_err(error("cannot read the fields"))
    }

    fn mark_each(&self, marks: &[Mark<'_>], at: Timestamp) -> StateResult<()> {
        let mut statement = self
            .connection
            .prepare_cached(
                "UPDATE sends SET status = ?1, reason = ?2, updated_at = ?3,
                     attempts = attempts + (?8 IS NOT NULL), retry_at = ?8,
                     in_doubt = coalesce(in_doubt, ?9)
                 WHERE flow = ?4 AND rule = ?5 AND contact = ?6 AND occurrence = ?7",
            )
            .map_err(error("cannot update sends"))?;
        let at = at.to_string();
        for mark in marks {
            let key = mark.key;
            statement
                .execute(params![
                    mark.status.as_str(),
                    mark.reason,
                    at,
                    key.flow,
                    key.rule,
                    key.contact,
                    key.occurrence,
                    mark.retry_at.map(|t| t.to_string()),
                    mark.in_doubt.map(|why| format!("{why} (at {at})")),
                ])
                .map_err(error("cannot update a send"))?;
        }
        Ok(())
    }

    /// Whether any flow is held for any contact: the query per chunk is
    /// skipped otherwise.
    fn holds_any(&self) -> StateResult<bool> {
        self.connection
            .query_row("SELECT EXISTS (SELECT 1 FROM held)", [], |row| row.get(0))
            .map_err(error("cannot read the held flows"))
    }

    fn record_of(row: &rusqlite::Row) -> rusqlite::Result<SendRecord> {
        let status: String = row.get(8)?;
        Ok(SendRecord {
            key: SendKey {
                flow: row.get(0)?,
                rule: row.get(1)?,
                contact: row.get(2)?,
                occurrence: row.get(3)?,
            },
            due_at: instant(row.get(4)?)?,
            deadline: instant(row.get(5)?)?,
            not_before: row.get::<_, Option<String>>(6)?.map(instant).transpose()?,
            channel: row.get(7)?,
            // A status this version does not know is a damaged row, not a
            // pending send: read as pending, it would be delivered again.
            status: SendStatus::parse(&status).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    8,
                    rusqlite::types::Type::Text,
                    format!("`{status}` is not a send status").into(),
                )
            })?,
            reason: row.get(9)?,
            payload: row.get(10)?,
            attempts: row.get(11)?,
            retry_at: row.get::<_, Option<String>>(12)?.map(instant).transpose()?,
        })
    }
}

/// Creates a state with its tables under a temporary name beside `path`,
/// then links it into place, which fails if `path` exists: two runs
/// creating one state at once cannot overwrite each other. True when this
/// call created it; false when another process did first.
fn create_whole(path: &Path) -> StateResult<bool> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flow.db".into());
    let temporary = path.with_file_name(format!(".{name}.creating-{}", std::process::id()));
    let cannot = |e: &dyn std::fmt::Display| {
        StateError(format!(
            "cannot create the state file {}: {e}",
            path.display()
        ))
    };
    let _ = std::fs::remove_file(&temporary);
    {
        let connection = Connection::open(&temporary).map_err(|e| cannot(&e))?;
        // The rollback journal while it is private: nothing to checkpoint
        // at close, one file to link. WAL is set when it is opened as the
        // state.
        connection
            .execute_batch("PRAGMA synchronous = FULL;")
            .map_err(|e| cannot(&e))?;
        schema::migrate(&connection).map_err(|e| cannot(&e))?;
        connection.close().map_err(|(_, e)| cannot(&e))?;
    }
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(cannot(&e)),
    }
}

impl StateStore for SqliteState {
    fn take_lease(&mut self, holder: &Holder, at: Timestamp) -> StateResult<Taken> {
        let context = "cannot take the run's lease on the state";
        let take = || -> rusqlite::Result<Taken> {
            // IMMEDIATE: the write lock first, so two runs cannot both
            // read the lease free and both take it.
            self.connection.execute_batch("BEGIN IMMEDIATE")?;
            let found = self
                .connection
                .query_row(
                    "SELECT holder, taken_at, expires_at FROM lease WHERE name = 'run'",
                    [],
                    |row| {
                        Ok(HeldBy {
                            holder: Holder(row.get(0)?),
                            taken_at: instant(row.get(1)?)?,
                            expires_at: instant(row.get(2)?)?,
                        })
                    },
                )
                .optional()?;
            let taken = match found {
                None => Taken::Free,
                Some(held) if held.expires_at < at || held.holder.is_gone() => {
                    Taken::TakenOver(held)
                }
                Some(held) => Taken::Refused(held),
            };
            if !matches!(taken, Taken::Refused(_)) {
                let expires = at.checked_add(LEASE_FOR).unwrap_or(Timestamp::MAX);
                self.connection.execute(
                    "INSERT OR REPLACE INTO lease (name, holder, taken_at, expires_at) VALUES ('run', ?1, ?2, ?3)",
                    params![holder.0, at.to_string(), expires.to_string()],
                )?;
            }
            self.connection.execute_batch("COMMIT")?;
            Ok(taken)
        };
        let taken = take().map_err(|e| {
            let _ = self.connection.execute_batch("ROLLBACK");
            StateError(format!("{context}: {e}"))
        })?;
        if !matches!(taken, Taken::Refused(_)) {
            self.lease = Some(holder.clone());
            self.renewed.set(Some(std::time::Instant::now()));
        }
        Ok(taken)
    }

    fn release_lease(&mut self) -> StateResult<()> {
        if let Some(holder) = self.lease.take() {
            self.connection
                .execute(
                    "DELETE FROM lease WHERE name = 'run' AND holder = ?1",
                    [holder.0],
                )
                .map_err(error("cannot give back the run's lease"))?;
        }
        Ok(())
    }

    fn last_completed_run(&self) -> StateResult<Option<RunRecord>> {
        self.connection
            .query_row(
                "SELECT id, window_from, window_to, events_seen FROM runs WHERE finished_at IS NOT NULL ORDER BY window_to DESC, id DESC LIMIT 1",
                [],
                |row| {
                    Ok(RunRecord {
                        id: row.get(0)?,
                        window_from: instant(row.get(1)?)?,
                        window_to: instant(row.get(2)?)?,
                        events_seen: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(error("cannot read the last run"))
    }

    fn begin_run(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        started: Timestamp,
    ) -> StateResult<i64> {
        self.connection
            .execute(
                "INSERT INTO runs (window_from, window_to, started_at, events_seen)
                 VALUES (?1, ?2, ?3, (SELECT coalesce(max(rowid), 0) FROM events))",
                params![from.to_string(), to.to_string(), started.to_string()],
            )
            .map_err(error("cannot record the run"))?;
        Ok(self.connection.last_insert_rowid())
    }

    fn finish_run(&mut self, run: i64, finished: Timestamp, summary: &str) -> StateResult<()> {
        self.connection
            .execute(
                "UPDATE runs SET finished_at = ?1, summary = ?2 WHERE id = ?3",
                params![finished.to_string(), summary, run],
            )
            .map_err(error("cannot record the end of the run"))?;
        Ok(())
    }

    fn record(&mut self, run: i64, send: &SendRecord) -> StateResult<bool> {
        let inserted = self
            .connection
            .execute(
                "INSERT OR IGNORE INTO sends (flow, rule, contact, occurrence, due_at, deadline, not_before, channel, status, reason, payload, run_id, updated_at, message_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?5, ?13)",
                params![
                    send.key.flow,
                    send.key.rule,
                    send.key.contact,
                    send.key.occurrence,
                    send.due_at.to_string(),
                    send.deadline.to_string(),
                    send.not_before.map(|t| t.to_string()),
                    send.channel,
                    send.status.as_str(),
                    send.reason,
                    send.payload,
                    run,
                    send.key.id(),
                ],
            )
            .map_err(error("cannot record a due send"))?;
        if inserted == 1 && send.payload.contains("\"coupons\"") {
            self.record_coupons(send)?;
        }
        Ok(inserted == 1)
    }

    fn begin_group(&mut self) -> StateResult<()> {
        if self.connection.is_autocommit() {
            self.connection
                .execute_batch("BEGIN")
                .map_err(error("cannot start a group of writes"))?;
        }
        Ok(())
    }

    fn commit_group(&mut self) -> StateResult<()> {
        if !self.connection.is_autocommit() {
            if let Err(e) = self.renew_lease() {
                let _ = self.connection.execute_batch("ROLLBACK");
                return Err(e);
            }
            self.connection
                .execute_batch("COMMIT")
                .map_err(error("cannot record the sends"))?;
        }
        Ok(())
    }

    fn mark_all(&mut self, marks: &[Mark<'_>], at: Timestamp) -> StateResult<()> {
        // Inside a group the marks join it; alone, they are one transaction.
        let alone = self.connection.is_autocommit();
        if alone {
            self.connection
                .execute_batch("BEGIN")
                .map_err(error("cannot update sends"))?;
        }
        let result = self.mark_each(marks, at);
        let result = match (alone, result) {
            (true, Ok(())) => self.renew_lease(),
            (_, result) => result,
        };
        match (alone, &result) {
            (true, Ok(())) => self
                .connection
                .execute_batch("COMMIT")
                .map_err(error("cannot update sends"))?,
            (true, Err(_)) => {
                let _ = self.connection.execute_batch("ROLLBACK");
            }
            (false, _) => {}
        }
        result
    }

    fn pending(&self) -> StateResult<Vec<SendRecord>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT flow, rule, contact, occurrence, due_at, deadline, not_before, channel, status, reason, payload, attempts, retry_at
                 FROM sends WHERE status IN ('pending', 'sending') ORDER BY due_at, flow, rule, contact",
            )
            .map_err(error("cannot read pending sends"))?;
        let rows = statement
            .query_map([], SqliteState::record_of)
            .map_err(error("cannot read pending sends"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read pending sends"))
    }

    fn history(&self, contact: &str) -> StateResult<Vec<SentMessage>> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT flow, rule, occurrence, due_at, channel FROM sends
                 WHERE contact = ?1 AND +status IN ('pending', 'sending', 'delivered')",
            )
            .map_err(error("cannot read the contact's history"))?;
        let rows = statement
            .query_map([contact], sent_message)
            .map_err(error("cannot read the contact's history"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read the contact's history"))
    }

    fn counts(&self) -> StateResult<Vec<SendCount>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT flow, rule, status, CASE WHEN status = 'delivered' THEN NULL ELSE reason END AS why, COUNT(*)
                 FROM sends GROUP BY flow, rule, status, why ORDER BY flow, rule, status, why",
            )
            .map_err(error("cannot count sends"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(SendCount {
                    flow: row.get(0)?,
                    rule: row.get(1)?,
                    status: row.get(2)?,
                    reason: row.get(3)?,
                    count: row.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(error("cannot count sends"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot count sends"))
    }

    fn ingest(&mut self, contact: &str, event: &Event) -> StateResult<bool> {
        let attributes: serde_json::Map<String, serde_json::Value> = event
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect();
        let inserted = self
            .connection
            .execute(
                "INSERT OR IGNORE INTO events (id, contact, kind, at, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![event.id, contact, event.kind, event.at.to_string(), serde_json::Value::Object(attributes).to_string()],
            )
            .map_err(error("cannot record an event"))?;
        Ok(inserted == 1)
    }

    fn events(&self, contact: &str) -> StateResult<Vec<Event>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, kind, at, attributes FROM events WHERE contact = ?1")
            .map_err(error("cannot read the contact's events"))?;
        let rows = statement
            .query_map([contact], event)
            .map_err(error("cannot read the contact's events"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read the contact's events"))
    }

    fn prefetch(&self, contacts: &[&str]) -> StateResult<HashMap<String, ContactState>> {
        let mut found: HashMap<String, ContactState> = HashMap::new();
        // Each id once: a contact listed twice would have its rows twice.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&str> = contacts
            .iter()
            .copied()
            .filter(|c| seen.insert(*c))
            .collect();
        // At most PREFETCH_CHUNK parameters per statement; a statement per
        // size is cached (a run's chunks all have one size but the last).
        // Whole tables some programs never fill: asked once, not per chunk.
        let (holds_any, watches_fields) = (self.holds_any()?, self.watches_fields()?);
        for chunk in unique.chunks(PREFETCH_CHUNK) {
            // `+status`: the contact index, not the status one. With the
            // status index SQLite scanned every delivered send once per
            // chunk: a run grew with contacts times sends.
            self.per_contact(
                "SELECT contact, flow, rule, occurrence, due_at, channel FROM sends
                 WHERE contact IN (?) AND +status IN ('pending', 'sending', 'delivered')",
                chunk,
                "cannot read the contacts' history",
                |row, state| {
                    state.messages.push(sent_message_at(row, 1)?);
                    Ok(())
                },
                &mut found,
            )?;
            self.per_contact(
                "SELECT contact, id, kind, at, attributes, rowid FROM events WHERE contact IN (?)",
                chunk,
                "cannot read the contacts' events",
                |row, state| {
                    state.events.push(event_at(row, 1)?);
                    state.event_seqs.push(row.get(5)?);
                    Ok(())
                },
                &mut found,
            )?;
            self.per_contact(
                "SELECT contact, flow, at FROM exits WHERE contact IN (?)",
                chunk,
                "cannot read the contacts' exits",
                |row, state| {
                    state.exits.push((row.get(1)?, instant(row.get(2)?)?));
                    Ok(())
                },
                &mut found,
            )?;
            if holds_any {
                self.per_contact(
                    "SELECT contact, flow, since, reason FROM held WHERE contact IN (?)",
                    chunk,
                    "cannot read the contacts' held flows",
                    |row, state| {
                        state.held.push(held_at(row, 1)?);
                        Ok(())
                    },
                    &mut found,
                )?;
            }
            if !watches_fields {
                continue;
            }
            self.per_contact(
                "SELECT contact, field, value FROM fields WHERE contact IN (?)",
                chunk,
                "cannot read the contacts' fields",
                |row, state| {
                    state.fields.push((row.get(1)?, row.get(2)?));
                    Ok(())
                },
                &mut found,
            )?;
            self.per_contact(
                "SELECT contact, field, at, old, new FROM field_changes WHERE contact IN (?)",
                chunk,
                "cannot read the contacts' field changes",
                |row, state| {
                    state.changes.push(StoredChange {
                        field: row.get(1)?,
                        at: instant(row.get(2)?)?,
                        old: row.get(3)?,
                        new: row.get(4)?,
                    });
                    Ok(())
                },
                &mut found,
            )?;
        }
        Ok(found)
    }

    fn coupon(&self, code: &str) -> StateResult<Option<Coupon>> {
        self.connection
            .query_row(
                "SELECT code, contact, flow, rule, occurrence, issued_at, expires_at, redeemed_at
                 FROM coupons WHERE code = ?1",
                [code],
                coupon_row,
            )
            .optional()
            .map_err(error("cannot read the coupon"))
    }

    fn coupons(&self) -> StateResult<Vec<Coupon>> {
        self.connection
            .prepare(
                "SELECT code, contact, flow, rule, occurrence, issued_at, expires_at, redeemed_at
                 FROM coupons ORDER BY issued_at, code",
            )
            .and_then(|mut s| s.query_map([], coupon_row)?.collect())
            .map_err(error("cannot read the coupons"))
    }

    fn redeem(&mut self, code: &str, at: Timestamp) -> StateResult<bool> {
        let changed = self
            .connection
            .execute(
                "UPDATE coupons SET redeemed_at = ?2 WHERE code = ?1 AND redeemed_at IS NULL",
                params![code, at.to_string()],
            )
            .map_err(error("cannot redeem the coupon"))?;
        Ok(changed == 1)
    }

    fn own_secret(&mut self) -> StateResult<Vec<u8>> {
        let fresh = crate::keys::random_secret().map_err(|e| StateError(e.0))?;
        // Two processes creating it at once keep the first.
        self.connection
            .execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES ('links', ?1)",
                [&fresh],
            )
            .map_err(error("cannot store the state's secret"))?;
        self.connection
            .query_row(
                "SELECT value FROM secrets WHERE name = 'links'",
                [],
                |row| row.get(0),
            )
            .map_err(error("cannot read the state's secret"))
    }

    fn send_by_id(&self, id: &str) -> StateResult<Option<SendKey>> {
        self.connection
            .query_row(
                "SELECT flow, rule, contact, occurrence FROM sends WHERE message_id = ?1",
                [id],
                |row| {
                    Ok(SendKey {
                        flow: row.get(0)?,
                        rule: row.get(1)?,
                        contact: row.get(2)?,
                        occurrence: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(error("cannot look the send up"))
    }

    fn handed_over_at(&self, key: &SendKey) -> StateResult<Option<Timestamp>> {
        let at: Option<String> = self
            .connection
            .query_row(
                "SELECT updated_at FROM sends WHERE flow = ?1 AND rule = ?2 AND contact = ?3
                 AND occurrence = ?4 AND status = 'delivered'",
                params![key.flow, key.rule, key.contact, key.occurrence],
                |row| row.get(0),
            )
            .optional()
            .map_err(error("cannot read when the send was handed over"))?;
        Ok(at.and_then(|t| t.parse().ok()))
    }

    fn consent_events(&self, contacts: &[&str]) -> StateResult<HashMap<String, Vec<Event>>> {
        let mut found: HashMap<String, Vec<Event>> = HashMap::new();
        let kinds = crate::vm::consent::CONSENT_EVENTS
            .map(|kind| format!("'{kind}'"))
            .join(", ");
        let query = format!(
            "SELECT contact, id, kind, at, attributes FROM events
             WHERE contact IN (?) AND kind IN ({kinds})"
        );
        for chunk in contacts.chunks(PREFETCH_CHUNK) {
            self.per_contact(
                &query,
                chunk,
                "cannot read the contacts' unsubscriptions and bounces",
                |row, events: &mut Vec<Event>| {
                    events.push(event_at(row, 1)?);
                    Ok(())
                },
                &mut found,
            )?;
        }
        Ok(found)
    }

    fn save_field(
        &mut self,
        contact: &str,
        field: &str,
        value: &str,
        change: Option<&StoredChange>,
    ) -> StateResult<()> {
        self.connection
            .execute(
                "INSERT INTO fields (contact, field, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (contact, field) DO UPDATE SET value = excluded.value",
                params![contact, field, value],
            )
            .map_err(error("cannot record a field's value"))?;
        if let Some(change) = change {
            self.connection
                .execute(
                    "INSERT OR IGNORE INTO field_changes (contact, field, at, old, new)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        contact,
                        change.field,
                        change.at.to_string(),
                        change.old,
                        change.new
                    ],
                )
                .map_err(error("cannot record a field's change"))?;
        }
        Ok(())
    }

    fn hold(&mut self, contact: &str, held: &Held, at: Timestamp) -> StateResult<()> {
        self.connection
            .execute(
                "INSERT INTO held (contact, flow, since, reason, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (contact, flow) DO UPDATE SET
                     since = min(since, excluded.since), reason = excluded.reason, updated_at = excluded.updated_at",
                params![contact, held.flow, held.since.to_string(), held.reason, at.to_string()],
            )
            .map_err(error("cannot record a held flow"))?;
        Ok(())
    }

    fn release(&mut self, contact: &str, flow: &str) -> StateResult<()> {
        self.connection
            .execute(
                "DELETE FROM held WHERE contact = ?1 AND flow = ?2",
                params![contact, flow],
            )
            .map_err(error("cannot release a held flow"))?;
        Ok(())
    }

    fn holds(&self) -> StateResult<Vec<(String, Held)>> {
        let mut statement = self
            .connection
            .prepare("SELECT contact, flow, since, reason FROM held ORDER BY contact, flow")
            .map_err(error("cannot read the held flows"))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, held_at(row, 1)?)))
            .map_err(error("cannot read the held flows"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read the held flows"))
    }

    fn active_contacts(
        &self,
        activity: &Activity,
        found: &mut dyn FnMut(&str),
    ) -> StateResult<bool> {
        let context = "cannot read which contacts are active";
        let mut each = |query: &str, params: &[&dyn rusqlite::ToSql]| -> StateResult<()> {
            let mut statement = self
                .connection
                .prepare_cached(query)
                .map_err(error(context))?;
            let mut rows = statement.query(params).map_err(error(context))?;
            while let Some(row) = rows.next().map_err(error(context))? {
                found(
                    row.get_ref(0)
                        .map_err(error(context))?
                        .as_str()
                        .unwrap_or_default(),
                );
            }
            Ok(())
        };
        if let Some((from, to)) = activity.sends {
            each(
                "SELECT DISTINCT contact FROM sends
                 WHERE due_at >= ?1 AND due_at <= ?2 AND status IN ('pending', 'sending', 'delivered')",
                &[&from.to_string(), &to.to_string()],
            )?;
        }
        for (kind, from, to) in &activity.events {
            each(
                "SELECT DISTINCT contact FROM events WHERE kind = ?1 AND at >= ?2 AND at <= ?3",
                &[kind, &from.to_string(), &to.to_string()],
            )?;
        }
        if let Some(seen) = activity.events_after {
            each(
                "SELECT DISTINCT contact FROM events WHERE rowid > ?1",
                &[&seen],
            )?;
        }
        each("SELECT DISTINCT contact FROM held", &[])?;
        Ok(true)
    }

    fn record_exit(&mut self, exit: &Exit) -> StateResult<()> {
        self.connection
            .prepare_cached(
                "INSERT OR IGNORE INTO exits (contact, flow, rule, occurrence, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    exit.contact,
                    exit.flow,
                    exit.rule,
                    exit.occurrence,
                    exit.at.to_string()
                ])
            })
            .map_err(error("cannot record an exit"))?;
        Ok(())
    }

    fn exits_of(&self, contacts: &[&str]) -> StateResult<Vec<Exit>> {
        let mut found: HashMap<String, Vec<Exit>> = HashMap::new();
        for chunk in contacts.chunks(PREFETCH_CHUNK) {
            self.per_contact(
                "SELECT contact, flow, rule, occurrence, at FROM exits WHERE contact IN (?)",
                chunk,
                "cannot read the exits",
                |row, exits: &mut Vec<Exit>| {
                    exits.push(Exit {
                        contact: row.get(0)?,
                        flow: row.get(1)?,
                        rule: row.get(2)?,
                        occurrence: row.get(3)?,
                        at: instant(row.get(4)?)?,
                    });
                    Ok(())
                },
                &mut found,
            )?;
        }
        Ok(found.into_values().flatten().collect())
    }

    fn in_doubt(&self) -> StateResult<Vec<InDoubt>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT flow, rule, contact, occurrence, in_doubt, status, updated_at FROM sends
                 WHERE in_doubt IS NOT NULL AND acknowledged_at IS NULL
                 ORDER BY due_at, flow, rule, contact",
            )
            .map_err(error("cannot read the sends in doubt"))?;
        let rows = statement
            .query_map([], |row| {
                let key = SendKey {
                    flow: row.get(0)?,
                    rule: row.get(1)?,
                    contact: row.get(2)?,
                    occurrence: row.get(3)?,
                };
                Ok(InDoubt {
                    message_id: format!("<{}@flowc>", key.id()),
                    flow: key.flow,
                    rule: key.rule,
                    contact: key.contact,
                    occurrence: key.occurrence,
                    reason: row.get(4)?,
                    status: row.get(5)?,
                    since: row.get(6)?,
                })
            })
            .map_err(error("cannot read the sends in doubt"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read the sends in doubt"))
    }

    fn acknowledge(&mut self, ids: Option<&[String]>, at: Timestamp) -> StateResult<u64> {
        let wanted: Option<std::collections::HashSet<String>> = ids.map(|ids| {
            ids.iter()
                .map(|id| {
                    id.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .trim_end_matches("@flowc")
                        .to_string()
                })
                .collect()
        });
        let context = "cannot acknowledge the sends in doubt";
        let Some(wanted) = wanted else {
            return self
                .connection
                .execute(
                    "UPDATE sends SET acknowledged_at = ?1
                     WHERE in_doubt IS NOT NULL AND acknowledged_at IS NULL",
                    [at.to_string()],
                )
                .map(|n| n as u64)
                .map_err(error(context));
        };
        // The Message-ID is a hash of the key: the keys in doubt are
        // matched here, then acknowledged together in one transaction.
        let chosen: Vec<InDoubt> = self
            .in_doubt()?
            .into_iter()
            .filter(|d| {
                wanted.contains(
                    d.message_id
                        .trim_start_matches('<')
                        .trim_end_matches("@flowc>"),
                )
            })
            .collect();
        let transaction = self.connection.transaction().map_err(error(context))?;
        for doubt in &chosen {
            transaction
                .execute(
                    "UPDATE sends SET acknowledged_at = ?1
                     WHERE flow = ?2 AND rule = ?3 AND contact = ?4 AND occurrence = ?5",
                    params![
                        at.to_string(),
                        doubt.flow,
                        doubt.rule,
                        doubt.contact,
                        doubt.occurrence
                    ],
                )
                .map_err(error(context))?;
        }
        transaction.commit().map_err(error(context))?;
        Ok(chosen.len() as u64)
    }

    fn feedback_counts(&self) -> StateResult<Vec<FeedbackCount>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT json_extract(attributes, '$.flow') AS flow, kind,
                        CASE kind
                          WHEN 'clicked' THEN json_extract(attributes, '$.link')
                          WHEN 'opened' THEN CASE WHEN json_extract(attributes, '$.machine')
                                                  THEN 'machine' ELSE 'human' END
                        END AS detail,
                        COUNT(*)
                 FROM events
                 WHERE kind IN ('opened', 'clicked', 'redeemed', 'unsubscribed', 'bounced', 'complained')
                   AND flow IS NOT NULL
                 GROUP BY flow, kind, detail ORDER BY flow, kind, detail",
            )
            .map_err(error("cannot count feedback"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(FeedbackCount {
                    flow: row.get(0)?,
                    kind: row.get(1)?,
                    detail: row.get(2)?,
                    count: row.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(error("cannot count feedback"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot count feedback"))
    }

    fn conversions(
        &self,
        event: &str,
        amount: Option<&str>,
        window: i64,
    ) -> StateResult<Vec<Conversions>> {
        let failed = error("cannot attribute conversions");
        // The conversions, by contact (fewer than the sends), then one
        // pass over the delivered messages: each conversion keeps the
        // latest message before it within the window (last touch).
        struct Conversion {
            at: Timestamp,
            amount: f64,
            touch: Option<(Timestamp, String)>,
        }
        let mut by_contact: HashMap<String, Vec<Conversion>> = HashMap::new();
        let path = format!("$.\"{}\"", amount.unwrap_or("").replace('"', ""));
        let mut statement = self
            .connection
            .prepare("SELECT contact, at, json_extract(attributes, ?2) FROM events WHERE kind = ?1")
            .map_err(&failed)?;
        let mut rows = statement.query(params![event, path]).map_err(&failed)?;
        while let Some(row) = rows.next().map_err(&failed)? {
            let Some(at) = row.get::<_, String>(1).ok().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let amount = if amount.is_some() {
                row.get::<_, Option<f64>>(2).ok().flatten().unwrap_or(0.0)
            } else {
                0.0
            };
            by_contact
                .entry(row.get(0).map_err(&failed)?)
                .or_default()
                .push(Conversion {
                    at,
                    amount,
                    touch: None,
                });
        }
        let window = jiff::SignedDuration::from_secs(window);
        let mut statement = self
            .connection
            .prepare(
                "SELECT contact, flow, updated_at FROM sends
                 WHERE status = 'delivered' AND channel IS NOT NULL",
            )
            .map_err(&failed)?;
        let mut rows = statement.query([]).map_err(&failed)?;
        while let Some(row) = rows.next().map_err(&failed)? {
            let contact: String = row.get(0).map_err(&failed)?;
            let Some(conversions) = by_contact.get_mut(&contact) else {
                continue;
            };
            let Some(sent) = row
                .get::<_, String>(2)
                .ok()
                .and_then(|t| t.parse::<Timestamp>().ok())
            else {
                continue;
            };
            let flow: String = row.get(1).map_err(&failed)?;
            for c in conversions.iter_mut() {
                let within = sent <= c.at && c.at.duration_since(sent) <= window;
                if within && c.touch.as_ref().is_none_or(|(t, _)| sent > *t) {
                    c.touch = Some((sent, flow.clone()));
                }
            }
        }
        let mut per_flow: std::collections::BTreeMap<String, (u64, f64)> = Default::default();
        for c in by_contact.values().flatten() {
            if let Some((_, flow)) = &c.touch {
                let entry = per_flow.entry(flow.clone()).or_default();
                entry.0 += 1;
                entry.1 += c.amount;
            }
        }
        Ok(per_flow
            .into_iter()
            .map(|(flow, (count, revenue))| Conversions {
                flow,
                count,
                revenue,
            })
            .collect())
    }

    fn runs(&self, limit: u32) -> StateResult<Vec<RunInfo>> {
        let mut statement = self
            .connection
            .prepare("SELECT id, window_from, window_to, started_at, finished_at, summary FROM runs ORDER BY id DESC LIMIT ?1")
            .map_err(error("cannot read the runs"))?;
        let rows = statement
            .query_map([limit], |row| {
                Ok(RunInfo {
                    id: row.get(0)?,
                    window_from: row.get(1)?,
                    window_to: row.get(2)?,
                    started_at: row.get(3)?,
                    finished_at: row.get(4)?,
                    summary: row
                        .get::<_, Option<String>>(5)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                })
            })
            .map_err(error("cannot read the runs"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(error("cannot read the runs"))
    }
}

/// A row of `coupons`.
fn coupon_row(row: &rusqlite::Row) -> rusqlite::Result<Coupon> {
    let time = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row
            .get::<_, Option<String>>(i)?
            .and_then(|t| t.parse().ok()))
    };
    Ok(Coupon {
        code: row.get(0)?,
        key: SendKey {
            contact: row.get(1)?,
            flow: row.get(2)?,
            rule: row.get(3)?,
            occurrence: row.get(4)?,
        },
        issued_at: time(5)?.unwrap_or(Timestamp::UNIX_EPOCH),
        expires_at: time(6)?,
        redeemed_at: time(7)?,
    })
}

impl SqliteState {
    /// Stores the coupons a recorded send issues (its payload lists them).
    fn record_coupons(&mut self, send: &SendRecord) -> StateResult<()> {
        let payload: serde_json::Value = serde_json::from_str(&send.payload)
            .map_err(|e| StateError(format!("a send's payload is not JSON: {e}")))?;
        for coupon in payload["coupons"].as_array().into_iter().flatten() {
            let Some(code) = coupon["code"].as_str() else {
                continue;
            };
            self.connection
                .execute(
                    "INSERT OR IGNORE INTO coupons (code, contact, flow, rule, occurrence, issued_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        code,
                        send.key.contact,
                        send.key.flow,
                        send.key.rule,
                        send.key.occurrence,
                        send.due_at.to_string(),
                        coupon["expires"].as_str(),
                    ],
                )
                .map_err(error("cannot record a coupon"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod prefetch_tests {
    use super::*;
    use crate::vm::Value;

    fn record(state: &mut SqliteState, run: i64, contact: &str, rule: &str, status: SendStatus) {
        let at: Timestamp = "2027-03-01T08:00:00Z".parse().unwrap();
        let send = SendRecord {
            key: SendKey {
                flow: "f".into(),
                rule: rule.into(),
                contact: contact.into(),
                occurrence: "birthday/2027".into(),
            },
            due_at: at,
            deadline: at,
            not_before: None,
            channel: Some("email".into()),
            status,
            reason: None,
            payload: String::new(),
            attempts: 0,
            retry_at: None,
        };
        assert!(state.record(run, &send).unwrap());
    }

    #[test]
    fn prefetch_reads_what_history_and_events_read_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = SqliteState::open(&dir.path().join("flow.db")).unwrap();
        let at: Timestamp = "2027-03-01T08:00:00Z".parse().unwrap();
        let run = state.begin_run(at, at, at).unwrap();
        record(&mut state, run, "a", "offer", SendStatus::Delivered);
        record(&mut state, run, "a", "reminder", SendStatus::Skipped);
        record(&mut state, run, "b", "offer", SendStatus::Pending);
        let mut opened = Event::new("e1", "opened", at);
        opened
            .attributes
            .insert("flow".into(), Value::Text("f".into()));
        state.ingest("b", &opened).unwrap();
        state.ingest("c", &Event::new("e2", "visit", at)).unwrap();
        // More contacts than one statement takes.
        let many: Vec<String> = (0..PREFETCH_CHUNK + 7).map(|i| format!("x{i}")).collect();
        let mut ids: Vec<&str> = vec!["a", "b", "c", "nobody"];
        ids.extend(many.iter().map(String::as_str));
        ids.push("b");
        let found = state.prefetch(&ids).unwrap();
        for id in ["a", "b", "c", "nobody"] {
            let one = found.get(id).cloned().unwrap_or_default();
            assert_eq!(one.messages, state.history(id).unwrap(), "{id}");
            assert_eq!(one.events, state.events(id).unwrap(), "{id}");
        }
        assert_eq!(
            found["a"].messages.len(),
            1,
            "skipped sends are not history"
        );
        assert_eq!(found["b"].events.len(), 1);
    }

    #[test]
    fn a_damaged_row_is_an_error_not_an_empty_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = SqliteState::open(&dir.path().join("flow.db")).unwrap();
        let at: Timestamp = "2027-03-01T08:00:00Z".parse().unwrap();
        let run = state.begin_run(at, at, at).unwrap();
        record(&mut state, run, "a", "offer", SendStatus::Pending);
        let unsubscribe =
            Event::new("u", "unsubscribed", at).with("channel", Value::Text("sms".into()));
        state.ingest("a", &unsubscribe).unwrap();
        assert_eq!(state.events("a").unwrap(), [unsubscribe]);
        // Attributes that no longer read: an error naming the column, not
        // an unsubscribe from every channel.
        state
            .connection
            .execute("UPDATE events SET attributes = '{\"channel\": '", [])
            .unwrap();
        let error = state.events("a").unwrap_err().0;
        assert!(error.contains("not a JSON object"), "{error}");
        // A status this version does not know is never read as pending.
        state
            .connection
            .execute("UPDATE sends SET status = 'sending?'", [])
            .unwrap();
        assert_eq!(state.pending().unwrap(), []);
        state
            .connection
            .execute("UPDATE sends SET status = 'pending'", [])
            .unwrap();
        assert_eq!(state.pending().unwrap().len(), 1);
    }
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    #[test]
    fn a_run_whose_lease_was_taken_over_commits_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = SqliteState::open(&dir.path().join("flow.db")).unwrap();
        let me = Holder("here/1/1/mine".into());
        assert_eq!(
            state.take_lease(&me, Timestamp::now()).unwrap(),
            Taken::Free
        );
        // A second run, elsewhere, took it over after it expired.
        state
            .connection
            .execute("UPDATE lease SET holder = 'elsewhere/2/2/theirs'", [])
            .unwrap();
        // Within the renewal period nothing is asked; past it, the next
        // commit finds the lease gone and commits nothing.
        state.renewed.set(None);
        state.begin_group().unwrap();
        state
            .connection
            .execute(
                "INSERT INTO runs (window_from, window_to, started_at) VALUES ('a', 'b', 'c')",
                [],
            )
            .unwrap();
        let error = state.commit_group().unwrap_err();
        assert!(error.0.contains("took over this run's lease"), "{error}");
        let runs: i64 = state
            .connection
            .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
            .unwrap();
        assert_eq!(runs, 0);
    }
}

#[cfg(test)]
mod creation_tests {
    use super::*;

    #[test]
    fn a_new_state_appears_whole_and_never_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flow.db");
        assert!(create_whole(&path).unwrap());
        // Another run got there first: this one opens what it made.
        assert!(!create_whole(&path).unwrap());
        let state = SqliteState::open(&path).unwrap();
        assert!(!state.created());
        assert!(state.pending().unwrap().is_empty());
        // No temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("creating"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
