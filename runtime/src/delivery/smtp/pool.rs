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

use super::connect::Connector;
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
/// it broke or timed out (a late answer would belong to the wrong message).
async fn send(
    connector: &Connector,
    mut connection: AsyncSmtpConnection,
    mails: &[Mail],
) -> (Attempt, Option<AsyncSmtpConnection>) {
    for mail in mails {
        match transaction(&mut connection, mail, connector.timeout).await {
            Ok(()) => {}
            Err(failure) => {
                let reason = connector.redact(format!(
                    "the SMTP server at {} {}",
                    connector.address,
                    failure.describe()
                ));
                let attempt = match failure {
                    Failure::Refused(error) if error.is_permanent() => Attempt::Rejected(reason),
                    Failure::Refused(_) | Failure::Before(_) => Attempt::Retry(reason),
                    Failure::NoAnswer(_) => Attempt::InDoubt(reason),
                };
                let keep = matches!(&attempt, Attempt::Rejected(_) | Attempt::Retry(_))
                    && !connection.has_broken();
                return (attempt, keep.then_some(connection));
            }
        }
    }
    (Attempt::Delivered, Some(connection))
}

/// Why an SMTP transaction did not end in a `250`.
enum Failure {
    /// The server answered no (4xx, 5xx), at any step.
    Refused(lettre::transport::smtp::Error),
    /// No answer before the message's end was sent (a lost connection, a
    /// timeout): nothing was delivered.
    Before(String),
    /// The whole message was sent and no answer came: the server may
    /// have accepted it (RFC 1047).
    NoAnswer(String),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Refused(error) => format!("refused the message: {error}"),
            Failure::Before(why) => format!("did not take the message: {why}"),
            Failure::NoAnswer(why) => {
                format!("did not answer after the whole message was sent ({why}): it may hold it")
            }
        }
    }
}

/// One mail transaction (MAIL, RCPT, DATA, the message), each step within
/// the timeout. Driven step by step, unlike lettre's `send`, to know
/// whether a failure came before the end of the message (not delivered)
/// or after it (in doubt).
async fn transaction(
    connection: &mut AsyncSmtpConnection,
    mail: &Mail,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    use lettre::transport::smtp::commands::{Data, Mail as MailCommand, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let mut options = Vec::new();
    let non_ascii = mail
        .envelope
        .to()
        .iter()
        .chain(mail.envelope.from())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii {
        if !connection
            .server_info()
            .supports_feature(Extension::SmtpUtfEight)
        {
            return Err(Failure::Before(
                "the addresses are not ASCII and the server does not offer SMTPUTF8".into(),
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !mail.bytes.is_ascii() {
        if !connection
            .server_info()
            .supports_feature(Extension::EightBitMime)
        {
            return Err(Failure::Before(
                "the message is not ASCII and the server does not offer 8BITMIME".into(),
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let step = |result: Result<Result<_, lettre::transport::smtp::Error>, _>| match result {
        Err(_) => Err(Failure::Before(format!(
            "no answer in {} s",
            timeout.as_secs()
        ))),
        Ok(Err(error)) if error.status().is_some() => Err(Failure::Refused(error)),
        Ok(Err(error)) => Err(Failure::Before(error.to_string())),
        Ok(Ok(_)) => Ok(()),
    };
    let from = MailCommand::new(mail.envelope.from().cloned(), options);
    let mut result = step(tokio::time::timeout(timeout, connection.command(from)).await);
    for to in mail.envelope.to() {
        if result.is_ok() {
            let rcpt = Rcpt::new(to.clone(), vec![]);
            result = step(tokio::time::timeout(timeout, connection.command(rcpt)).await);
        }
    }
    if result.is_ok() {
        result = step(tokio::time::timeout(timeout, connection.command(Data)).await);
    }
    if let Err(failure) = result {
        connection.abort().await;
        return Err(failure);
    }
    // From here a lost connection or a late answer leaves the message in
    // doubt: its end may have reached the server.
    match tokio::time::timeout(timeout, connection.message(&mail.bytes)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) if error.status().is_some() => {
            // A refusal of the message leaves the connection usable.
            Err(Failure::Refused(error))
        }
        Ok(Err(error)) => {
            connection.abort().await;
            Err(Failure::NoAnswer(error.to_string()))
        }
        Err(_) => {
            connection.abort().await;
            Err(Failure::NoAnswer(format!(
                "no answer in {} s",
                timeout.as_secs()
            )))
        }
    }
}
