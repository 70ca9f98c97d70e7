//! `flowc run --program P --contacts F`: the job a scheduler (cron, a
//! systemd timer, a Kubernetes CronJob) invokes. Covers everything due
//! since the last completed run, records each send before delivering it,
//! and says what it did.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode;
use flowc_runtime::delivery::{
    ChannelUrls, Endpoints, FileOutbox, HttpSender, Outbox, RenderSettings, SmtpOutbox,
    SmtpSettings, Timeouts, TlsMode, WebhookOutbox, SMTP_TIMEOUT,
};
use flowc_runtime::input::ContactReader;
use flowc_runtime::run::{run as run_program, Backoff, RowIndexOptions, RunOptions};
use flowc_runtime::state::{Holder, SqliteState, StateStore, Taken};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::{SignedDuration, Timestamp};

use super::{EXIT_FAILED, EXIT_LOCKED, EXIT_MISSED, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The program, from `flowc build`; or flows (a project folder or
    /// `.flow` files), compiled for this run.
    #[arg(long, value_name = "FILE")]
    program: PathBuf,

    /// Contacts, CSV with a header line (an `id` column and schema fields).
    #[arg(long, value_name = "FILE")]
    contacts: PathBuf,

    /// Events (JSON Lines): purchases, visits, opens, clicks, redemptions...
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,

    /// The state file (SQLite), created when missing.
    #[arg(long, value_name = "FILE", default_value = "flow.db")]
    state: PathBuf,

    /// Where messages without a server go: one .eml per e-mail; SMS, push,
    /// tasks, webhooks and contact updates as lines of sms.jsonl,
    /// push.jsonl, tasks.jsonl, webhooks.jsonl, updates.jsonl.
    #[arg(long, value_name = "DIR", default_value = "outbox")]
    outbox: PathBuf,

    /// The run's clock (an instant such as 2027-03-01T08:00:00Z); default: now.
    #[arg(long, value_name = "INSTANT")]
    now: Option<String>,

    /// How far back a first run looks (`6h`, `2d`): what fell due then is
    /// delivered, or reported missed past its deadline. Without it a first
    /// run covers only the instant --now: a new install promised nothing
    /// earlier. Ignored once the state has a completed run.
    #[arg(long, value_name = "WAIT", value_parser = parse_lookback, conflicts_with = "lookback_hours")]
    lookback: Option<SignedDuration>,

    /// The same in hours (`--lookback-hours 24` is `--lookback 24h`).
    #[arg(long, value_name = "HOURS")]
    lookback_hours: Option<u32>,

    /// `From:` for rules that name no sender.
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "flowc <noreply@example.invalid>",
        env = "FLOWC_FROM"
    )]
    from_address: String,

    /// Where `flowc serve` answers (e.g. https://m.example.com): unsubscribe
    /// links point there, and template links and the open pixel are tracked
    /// through it. Without it, unsubscribe links point at example.invalid.
    #[arg(long, value_name = "URL", env = "FLOWC_PUBLIC_URL")]
    public_url: Option<String>,

    /// An address for the `mailto:` form of List-Unsubscribe.
    #[arg(long, value_name = "ADDRESS", env = "FLOWC_UNSUBSCRIBE_MAILTO")]
    unsubscribe_mailto: Option<String>,

    /// Send e-mail through this SMTP server (`host:port`) instead of the
    /// outbox folder. Credentials come from FLOWC_SMTP_USER and
    /// FLOWC_SMTP_PASSWORD. Other actions still go to the outbox folder.
    #[arg(long, value_name = "HOST:PORT", env = "FLOWC_SMTP")]
    smtp: Option<String>,

    /// How the SMTP connection is protected: `none`, `starttls` (port 587
    /// or 25; refused if the server does not offer it) or `tls` (port 465).
    /// Default: `none` for a loopback host (localhost, 127.0.0.0/8, ::1),
    /// `starttls` for any other.
    #[arg(long, value_name = "MODE", env = "FLOWC_SMTP_TLS")]
    smtp_tls: Option<TlsMode>,

    /// Trust the certificates in this PEM file too (a private CA), beside
    /// Mozilla's roots.
    #[arg(long, value_name = "FILE", env = "FLOWC_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,

    /// SMTP connections delivering at once (each reused; at most this many
    /// messages in flight).
    #[arg(
        long,
        value_name = "N",
        default_value = "4",
        env = "FLOWC_SMTP_CONNECTIONS",
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    smtp_connections: u16,

    /// The wait after a failed delivery attempt (SMTP 4xx or down, webhook
    /// 5xx): doubled after each further failure, up to --retry-wait-max,
    /// never past the send's deadline. `30s`, `1m`, `2h`.
    #[arg(long, value_name = "WAIT", default_value = "1m", value_parser = parse_wait)]
    retry_wait: SignedDuration,

    /// The longest wait between two attempts of a send.
    #[arg(long, value_name = "WAIT", default_value = "1h", value_parser = parse_wait)]
    retry_wait_max: SignedDuration,

    /// Read every row of the contacts file, and keep no row index. By
    /// default a run writes `<state>.rows`, and a run over the same file
    /// (same bytes, program and zone rules) reads only the rows that can
    /// be due.
    #[arg(long)]
    no_row_index: bool,

    /// How long the SMTP server may take to answer, in seconds. After the
    /// end of a message, no answer in time leaves the send in doubt.
    #[arg(long, value_name = "SECONDS", default_value_t = SMTP_TIMEOUT.as_secs(), env = "FLOWC_SMTP_TIMEOUT")]
    smtp_timeout: u64,

    #[command(flatten)]
    webhooks: WebhookArgs,

    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Endpoints for signed JSON webhooks (see docs/operations.md, "Webhooks").
