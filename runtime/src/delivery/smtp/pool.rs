//! N workers, each with its own connection, taking jobs from one queue: at
//! most N messages in flight, each connection reused until it breaks, a
//! broken one replaced by the next job. A worker that cannot connect
//! reports its job and stops; when the last one stops the pool is gone and
//! the batch's caller learns why from [`Served::connect_error`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::sync::{mpsc, Mutex};

use super::connect::{Connector, TIMEOUT};
use crate::delivery::Attempt;

/// One e-mail of a send: the SMTP envelope and the message bytes.
pub(super) struct Mail {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

/// The e-mails of one send, by its index in the batch.
pub(super) struct Job {
    pub index: usize,
    pub mails: Vec<Mail>,
}

/// What is left when the queue closes.
pub(super) struct Served {
    /// Live connections, for the next batch.
    pub idle: Vec<AsyncSmtpConnection>,
    /// Why the last worker that could not connect could not.
    pub connect_error: Option<String>,
}

type Results = std::sync::mpsc::Sender<(usize, Attempt)>;

/// Runs `size` workers until `jobs` closes (or every worker failed to
/// connect), sending each job's outcome to `results` as soon as it is known.
pub(super) async fn serve(
    connector: Arc<Connector>,
    mut idle: Vec<AsyncSmtpConnection>,
    size: usize,
    jobs: mpsc::UnboundedReceiver<Job>,
    results: Results,
    stop: Arc<AtomicBool>,
) -> Served {
    let jobs = Arc::new(Mutex::new(jobs));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..size.max(1) {
        workers.spawn(work(
            Arc::clone(&connector),
            idle.pop(),
            Arc::clone(&jobs),
            results.clone(),
            Arc::clone(&stop),
        ));
    }
    drop(results);
    let mut served = Served {
        idle: Vec::new(),
        connect_error: None,
    };
    while let Some(ended) = workers.join_next().await {
        match ended {
            Ok((connection, error)) => {
                served.idle.extend(connection);
                if error.is_some() {
                    served.connect_error = error;
                }
            }
            Err(panic) => served.connect_error = Some(format!("an SMTP worker stopped: {panic}")),
        }
    }
    served
}

/// One worker: its connection and the jobs it takes. Returns the connection
/// still usable, or the reason it could not connect.
async fn work(
    connector: Arc<Connector>,
    mut connection: Option<AsyncSmtpConnection>,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    results: Results,
    stop: Arc<AtomicBool>,
) -> (Option<AsyncSmtpConnection>, Option<String>) {
    loop {
        let job = jobs.lock().await.recv().await;
        let Some(job) = job else {
            return (connection, None);
        };
        // The caller could not record what it started: start nothing more.
        if stop.load(Ordering::SeqCst) {
            continue;
        }
        let live = match connection.take().filter(|c| !c.has_broken()) {
            Some(live) => live,
            None => match connector.connect().await {
                Ok(fresh) => fresh,
                Err(error) => {
                    let _ = results.send((job.index, Attempt::Retry(error.0.clone())));
                    return (None, Some(error.0));
                }
            },
        };
        let (attempt, live) = send(&connector, live, &job.mails).await;
        connection = live;
        if results.send((job.index, attempt)).is_err() {
            return (connection, None);
        }
    }
}

/// Sends the mails of one job in order; the connection comes back unless
/// it timed out (a late answer would belong to the wrong message).
async fn send(
    connector: &Connector,
    mut connection: AsyncSmtpConnection,
    mails: &[Mail],
) -> (Attempt, Option<AsyncSmtpConnection>) {
    for mail in mails {
        match tokio::time::timeout(TIMEOUT, connection.send(&mail.envelope, &mail.bytes)).await {
            Err(_) => {
                let reason = format!(
                    "the SMTP server at {} did not answer in {} s",
                    connector.address,
                    TIMEOUT.as_secs()
                );
                return (Attempt::Retry(reason), None);
            }
            Ok(Err(error)) => {
                // With a reply code the server said no; without one the
                // connection failed before it said yes (not delivered).
                let what = if error.status().is_some() {
                    "refused the message"
                } else {
                    "did not confirm the message"
                };
                let reason = connector.redact(format!(
                    "the SMTP server at {} {what}: {error}",
                    connector.address
                ));
                let attempt = if error.is_permanent() {
                    Attempt::Rejected(reason)
                } else {
                    Attempt::Retry(reason)
                };
                return (attempt, Some(connection));
            }
            Ok(Ok(_)) => {}
        }
    }
    (Attempt::Delivered, Some(connection))
}
