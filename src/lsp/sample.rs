//! The next dates a rule is due for the project's sample contact
//! (`[editor] sample_contact = "contacts.csv#c001"` in `flow.toml`): the
//! program is compiled and the VM evaluated for that contact over the next
//! three years from now, as `flowc simulate` would, with no history.

use std::fs::File;
use std::io::BufReader;

use flowc_compiler::syntax::ast::Rule;
use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode::Program;
use flowc_runtime::calendar::Window;
use flowc_runtime::input::ContactReader;
use flowc_runtime::vm::{evaluate, Due, History, Outcome};
use jiff::{Timestamp, ToSpan};

use super::workspace::Analysis;

/// How many due dates a hover shows.
const SHOWN: usize = 3;

/// A paragraph for the hover of `rule`'s trigger, or `None` when the
/// project names no sample contact.
pub fn next_dates(analysis: &Analysis, rule: &Rule, zones: &ZoneDb) -> Option<String> {
    let sample = analysis.project.sample_contact.as_ref()?;
    let heading = format!("next for sample contact `{}` ({})", sample.id, sample.file);
    Some(
        match dates(analysis, rule, zones, &sample.file, &sample.id) {
            Ok(lines) if lines.is_empty() => format!("{heading}: not due in the next 3 years"),
            Ok(lines) => format!("{heading}:\n\n{}", lines.join("\n")),
            Err(reason) => format!("{heading}: {reason}"),
        },
    )
}

fn dates(
    analysis: &Analysis,
    rule: &Rule,
    zones: &ZoneDb,
    file: &str,
    id: &str,
) -> Result<Vec<String>, String> {
    let program = analysis
        .program(zones)
        .ok_or("shown when the flows have no error")?;
    let (flow, rule_name) = rule_of(program, analysis, rule).ok_or("rule not found")?;
    let dir = analysis.project_dir.as_deref().ok_or("no project folder")?;
    let path = dir.join(file);
    let input = File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let reader = ContactReader::new(program, BufReader::new(input))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let contact = reader
        .filter_map(Result::ok)
        .find(|c| c.id == id)
        .ok_or_else(|| format!("no contact `{id}` in {file}"))?;
    let now = Timestamp::now();
    let end = now
        .checked_add(((3 * 366) * 24).hours())
        .map_err(|e| e.to_string())?;
    let window = Window::new(now, end).map_err(|e| e.to_string())?;
    let evaluation = evaluate(program, zones, &contact, &History::default(), &window)
        .map_err(|e| e.to_string())?;
    if let Some(problem) = evaluation.problems.first() {
        return Err(problem.to_string());
    }
    Ok(evaluation
        .dues
        .iter()
        .filter(|d| d.flow == flow && d.rule == rule_name)
        .take(SHOWN)
        .map(describe)
        .collect())
}

/// The compiled (flow, rule) names of an AST rule: the one at its place.
fn rule_of(program: &Program, analysis: &Analysis, rule: &Rule) -> Option<(String, String)> {
    let path = analysis.sources.path(analysis.document);
    let (line, column) = analysis
        .sources
        .line_col(analysis.document, rule.span.start);
    program.flows.iter().find_map(|flow| {
        flow.rules.iter().find_map(|code| {
            let source = program.sources.get(code.loc.source as usize)?;
            (source == path && code.loc.line as usize == line && code.loc.column as usize == column)
                .then(|| {
                    (
                        program.string(flow.name).to_string(),
                        program.string(code.name).to_string(),
                    )
                })
        })
    })
}

/// `- 2027-05-31 08:00 Europe/Paris (birthday/2027)`, with why it would be
/// skipped when it would.
fn describe(due: &Due) -> String {
    let time = due.local_time.strftime("%H:%M");
    let skipped = match &due.outcome {
        Outcome::Skipped(why) => format!(", skipped: {why}"),
        Outcome::Planned(_) => String::new(),
    };
    format!(
        "- {} {time} {} ({}{skipped})",
        due.local_date, due.zone, due.occurrence
    )
}