/// Without one, a channel goes to its JSON Lines file in the outbox.
#[derive(clap::Args)]
struct WebhookArgs {
    /// POST SMS here (else FLOWC_SMS_URL); signed with FLOWC_SMS_SECRET or FLOWC_WEBHOOK_SECRET.
    #[arg(long, value_name = "URL")]
    sms_url: Option<String>,

    /// POST push notifications here (else FLOWC_PUSH_URL).
    #[arg(long, value_name = "URL")]
    push_url: Option<String>,

    /// POST tasks here (else FLOWC_TASK_URL).
    #[arg(long, value_name = "URL")]
    task_url: Option<String>,

    /// How long one webhook request may take, in seconds (connecting: at most 10).
    #[arg(long, value_name = "SECONDS", default_value = "30")]
    webhook_timeout: u64,
}

impl WebhookArgs {
    /// The endpoints from these flags and the environment.
    fn endpoints(&self, program: &bytecode::Program) -> Result<Endpoints, String> {
        let flags = ChannelUrls {
            sms: self.sms_url.clone(),
            push: self.push_url.clone(),
            task: self.task_url.clone(),
        };
        Endpoints::configure(program, &flags, &|name| std::env::var(name).ok())
    }

    /// `rest` behind the webhooks: what has no endpoint goes to `rest`.
    fn outbox(&self, endpoints: Endpoints, rest: Box<dyn Outbox>) -> Box<dyn Outbox> {
        let total = Duration::from_secs(self.webhook_timeout.max(1));
        let timeouts = Timeouts {
            connect: total.min(Duration::from_secs(10)),
            total,
        };
        Box::new(WebhookOutbox::new(
            endpoints,
            HttpSender::new(timeouts),
            rest,
        ))
    }
}

pub fn run(args: RunArgs, zones: &ZoneDb) -> u8 {
    match execute(args, zones) {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("error: {}", super::printable(&message));
            code
        }
    }
}

/// A `.flowb` file, or flows compiled now (their problems printed).
pub fn load_program(
    path: &std::path::Path,
    zones: &ZoneDb,
) -> Result<bytecode::Program, (u8, String)> {
    let is_sources = path.is_dir() || path.extension().is_some_and(|e| e == "flow");
    if !is_sources {
        let bytes = std::fs::read(path)
            .map_err(|e| (EXIT_USAGE, format!("cannot read {}: {e}", path.display())))?;
        return bytecode::decode(&bytes)
            .map_err(|e| (EXIT_USAGE, format!("{}: {e}", path.display())));
    }
    let args = super::check::SourceArgs::for_paths(vec![path.to_path_buf()]);
    let checked = super::check::check_sources(&args, zones, true)
        .map_err(|code| (code, "cannot read the flows".to_string()))?;
    if checked.exit != EXIT_OK {
        return Err((
            checked.exit,
            format!("{} has errors: nothing was run", path.display()),
        ));
    }
    let mut programs = checked.programs.into_iter().flatten();
    match (programs.next(), programs.next()) {
        (Some(program), None) => Ok(program),
        _ => Err((
            EXIT_USAGE,
            "`flowc run` takes the flows of one project".to_string(),
        )),
    }
}

