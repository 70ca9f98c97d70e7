//! `flowc coupons export`: the coupons the runs issued, with their validity
//! and what became of them, for tills and shops that check codes
//! themselves rather than asking `flowc serve`.

use std::path::PathBuf;

use flowc_runtime::state::{SqliteState, StateStore};
use jiff::Timestamp;

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct CouponsArgs {
    #[command(subcommand)]
    command: CouponsCommand,
}

#[derive(clap::Subcommand)]
enum CouponsCommand {
    /// Write every issued coupon (CSV, or JSON Lines) on standard output.
    Export {
        /// The state file written by `flowc run`.
        #[arg(long, value_name = "FILE", default_value = "flow.db")]
        state: PathBuf,
        /// `csv` or `jsonl`.
        #[arg(long, value_name = "FORMAT", default_value = "csv")]
        format: String,
    },
}

pub fn run(args: CouponsArgs) -> u8 {
    let CouponsCommand::Export { state, format } = args.command;
    if !state.exists() {
        eprintln!("error: {} does not exist", state.display());
        return EXIT_USAGE;
    }
    let coupons = match SqliteState::open(&state).and_then(|s| s.coupons()) {
        Ok(coupons) => coupons,
        Err(e) => {
            eprintln!("error: {}", e.0);
            return EXIT_USAGE;
        }
    };
    let now = Timestamp::now();
    let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    match format.as_str() {
        "csv" => {
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            let header = [
                "code",
                "status",
                "contact",
                "flow",
                "rule",
                "occurrence",
                "issued_at",
                "expires_at",
                "redeemed_at",
            ];
            let mut write = |row: &[String]| out.write_record(row).is_ok();
            let mut ok = write(&header.map(str::to_string));
            for c in &coupons {
                ok &= write(&[
                    c.code.clone(),
                    c.status(now).to_string(),
                    c.key.contact.clone(),
                    c.key.flow.clone(),
                    c.key.rule.clone(),
                    c.key.occurrence.clone(),
                    c.issued_at.to_string(),
                    time(c.expires_at),
                    time(c.redeemed_at),
                ]);
            }
            if !ok || out.flush().is_err() {
                return EXIT_USAGE;
            }
        }
        "jsonl" => {
            for c in &coupons {
                println!(
                    "{}",
                    serde_json::json!({
                        "code": c.code, "status": c.status(now), "contact": c.key.contact,
                        "flow": c.key.flow, "rule": c.key.rule, "occurrence": c.key.occurrence,
                        "issued_at": c.issued_at.to_string(),
                        "expires_at": c.expires_at.map(|t| t.to_string()),
                        "redeemed_at": c.redeemed_at.map(|t| t.to_string()),
                    })
                );
            }
        }
        other => {
            eprintln!("error: `{other}` is not a format: `csv` or `jsonl`");
            return EXIT_USAGE;
        }
    }
    EXIT_OK
}
