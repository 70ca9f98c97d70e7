//! `flowc report` and `flowc status`: what the runs did, from the state.

use std::path::PathBuf;

use flowc_runtime::calendar::shown_deadline;
use flowc_runtime::state::{FeedbackCount, SendCount, SendStatus, SqliteState, StateStore};

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The state file written by `flowc run`.
    #[arg(long, value_name = "FILE", default_value = "flow.db")]
    state: PathBuf,

    /// Print JSON.
    #[arg(long)]
    json: bool,

    /// The program (or flows) the runs used: with an `[attribution]` in
    /// its flow.toml, the report adds the conversions and revenue that
    /// followed each flow's messages.
    #[arg(long, value_name = "FILE")]
    program: Option<PathBuf>,
}

fn open(args: &ReportArgs) -> Result<SqliteState, u8> {
    if !args.state.exists() {
        eprintln!(
            "error: {} does not exist: no run has used it yet",
            args.state.display()
        );
        return Err(EXIT_USAGE);
    }
    SqliteState::open(&args.state).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })
}

/// Per flow and rule: delivered, pending (why), failed (the server's
/// answer), missed, skipped (why);
/// per flow, the opens, clicks and redemptions ingested.
pub fn report(args: ReportArgs, zones: &flowc_compiler::ZoneDb) -> u8 {
    let state = match open(&args) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let attribution = match &args.program {
        None => None,
        Some(path) => match super::run::load_program(path, zones) {
            Ok(program) => program.attribution.as_ref().map(|a| Attribution {
                event: program.string(a.event).to_string(),
                amount: a.amount.map(|m| program.string(m).to_string()),
                window: a.window,
            }),
            Err((code, message)) => {
                eprintln!("error: {message}");
                return code;
            }
        },
    };
    let conversions = match &attribution {
        None => Vec::new(),
        Some(a) => match state.conversions(&a.event, a.amount.as_deref(), a.window) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let read = (state.counts(), state.feedback_counts(), state.in_doubt());
    let (counts, feedback, in_doubt) = match read {
        (Ok(counts), Ok(feedback), Ok(in_doubt)) => (counts, feedback, in_doubt),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let engagement = engagement(&counts, &feedback);
    if args.json {
        let feedback: Vec<_> = feedback
            .iter()
            .map(|f| serde_json::json!({"flow": f.flow, "kind": f.kind, "detail": f.detail, "count": f.count}))
            .collect();
        let flows: Vec<_> = engagement.iter().map(FlowEngagement::json).collect();
        let mut value = serde_json::json!({ "sends": counts, "feedback": feedback, "flows": flows, "in_doubt": in_doubt });
        if let Some(a) = &attribution {
            value["attribution"] = serde_json::json!({
                "event": a.event, "amount": a.amount, "window_seconds": a.window,
                "flows": conversions,
            });
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return EXIT_OK;
    }
    println!(
        "{:<20} {:<20} {:<10} {:>6}  reason",
        "flow", "rule", "status", "count"
    );
    for c in &counts {
        println!(
            "{:<20} {:<20} {:<10} {:>6}  {}",
            c.flow,
            c.rule,
            c.status,
            c.count,
            c.reason.as_deref().unwrap_or("")
        );
    }
    if counts.is_empty() {
        println!("(nothing recorded yet)");
    }
    if !in_doubt.is_empty() {
        println!();
        print_in_doubt(&in_doubt);
    }
    if !engagement.is_empty() {
        println!();
        println!(
            "{:<20} {:>9} {:>7} {:>7} {:>7} {:>8} {:>9} {:>10} {:>10} {:>6} {:>7} {:>10}",
            "flow",
            "delivered",
            "opened",
            "machine",
            "clicked",
            "redeemed",
            "open rate",
            "click rate",
            "conversion",
            "unsub",
            "bounced",
            "complaints"
        );
        for e in &engagement {
            println!(
                "{:<20} {:>9} {:>7} {:>7} {:>7} {:>8} {:>9} {:>10} {:>10} {:>6} {:>7} {:>10}",
                e.flow,
                e.delivered,
                e.opened,
                e.machine_opened,
                e.clicked,
                e.redeemed,
                percent(e.rate(e.opened)),
                percent(e.rate(e.clicked)),
                percent(e.rate(e.redeemed)),
                e.unsubscribed,
                e.bounced,
                e.complained,
            );
        }
        let links: Vec<(&str, &str, u64)> = engagement
            .iter()
            .flat_map(|e| {
                e.links
                    .iter()
                    .map(|(l, n)| (e.flow.as_str(), l.as_str(), *n))
            })
            .collect();
        if !links.is_empty() {
            println!();
            println!("{:<20} {:<20} {:>7}", "flow", "link", "clicks");
            for (flow, link, count) in links {
                println!("{flow:<20} {link:<20} {count:>7}");
            }
        }
    }
    if let Some(a) = &attribution {
        println!();
        let within = shown_window(a.window);
        match &a.amount {
            Some(amount) => println!(
                "{} within {within} of a message (the last one counts), and their {amount}:",
                a.event
            ),
            None => println!(
                "{} within {within} of a message (the last one counts):",
                a.event
            ),
        }
        println!("{:<20} {:>11} {:>12}", "flow", "conversions", "revenue");
        for c in &conversions {
            println!("{:<20} {:>11} {:>12.2}", c.flow, c.count, c.revenue);
        }
        if conversions.is_empty() {
            println!("(none yet)");
        }
    }
    EXIT_OK
}

/// `[attribution]` of the program's flow.toml.
struct Attribution {
    event: String,
    amount: Option<String>,
    window: i64,
}

/// `7d`, `36h`, `90m`, `45s`: the largest whole unit.
fn shown_window(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Per flow: what was delivered and what came back. Rates are events per
/// message delivered; conversion is coupon redemptions per message
/// delivered. Opens are people's: opens within seconds of the hand-off
/// (privacy proxies) are counted apart, as `machine`.
#[derive(Default)]
struct FlowEngagement {
    flow: String,
    delivered: u64,
    opened: u64,
    machine_opened: u64,
    clicked: u64,
    /// Clicks per link name.
    links: Vec<(String, u64)>,
    redeemed: u64,
    unsubscribed: u64,
    bounced: u64,
    complained: u64,
}

impl FlowEngagement {
    fn rate(&self, count: u64) -> Option<f64> {
        (self.delivered > 0).then(|| count as f64 / self.delivered as f64)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "flow": self.flow,
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "redeemed": self.redeemed,
            "machine_opened": self.machine_opened,
            "clicks_by_link": self.links.iter().map(|(l, n)| (l.clone(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            "unsubscribed": self.unsubscribed,
            "bounced": self.bounced,
            "complained": self.complained,
            "open_rate": self.rate(self.opened),
            "click_rate": self.rate(self.clicked),
            "conversion": self.rate(self.redeemed),
        })
    }
}

fn engagement(counts: &[SendCount], feedback: &[FeedbackCount]) -> Vec<FlowEngagement> {
    let mut flows: std::collections::BTreeMap<String, FlowEngagement> = Default::default();
    fn entry<'m>(
        flows: &'m mut std::collections::BTreeMap<String, FlowEngagement>,
        flow: &str,
    ) -> &'m mut FlowEngagement {
        flows
            .entry(flow.to_string())
            .or_insert_with(|| FlowEngagement {
                flow: flow.to_string(),
                ..FlowEngagement::default()
            })
    }
    for c in counts.iter().filter(|c| c.status == "delivered") {
        entry(&mut flows, &c.flow).delivered += c.count;
    }
    for f in feedback {
        let e = entry(&mut flows, &f.flow);
        match (f.kind.as_str(), f.detail.as_deref()) {
            ("opened", Some("machine")) => e.machine_opened += f.count,
            ("opened", _) => e.opened += f.count,
            ("clicked", link) => {
                e.clicked += f.count;
                if let Some(link) = link {
                    e.links.push((link.to_string(), f.count));
                }
            }
            ("redeemed", _) => e.redeemed += f.count,
            ("unsubscribed", _) => e.unsubscribed += f.count,
            ("bounced", _) => e.bounced += f.count,
            ("complained", _) => e.complained += f.count,
            _ => {}
        }
    }
    flows.into_values().collect()
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// The sends in doubt, until acknowledged: the server may hold two copies.
fn print_in_doubt(in_doubt: &[flowc_runtime::state::InDoubt]) {
    println!("in doubt: {}", in_doubt.len());
    for d in in_doubt {
        println!(
            "  {}/{} for {} ({}), Message-ID {}, now {}: {}",
            d.flow, d.rule, d.contact, d.occurrence, d.message_id, d.status, d.reason
        );
    }
    if !in_doubt.is_empty() {
        println!("  (the server may hold two copies of each: find them by Message-ID, then `flowc ack --all` or `flowc ack ID...`)");
    }
}

#[derive(clap::Args)]
pub struct AckArgs {
    /// The state file written by `flowc run`.
    #[arg(long, value_name = "FILE", default_value = "flow.db")]
    state: PathBuf,

    /// Every send in doubt.
    #[arg(long, conflicts_with = "ids")]
    all: bool,

    /// Message-IDs of sends in doubt (`<id@flowc>` or the bare id).
    #[arg(value_name = "MESSAGE-ID", required_unless_present = "all")]
    ids: Vec<String>,
}

/// `flowc ack`: the operator has reconciled sends in doubt (found whether
/// the server holds one copy or two); they are no longer reported.
pub fn ack(args: AckArgs) -> u8 {
    let report = ReportArgs {
        state: args.state.clone(),
        json: false,
        program: None,
    };
    let mut state = match open(&report) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let ids = (!args.all).then_some(args.ids.as_slice());
    match state.acknowledge(ids, jiff::Timestamp::now()) {
        Ok(count) => {
            println!("acknowledged {count} sends in doubt");
            if count == 0 && !args.all {
                eprintln!(
                    "error: no send in doubt has these Message-IDs (`flowc status` lists them)"
                );
                return EXIT_USAGE;
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// The latest runs and what is pending.
pub fn status(args: ReportArgs) -> u8 {
    let state = match open(&args) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let read = (
        state.runs(10),
        state.pending(),
        state.holds(),
        state.in_doubt(),
    );
    let (runs, pending, holds, in_doubt) = match read {
        (Ok(runs), Ok(pending), Ok(holds), Ok(in_doubt)) => (runs, pending, holds, in_doubt),
        (Err(e), ..) | (_, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        let pending: Vec<_> = pending
            .iter()
            .map(|p| {
                serde_json::json!({
                    "flow": p.key.flow, "rule": p.key.rule, "contact": p.key.contact,
                    "occurrence": p.key.occurrence, "due_at": p.due_at.to_string(),
                    "deadline": shown_deadline(p.deadline).to_string(), "reason": p.reason,
                    "status": p.status.as_str(), "attempts": p.attempts,
                    "retry_at": p.retry_at.map(|t| t.to_string()),
                })
            })
            .collect();
        let held: Vec<_> = holds
            .iter()
            .map(|(contact, h)| {
                serde_json::json!({
                    "contact": contact, "flow": h.flow, "since": h.since.to_string(),
                    "reason": h.reason,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "runs": runs, "pending": pending, "held": held, "in_doubt": in_doubt })
            )
            .unwrap_or_default()
        );
        return EXIT_OK;
    }
    println!("last runs:");
    for run in &runs {
        let outcome = match (&run.finished_at, &run.summary) {
            (Some(_), Some(s)) => format!(
                "done: {} due, {} delivered, {} skipped, {} pending, {} missed, {} failed",
                s["due"],
                s["delivered"],
                s["skipped"],
                s["pending"].as_array().map_or(0, Vec::len),
                s["missed"].as_array().map_or(0, Vec::len),
                s["failed"].as_array().map_or(0, Vec::len)
            ),
            _ => "did not complete (stopped or still running)".to_string(),
        };
        println!(
            "  run {} {} to {}: {outcome}",
            run.id, run.window_from, run.window_to
        );
    }
    if runs.is_empty() {
        println!("  (none)");
    }
    println!("pending: {}", pending.len());
    for p in &pending {
        println!(
            "  {}/{} for {} ({}), due {}, deadline {}: {}",
            p.key.flow,
            p.key.rule,
            p.key.contact,
            p.key.occurrence,
            p.due_at,
            shown_deadline(p.deadline),
            match (p.status, p.reason.as_deref()) {
                (SendStatus::Sending, _) => "in flight when its run stopped: sent again next run",
                (_, Some(reason)) => reason,
                (_, None) => "not delivered yet",
            }
        );
        if let Some(retry_at) = p.retry_at {
            println!(
                "    {} failed attempts; the next not before {retry_at}",
                p.attempts
            );
        }
    }
    print_in_doubt(&in_doubt);
    // Whole flows held for a contact (an unknown zone, a field that is not
    // a date): nothing of them is sent until the value is fixed.
    println!("held: {}", holds.len());
    for (contact, held) in &holds {
        println!(
            "  {} for {}, since {}: {}",
            held.flow, contact, held.since, held.reason
        );
    }
    EXIT_OK
}