fn execute(args: RunArgs, zones: &ZoneDb) -> Result<u8, (u8, String)> {
    let usage = |m: String| (EXIT_USAGE, m);
    let now = match &args.now {
        Some(text) => text.parse::<Timestamp>().map_err(|_| {
            usage(format!(
                "--now `{text}` is not an instant (e.g. 2027-03-01T08:00:00Z)"
            ))
        })?,
        None => Timestamp::now(),
    };
    let program = load_program(&args.program, zones)?;
    // Read and checked before anything else happens.
    let endpoints = args.webhooks.endpoints(&program).map_err(usage)?;
    let routes = endpoints.describe();

    let mut store = SqliteState::open(&args.state).map_err(|e| usage(e.0))?;
    let folder = FileOutbox::new(&args.outbox).map_err(|e| usage(e.0))?;
    let mut via = format!("to {}", args.outbox.display());
    let mut outbox: Box<dyn Outbox> = match &args.smtp {
        Some(address) => {
            let credentials = std::env::var("FLOWC_SMTP_USER").ok().map(|user| {
                (
                    user,
                    std::env::var("FLOWC_SMTP_PASSWORD").unwrap_or_default(),
                )
            });
            let settings = SmtpSettings {
                address: address.clone(),
                tls: args.smtp_tls,
                ca_file: args.smtp_ca_file.clone(),
                credentials,
                connections: usize::from(args.smtp_connections),
                timeout: Duration::from_secs(args.smtp_timeout.max(1)),
            };
            let smtp = SmtpOutbox::new(&settings, Box::new(folder)).map_err(|e| usage(e.0))?;
            let tls = match smtp.tls() {
                TlsMode::None => "no TLS",
                TlsMode::StartTls => "STARTTLS",
                TlsMode::Tls => "TLS",
            };
            via = format!(
                "e-mail by SMTP to {address} ({tls}, {} connections), the rest to {}",
                settings.connections,
                args.outbox.display()
            );
            Box::new(smtp)
        }
        None => Box::new(folder),
    };
    outbox = args.webhooks.outbox(endpoints, outbox);
    let events = super::simulate::load_events(&program, args.events.as_deref()).map_err(usage)?;
    // Events given to a run are known from now on, like ingested ones:
    // an unsubscribe in them stops later sends too (guarantees 11, 19).
    super::ingest::record_events(&mut store, &events).map_err(|e| usage(e.0))?;
    let file = File::open(&args.contacts)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.contacts.display())))?;
    let bar = progress_bar(file.metadata().map(|m| m.len()).unwrap_or(0));
    let file = Counted {
        inner: file,
        bar: bar.clone(),
        lines: 0,
    };
    let contacts = ContactReader::new(&program, BufReader::new(file))
        .map_err(|e| usage(format!("{}: {e}", args.contacts.display())))?;
    let options = RunOptions {
        now,
        lookback: match (args.lookback, args.lookback_hours) {
            (Some(lookback), _) => lookback,
            (None, Some(hours)) => SignedDuration::from_hours(i64::from(hours)),
            (None, None) => SignedDuration::ZERO,
        },
        render: RenderSettings {
            default_sender: args.from_address.clone(),
            public_url: args.public_url.clone(),
            unsubscribe_mailto: args.unsubscribe_mailto.clone(),
            keys: flowc_runtime::keys::for_state(&mut store).map_err(|e| usage(e.0))?,
        },
        backoff: Backoff {
            first: args.retry_wait,
            max: args.retry_wait_max.max(args.retry_wait),
        },
        row_index: (!args.no_row_index).then(|| RowIndexOptions {
            path: {
                let mut path = args.state.clone().into_os_string();
                path.push(".rows");
                PathBuf::from(path)
            },
            contacts: args.contacts.clone(),
        }),
    };
    let contacts_name = args.contacts.display().to_string();
    // One run at a time per state, however it is reached: a lease row in
    // the state itself (see runtime/src/state/lease.rs), taken once
    // everything is read and checked, and given back however the run ends.
    let took_over = match store
        .take_lease(&Holder::this_process(), Timestamp::now())
        .map_err(|e| usage(e.0))?
    {
        Taken::Free => None,
        Taken::TakenOver(held) => Some(held),
        Taken::Refused(held) => {
            return Err((
                EXIT_LOCKED,
                format!(
                    "another run ({}, since {}) holds {}; this run did nothing. Wait for it, or stop it (its lease expires at {} unless it renews it)",
                    held.holder.describe(),
                    held.taken_at,
                    args.state.display(),
                    held.expires_at,
                ),
            ))
        }
    };
    if let Some(held) = took_over {
        eprintln!(
            "warning: the run of {} (since {}) stopped without ending; this run takes over its lease",
            held.holder.describe(),
            held.taken_at
        );
    }
    let mut summary = run_program(
        &program,
        zones,
        &mut store,
        outbox.as_mut(),
        contacts,
        &contacts_name,
        events,
        &options,
    )
    .map_err(|e| {
        let _ = store.release_lease();
        usage(e.0)
    })?;
    bar.finish_and_clear();
    summary.new_state = store.created();
    store.release_lease().map_err(|e| usage(e.0))?;

    for row in &summary.rejected_rows {
        eprintln!("warning: {}; contact not read", super::printable(row));
    }
    for held in &summary.held_contacts {
        eprintln!("held: {}", super::printable(held));
    }
    for released in &summary.released {
        eprintln!("released: {}", super::printable(released));
    }
    for pending in &summary.pending {
        eprintln!("pending: {}", super::printable(pending));
    }
    // A few lines per rule, then the count: a lookback over a large base
    // can miss thousands, and one line each would bury everything else.
    const SHOWN: usize = 3;
    for (rule, count) in &summary.missed_by_rule {
        let prefix = format!("{rule} for ");
        let lines = summary.missed.iter().filter(|m| m.starts_with(&prefix));
        for missed in lines.take(SHOWN) {
            eprintln!("MISSED: {}", super::printable(missed));
        }
        if *count as usize > SHOWN {
            eprintln!(
                "MISSED: {}: {} more like these ({count} in all; `flowc report` counts them by reason)",
                super::printable(rule),
                *count as usize - SHOWN
            );
        }
    }
    for failed in &summary.failed {
        eprintln!("FAILED: {}", super::printable(failed));
    }
    for interrupted in &summary.interrupted {
        eprintln!("warning: {}", super::printable(interrupted));
    }
    for doubt in &summary.in_doubt {
        eprintln!(
            "IN DOUBT: {}/{} for {} ({}): {}; Message-ID {}; now {} (acknowledge with `flowc ack`)",
            super::printable(&doubt.flow),
            super::printable(&doubt.rule),
            super::printable(&doubt.contact),
            super::printable(&doubt.occurrence),
            super::printable(&doubt.reason),
            doubt.message_id,
            doubt.status,
        );
    }
    if !routes.is_empty() && !args.json {
        println!("signed webhooks: {}", routes.join(", "));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "run {}: {} to {} ({}): {} contacts, {} due, {} delivered ({}), {} skipped, {} pending, {} held, {} missed, {} failed, {} retried, {} in doubt",
            summary.run,
            summary.window_from,
            summary.window_to,
            summary.zone_rules,
            summary.contacts,
            summary.due,
            summary.delivered,
            via,
            summary.skipped,
            summary.pending.len(),
            summary.held_contacts.len(),
            summary.missed.len(),
            summary.failed.len(),
            summary.retried,
            summary.in_doubt.len(),
        );
        println!("rows: {}", summary.row_index);
        if summary.new_state {
            println!(
                "state: {} created (a new state: nothing was recorded before this run)",
                args.state.display()
            );
        }
    }
    Ok(if !summary.missed.is_empty() {
        EXIT_MISSED
    } else if !summary.failed.is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// A wait such as `30s`, `5m` or `2h`.
fn parse_wait(text: &str) -> Result<SignedDuration, String> {
    parse_duration(text, 7)
}

/// A lookback such as `12h` or `3d`, at most a year.
fn parse_lookback(text: &str) -> Result<SignedDuration, String> {
    parse_duration(text, 366)
}

/// `N` seconds, minutes, hours or days (`30s`, `5m`, `2h`, `3d`), at most
/// `max_days`.
fn parse_duration(text: &str, max_days: i64) -> Result<SignedDuration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (amount, unit) = text.split_at(split);
    let amount: i64 = amount
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30s, 5m, 2h or 3d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => {
            return Err(format!(
                "`{text}`: the unit is s, m, h or d (30s, 5m, 2h, 3d)"
            ))
        }
    };
    amount
        .checked_mul(seconds)
        .filter(|s| *s <= max_days * 24 * 3600)
        .map(SignedDuration::from_secs)
        .ok_or_else(|| format!("`{text}` is longer than {max_days} days"))
}

