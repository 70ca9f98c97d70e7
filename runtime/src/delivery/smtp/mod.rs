//! E-mail over SMTP: a pool of nodelay connections (`pool.rs`), each
//! protected and logged in as configured (`connect.rs`), delivering a batch
//! with at most N messages in flight. The caller learns of each send just
//! before it starts and as soon as the server answered it, so it can keep
//! its record exact. Other actions (SMS, push, tasks, webhooks) go to the
//! folder outbox once the send's e-mails are accepted.

mod connect;
mod pool;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;

pub use connect::{SmtpSettings, TlsMode, TIMEOUT as SMTP_TIMEOUT};

use self::connect::Connector;
use self::pool::{Job, Mail, Served};
use super::{Attempt, DeliveryError, Outbox, Progress};

pub struct SmtpOutbox {
    runtime: tokio::runtime::Runtime,
    connector: Arc<Connector>,
    size: usize,
    idle: Vec<AsyncSmtpConnection>,
    /// Why no connection could be made earlier in this run: later batches
    /// wait for the next run instead of timing out again.
    down: Option<String>,
    /// Where the other actions of a send go (the folder outbox by default).
    others: Box<dyn Outbox>,
}

impl SmtpOutbox {
    /// Checks the settings (address, TLS, CA file); connects only when a
    /// message goes.
    pub fn new(
        settings: &SmtpSettings,
        others: Box<dyn Outbox>,
    ) -> Result<SmtpOutbox, DeliveryError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DeliveryError(format!("cannot start the SMTP client: {e}")))?;
        Ok(SmtpOutbox {
            runtime,
            connector: Arc::new(Connector::new(settings)?),
            size: settings.connections.clamp(1, 64),
            idle: Vec::new(),
            down: None,
            others,
        })
    }

    /// How the connections are protected (after the loopback default).
    pub fn tls(&self) -> TlsMode {
        self.connector.mode()
    }

    /// Runs the pool over `jobs`, `progress` told before each starts and as
    /// each ends (`ended` first: the sends settled without SMTP). Jobs the
    /// pool could not attempt end as retries, with the reason.
    fn run_pool(
        &mut self,
        mut jobs: std::collections::VecDeque<Job>,
        mut ended: Vec<(usize, Attempt)>,
        others: &mut [Vec<serde_json::Value>],
        progress: &mut dyn FnMut(Progress) -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        let (job_sender, job_receiver) = tokio::sync::mpsc::unbounded_channel();
        let (result_sender, results) = std::sync::mpsc::channel();
        let idle = std::mem::take(&mut self.idle);
        let (connector, size, runtime) = (Arc::clone(&self.connector), self.size, &self.runtime);
        let folder = &mut self.others;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_workers = Arc::clone(&stop);
        let mut in_flight: HashSet<usize> = HashSet::new();
        let mut stopped: Option<DeliveryError> = None;
        let served = std::thread::scope(|scope| {
            let pool = scope.spawn(move || {
                runtime.block_on(pool::serve(
                    connector,
                    idle,
                    size,
                    job_receiver,
                    result_sender,
                    stop_workers,
                ))
            });
            let mut answers: Vec<(usize, Attempt)> = Vec::new();
            loop {
                // Those answered: their other actions, then their record.
                for (index, attempt) in answers.drain(..) {
                    in_flight.remove(&index);
                    let rest = others
                        .get_mut(index)
                        .map(std::mem::take)
                        .unwrap_or_default();
                    let attempt = match attempt {
                        Attempt::Delivered if !rest.is_empty() => {
                            match folder.deliver(&serde_json::json!({ "actions": rest })) {
                                Ok(()) => Attempt::Delivered,
                                Err(error) => Attempt::Retry(error.0),
                            }
                        }
                        attempt => attempt,
                    };
                    ended.push((index, attempt));
                }
                // As many new ones as answers came (all connections at first).
                let room = size.saturating_sub(in_flight.len()).min(jobs.len());
                let starting: Vec<Job> = jobs.drain(..room).collect();
                if starting.is_empty() && ended.is_empty() && in_flight.is_empty() {
                    break;
                }
                let report = Progress {
                    starting: starting.iter().map(|job| job.index).collect(),
                    ended: std::mem::take(&mut ended),
                };
                if let Err(error) = progress(report) {
                    // Nothing more starts: what is queued is not sent.
                    stop.store(true, Ordering::SeqCst);
                    stopped = Some(error);
                    break;
                }
                for job in starting {
                    in_flight.insert(job.index);
                    // A closed queue means the pool is gone; the answer
                    // loop below notices it.
                    let _ = job_sender.send(job);
                }
                if in_flight.is_empty() {
                    continue;
                }
                match results.recv() {
                    Ok(first) => {
                        answers.push(first);
                        answers.extend(results.try_iter());
                    }
                    Err(_) => break,
                }
            }
            drop(job_sender);
            pool.join().unwrap_or_else(|_| Served {
                idle: Vec::new(),
                connect_error: Some("the SMTP client stopped unexpectedly".into()),
            })
        });
        if let Some(error) = stopped {
            self.idle = served.idle;
            return Err(error);
        }
        // The pool is gone (no worker could connect): what it did not
        // answer, and what never started, waits for the next run.
        let reason = served
            .connect_error
            .clone()
            .unwrap_or_else(|| "the SMTP client stopped".into());
        if served.idle.is_empty() && served.connect_error.is_some() {
            self.down = Some(reason.clone());
        }
        self.idle = served.idle;
        let unanswered: Vec<(usize, Attempt)> = in_flight
            .into_iter()
            .chain(jobs.into_iter().map(|job| job.index))
            .map(|index| (index, Attempt::Retry(reason.clone())))
            .collect();
        if unanswered.is_empty() {
            return Ok(());
        }
        progress(Progress {
            starting: Vec::new(),
            ended: unanswered,
        })
    }
}

