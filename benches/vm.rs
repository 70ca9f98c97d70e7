//! Benchmark (not a test): the VM over generated contacts with the example
//! flows (S1–S5), a one-day window, one thread, release build; beside the
//! floor, the cost of generating and walking the same contacts without
//! evaluating them. Contacts are generated on the fly: memory stays flat.
//!
//! `cargo bench --bench vm` (BENCH_CONTACTS=100000 for a quicker run).
//! `BENCH_CSV=contacts.csv cargo bench --bench vm` only times reading and
//! typing that file with the birthday example's schema: the floor that
//! `bench/run.sh` compares a whole `flowc run` with.

use std::path::Path;
use std::time::Instant;

use flowc_compiler::project::Project;
use flowc_compiler::source::Sources;
use flowc_runtime::bytecode::Program;
use flowc_runtime::calendar::{Window, ZoneDb};
use flowc_runtime::input::ContactReader;
use flowc_runtime::vm::{Contact, Evaluator, Event, History, Value};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

const ZONES: &[&str] = &[
    "Europe/Paris",
    "America/New_York",
    "America/Vancouver",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "UTC",
];

/// Every example project, compiled.
fn example_programs(zones: &ZoneDb) -> Vec<Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut programs = Vec::new();
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let mut sources = Sources::new();
        let project_text = std::fs::read_to_string(dir.join("flow.toml")).expect("flow.toml");
        let project_id = sources.add("flow.toml", project_text);
        let (project, _) = Project::parse(&sources, project_id);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("project dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "flow"))
            .collect();
        files.sort();
        let ids: Vec<_> = files
            .iter()
            .map(|f| {
                sources.add(
                    f.display().to_string(),
                    std::fs::read_to_string(f).expect("flow"),
                )
            })
            .collect();
        let (program, diagnostics) = flowc_compiler::build_flows(&sources, &ids, &project, zones);
        let program = program
            .unwrap_or_else(|| panic!("{} does not compile: {diagnostics:?}", dir.display()));
        programs.push(program);
    }
    programs
}

/// A deterministic pseudo-random contact (xorshift), with a little history.
fn contact(i: u64) -> (Contact, History) {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let date = |r: u64| {
        Date::new(
            1950 + (r % 70) as i16,
            1 + (r / 70 % 12) as i8,
            1 + (r / 840 % 28) as i8,
        )
        .ok()
    };
    let mut c = Contact::new(format!("c{i}"))
        .with("email", Value::Text(format!("c{i}@example.com")))
        .with("first_name", Value::Text("Ana".into()))
        .with(
            "time_zone",
            Value::Text(ZONES[(next() % ZONES.len() as u64) as usize].into()),
        )
        .with(
            "country",
            Value::Text(["FR", "ES", "BE"][(next() % 3) as usize].into()),
        )
        .with("email_optin", Value::Bool(next() % 10 != 0))
        .with("sms_optin", Value::Bool(next() % 2 == 0))
        .with("sales_rep", Value::Text("rep@example.com".into()))
        .with("account_manager", Value::Text("am@example.com".into()))
        .with("tags", Value::List(vec![Value::Text("vip".into())]));
    if let Some(d) = date(next()) {
        c = c.with("birthday", Value::Date(d));
    }
    if let Some(d) =
        date(next()).and_then(|d| Date::new(d.year().max(2000), d.month(), d.day()).ok())
    {
        c = c.with("joined", Value::Date(d));
    }
    let mut history = History::default();
    if next() % 4 == 0 {
        let at: Timestamp = "2027-03-01T10:00:00Z".parse().expect("timestamp");
        let at = at + SignedDuration::from_hours((next() % (20 * 24)) as i64);
        history.events.push(
            Event::new(&format!("p{i}"), "purchase", at)
                .with("product", Value::Text("pack-1m".into())),
        );
    }
    (c, history)
}