/// A bar over the contacts file's bytes, on stderr when it is a terminal
/// and not under CI; hidden otherwise (logs get the summary only).
fn progress_bar(bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} contacts {msg} [{bar:30}] {percent:>3}% {elapsed} (ETA {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The contacts file as read, counted for the bar: bytes for the bar's
/// position, line ends for the number of contacts read (the header aside).
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
    lines: u64,
}

/// Reading rows at the offsets of the row index: the bar is not moved.
impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, position: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(position)
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.bar.is_hidden() {
            self.lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
            self.bar.inc(n as u64);
            self.bar
                .set_message(self.lines.saturating_sub(1).to_string());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_wait;
    use jiff::SignedDuration;

    #[test]
    fn waits_read_seconds_minutes_and_hours() {
        assert_eq!(parse_wait("30s"), Ok(SignedDuration::from_secs(30)));
        assert_eq!(parse_wait("5m"), Ok(SignedDuration::from_mins(5)));
        assert_eq!(parse_wait("2h"), Ok(SignedDuration::from_hours(2)));
        for bad in ["", "m", "5", "8d", "-1m", "1.5h", "999999h"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
        assert_eq!(
            super::parse_lookback("30d"),
            Ok(SignedDuration::from_hours(720))
        );
        assert!(super::parse_lookback("367d").is_err());
    }
}