/// The e-mails of a payload as SMTP jobs, and its other actions.
fn split(payload: &serde_json::Value) -> Result<(Vec<Mail>, Vec<serde_json::Value>), String> {
    let mut mails = Vec::new();
    let mut others = Vec::new();
    for action in payload["actions"].as_array().into_iter().flatten() {
        if action["kind"] != "email" {
            others.push(action.clone());
            continue;
        }
        let parse = |key: &str| {
            action[key]
                .as_str()
                .unwrap_or("")
                .parse::<lettre::Address>()
                .map_err(|e| format!("{key}: {e}"))
        };
        let envelope = Envelope::new(Some(parse("envelope_from")?), vec![parse("envelope_to")?])
            .map_err(|e| format!("no envelope: {e}"))?;
        let bytes = action["eml"].as_str().unwrap_or("").as_bytes().to_vec();
        mails.push(Mail { envelope, bytes });
    }
    Ok((mails, others))
}

impl Outbox for SmtpOutbox {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        let mut outcome = Attempt::Retry("not attempted".into());
        self.deliver_batch(std::slice::from_ref(payload), &mut |progress| {
            if let Some((_, attempt)) = progress.ended.into_iter().next() {
                outcome = attempt;
            }
            Ok(())
        })?;
        match outcome {
            Attempt::Delivered => Ok(()),
            Attempt::Retry(reason) | Attempt::Rejected(reason) | Attempt::InDoubt(reason) => {
                Err(DeliveryError(reason))
            }
        }
    }

    fn deliver_batch(
        &mut self,
        payloads: &[serde_json::Value],
        progress: &mut dyn FnMut(Progress) -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        let mut jobs = std::collections::VecDeque::new();
        let mut others = vec![Vec::new(); payloads.len()];
        let mut ended = Vec::new();
        for (index, payload) in payloads.iter().enumerate() {
            match split(payload) {
                Err(reason) => ended.push((index, Attempt::Retry(reason))),
                // Nothing for SMTP: the folder takes it now (idempotent).
                Ok((mails, rest)) if mails.is_empty() => {
                    let attempt = match self.others.deliver(&serde_json::json!({ "actions": rest }))
                    {
                        Ok(()) => Attempt::Delivered,
                        Err(error) => Attempt::Retry(error.0),
                    };
                    ended.push((index, attempt));
                }
                Ok((mails, rest)) => {
                    others[index] = rest;
                    jobs.push_back(Job { index, mails });
                }
            }
        }
        if let Some(reason) = &self.down {
            let reason = format!("{reason} (earlier in this run)");
            ended.extend(
                jobs.iter()
                    .map(|job| (job.index, Attempt::Retry(reason.clone()))),
            );
            jobs.clear();
        }
        if jobs.is_empty() {
            if ended.is_empty() {
                return Ok(());
            }
            return progress(Progress {
                starting: Vec::new(),
                ended,
            });
        }
        self.run_pool(jobs, ended, &mut others, progress)
    }
}

impl Drop for SmtpOutbox {
    /// Says QUIT on the connections still open, briefly.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.idle);
        self.runtime.block_on(async {
            for mut connection in idle {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), connection.quit())
                    .await;
            }
        });
    }
}