fn main() {
    let count: u64 = std::env::var("BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let zones = ZoneDb::bundled();
    let programs = example_programs(&zones);
    if let Some(path) = std::env::var_os("BENCH_CSV") {
        csv_floor(&programs, Path::new(&path));
        return;
    }
    let day = Window::new(
        "2027-03-15T00:00:00Z".parse().expect("timestamp"),
        "2027-03-16T00:00:00Z".parse().expect("timestamp"),
    )
    .expect("window");

    // The floor: generate and walk every contact (touch its fields).
    let start = Instant::now();
    let mut touched = 0usize;
    for i in 0..count {
        let (c, h) = contact(i);
        touched += c.fields.len() + h.events.len();
    }
    let floor = start.elapsed();

    let mut evaluators: Vec<Evaluator> =
        programs.iter().map(|p| Evaluator::new(p, &zones)).collect();
    let start = Instant::now();
    let (mut dues, mut evaluations) = (0usize, 0u64);
    for i in 0..count {
        let (c, h) = contact(i);
        for evaluator in &mut evaluators {
            let result = evaluator.evaluate(&c, &h, &day).expect("evaluation");
            dues += result.dues.len();
            evaluations += 1;
        }
    }
    let vm = start.elapsed();
    let flows: usize = programs.iter().map(|p| p.flows.len()).sum();
    println!(
        "contacts: {count}, example programs: {} ({flows} flows), window: one day",
        programs.len()
    );
    println!(
        "floor (generate and walk contacts): {:.2} s ({touched} values)",
        floor.as_secs_f64()
    );
    println!(
        "VM (generate and evaluate):         {:.2} s, {dues} dues, {:.0} contact-evaluations/s",
        vm.as_secs_f64(),
        evaluations as f64 / vm.as_secs_f64()
    );
    println!(
        "VM cost over the floor: {:.2}x",
        vm.as_secs_f64() / floor.as_secs_f64()
    );

    // The same with contacts read from a CSV file, as a run reads them: the
    // floor is reading and typing the file (the birthday example's flows).
    let birthday = &programs[2.min(programs.len() - 1)];
    let path = std::env::temp_dir().join(format!("flowc-bench-{}.csv", std::process::id()));
    write_csv(&path, count);
    let open = || std::io::BufReader::new(std::fs::File::open(&path).expect("csv"));
    let start = Instant::now();
    let mut read = 0usize;
    for c in ContactReader::new(birthday, open()).expect("header") {
        read += c.map(|c| c.fields.len()).unwrap_or(0);
    }
    let floor = start.elapsed();
    let mut evaluator = Evaluator::new(birthday, &zones);
    let history = History::default();
    let start = Instant::now();
    let mut dues = 0usize;
    for c in ContactReader::new(birthday, open()).expect("header") {
        let c = c.expect("a valid row");
        dues += evaluator
            .evaluate(&c, &history, &day)
            .expect("evaluation")
            .dues
            .len();
    }
    let vm = start.elapsed();
    let _ = std::fs::remove_file(&path);
    println!(
        "contacts file, birthday flows: read {:.2} s ({read} values), read and evaluate {:.2} s ({dues} dues): {:.2}x",
        floor.as_secs_f64(),
        vm.as_secs_f64(),
        vm.as_secs_f64() / floor.as_secs_f64()
    );
}

/// Reads and types every row of `path` (the birthday example's schema).
fn csv_floor(programs: &[Program], path: &Path) {
    let birthday = programs
        .iter()
        .find(|p| p.flows.iter().any(|f| p.string(f.name) == "birthday"))
        .expect("the birthday example");
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("BENCH_CSV"));
    let start = Instant::now();
    let (mut rows, mut values) = (0u64, 0usize);
    for c in ContactReader::new(birthday, file).expect("header") {
        rows += 1;
        values += c.map(|c| c.fields.len()).unwrap_or(0);
    }
    println!(
        "floor: read and typed {rows} contacts ({values} values) in {:.2} s",
        start.elapsed().as_secs_f64()
    );
}

/// The birthday example's contact columns, `count` rows.
fn write_csv(path: &Path, count: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("temp csv"));
    writeln!(out, "id,email,first_name,time_zone,birthday,email_optin").expect("write");
    for i in 0..count {
        let (c, _) = contact(i);
        let zone = c.field("time_zone").to_text();
        let birthday = c.field("birthday").to_text();
        writeln!(
            out,
            "c{i},c{i}@example.com,Ana,{zone},{birthday},{}",
            i % 10 != 0
        )
        .expect("write");
    }
}
