//! `flowc serve` on loopback, talked to over HTTP by a real client, each
//! exchange followed by a `flowc run` whose deliveries show its effect:
//! one-click unsubscribe (RFC 8058) and its page, a tracked click and its
//! redirect, the open pixel, the events API; forged tokens get a plain 404.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{temp_dir, text, BIN};

/// A running `flowc serve`, stopped when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, env: &[(&str, &str)]) -> Serve {
    serve_with(dir, env, &[])
}

fn serve_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Serve {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--program",
            ".",
            "--state",
            "flow.db",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("FLOWC_SECRET")
        .env_remove("FLOWC_EVENTS_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("flowc serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    Serve { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// Status, a header, and the body of a GET.
fn get(url: &str, header: &str) -> (u16, Option<String>, String) {
    let mut response = agent().get(url).call().expect("an answer");
    let value = response
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, value, body)
}

fn post(url: &str, content_type: &str, body: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = agent().post(url).header("Content-Type", content_type);
    if let Some(token) = bearer {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.send(body).expect("an answer");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A project: a birthday greeting with a tracked link, a follow-up for
/// those who clicked it, and a reminder on the day.
fn project(name: &str) -> PathBuf {
    let dir = temp_dir(&format!("serve-{name}"));
    let files = [
        (
            "flow.toml",
            "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nid = \"text\"\nemail = \"email\"\nfirst_name = \"text\"\nbirthday = { type = \"date\", yearly = true }\n",
        ),
        (
            "b.flow",
            "when birthday - 3d send hello\nwhen 1d after hello if clicked hello link \"shop\" send clicked_thanks\non birthday send reminder\n",
        ),
        (
            "templates/hello.email.html",
            "+++\nsubject = \"Hello {{ first_name }}\"\n[links]\nshop = \"https://shop.example/sale?from=mail\"\n+++\n<p><a href=\"{{ links.shop }}\">Shop</a> <img src=\"{{ open_pixel_url }}\" alt=\"\"> <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n",
        ),
        (
            "templates/clicked_thanks.email.txt",
            "+++\nsubject = \"Thanks for looking\"\n+++\nThanks. {{ unsubscribe_url }}\n",
        ),
        (
            "templates/reminder.email.txt",
            "+++\nsubject = \"Happy birthday\"\n+++\nHappy birthday. {{ unsubscribe_url }}\n",
        ),
        (
            "contacts.csv",
            "id,email,first_name,birthday\na1,ana@example.com,Ana,1990-06-15\nb1,bram@example.com,Bram,1990-06-15\n",
        ),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        std::fs::write(path, content).expect("write");
    }
    dir
}

fn run(dir: &Path, now: &str, base: &str) -> std::process::Output {
    let out = support::flowc(
        dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            now,
            "--lookback",
            "1h",
            "--public-url",
            base,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// The mails in the outbox to `address` whose subject starts with `subject`.
fn mails(dir: &Path, address: &str, subject: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|m| m.contains(&format!("<{address}>")))
                .filter(|m| m.contains(&format!("Subject: {subject}")))
                .collect()
        })
        .unwrap_or_default()
}

/// The URL in `List-Unsubscribe` of a mail.
fn unsubscribe_url(mail: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.starts_with("List-Unsubscribe: <"))
        .expect("List-Unsubscribe");
    line["List-Unsubscribe: <".len()..line.find('>').expect(">")].to_string()
}

/// The `href`/`src` URLs of a mail's HTML body that lead to `base`.
fn links_to(mail: &str, base: &str, path: &str) -> Vec<String> {
    let flat = mail.replace("=\r\n", "").replace("=3D", "=");
    let prefix = format!("{base}/{path}/");
    flat.match_indices(&prefix)
        .map(|(i, _)| {
            flat[i..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '<' | '>' | ' ' | '\r' | '\n'))
                .collect()
        })
        .collect()
}

// 12 June 2027, 08:00 in Paris: the greeting; the 15th is the birthday.
const GREETING: &str = "2027-06-12T06:00:00Z";
const BIRTHDAY: &str = "2027-06-15T06:00:00Z";

#[test]
fn a_one_click_unsubscribe_stops_the_next_mail_and_a_get_does_not_unsubscribe() {
    let dir = project("unsubscribe");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let hello = mails(&dir, "ana@example.com", "Hello");
    assert_eq!(hello.len(), 1);
    assert!(hello[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let url = unsubscribe_url(&hello[0]);
    assert!(url.starts_with(&format!("{}/u/", service.base)), "{url}");
    assert!(
        !url.contains("a1") && !url.contains("ana"),
        "no contact data in {url}"
    );
    // A GET (a link scanner, or the reader) shows the page, changes nothing.
    let (status, cache, page) = get(&url, "cache-control");
    assert_eq!(status, 200);
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert!(
        page.contains("<form method=\"post\">") && page.contains("Unsubscribe"),
        "{page}"
    );
    // RFC 8058: the mail client's POST unsubscribes at once.
    let (status, _) = post(
        &url,
        "application/x-www-form-urlencoded",
        "List-Unsubscribe=One-Click",
        None,
    );
    assert_eq!(status, 200);
    let (_, _, page) = get(&url, "cache-control");
    assert!(page.contains("You are unsubscribed"), "{page}");
    // The next run sends Bram his reminder, and Ana nothing.
    let out = run(&dir, BIRTHDAY, &service.base);
    assert_eq!(mails(&dir, "bram@example.com", "Happy birthday").len(), 1);
    assert!(
        mails(&dir, "ana@example.com", "Happy birthday").is_empty(),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_page_undoes_an_unsubscribe() {
    let dir = project("undo");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let url = unsubscribe_url(&mails(&dir, "ana@example.com", "Hello")[0]);
    let form = "application/x-www-form-urlencoded";
    let (status, page) = post(&url, form, "action=unsubscribe", None);
    assert_eq!(status, 200);
    assert!(page.contains("You are unsubscribed"), "{page}");
    let (status, page) = post(&url, form, "action=resubscribe", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("You will receive these e-mails again"),
        "{page}"
    );
    run(&dir, BIRTHDAY, &service.base);
    assert_eq!(mails(&dir, "ana@example.com", "Happy birthday").len(), 1);
}

#[test]
fn a_tracked_click_redirects_to_the_declared_target_and_brings_the_clickers_follow_up() {
    // A click is recorded at the wall clock's instant: the greeting must be
    // sent before it, so this test lives in the present. The birthday is
    // in two days; the greeting was due yesterday at 08:00 in Paris (the
    // flow allows it three days' lateness), the follow-up two days after
    // it, tomorrow, after the click.
    let dir = project("click");
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let birthday = today.checked_add(jiff::ToSpan::days(2)).expect("a date");
    let contacts = format!(
        "id,email,first_name,birthday\na1,ana@example.com,Ana,1992-{:02}-{:02}\nb1,bram@example.com,Bram,1992-{:02}-{:02}\n",
        birthday.month(),
        birthday.day(),
        birthday.month(),
        birthday.day()
    );
    std::fs::write(dir.join("contacts.csv"), contacts).expect("write");
    std::fs::write(
        dir.join("b.flow"),
        "lateness: 3d\nwhen birthday - 3d send hello\nwhen 2d after hello if clicked hello link \"shop\" send clicked_thanks\n",
    )
    .expect("write");
    let now = jiff::Timestamp::now();
    let later = now
        .checked_add(jiff::SignedDuration::from_hours(48))
        .expect("an instant");
    let service = serve(&dir, &[]);
    let out = support::flowc(
        &dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            &now.to_string(),
            "--lookback",
            "3d",
            "--public-url",
            &service.base,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hello = &mails(&dir, "ana@example.com", "Hello")[0];
    let clicks = links_to(hello, &service.base, "c");
    assert_eq!(clicks.len(), 1, "{hello}");
    let (status, location, _) = get(&clicks[0], "location");
    assert_eq!(status, 302);
    assert_eq!(
        location.as_deref(),
        Some("https://shop.example/sale?from=mail")
    );
    // The pixel: a GIF, and an open recorded.
    let pixels = links_to(hello, &service.base, "o");
    assert_eq!(pixels.len(), 1, "{hello}");
    let (status, kind, _) = get(&pixels[0], "content-type");
    assert_eq!((status, kind.as_deref()), (200, Some("image/gif")));
    // Two days on: Ana clicked, Bram did not.
    run(&dir, &later.to_string(), &service.base);
    assert_eq!(
        mails(&dir, "ana@example.com", "Thanks for looking").len(),
        1
    );
    assert!(mails(&dir, "bram@example.com", "Thanks for looking").is_empty());
    // The report: the click per link, and the pixel fetched at once after
    // the hand-off counted as a machine's open, not a person's.
    let report: serde_json::Value =
        serde_json::from_slice(&support::flowc(&dir, &["report", "--json"], &[]).stdout)
            .expect("json");
    let flow = &report["flows"][0];
    assert_eq!(flow["clicks_by_link"]["shop"], 1, "{report:#}");
    assert_eq!(
        (flow["machine_opened"].as_u64(), flow["opened"].as_u64()),
        (Some(1), Some(0)),
        "{report:#}"
    );
}

#[test]
fn forged_altered_and_misused_tokens_get_a_plain_404() {
    let dir = project("forged");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let hello = &mails(&dir, "ana@example.com", "Hello")[0];
    let unsubscribe = unsubscribe_url(hello);
    let click = links_to(hello, &service.base, "c").remove(0);
    let token = unsubscribe.rsplit('/').next().expect("a token").to_string();
    let mut altered: Vec<char> = token.chars().collect();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    for url in [
        format!("{}/u/{altered}", service.base),
        format!("{}/u/{}", service.base, &token[..token.len() - 2]),
        // An unsubscribe token is not a click token, nor the reverse.
        format!("{}/c/{token}", service.base),
        format!(
            "{}/u/{}",
            service.base,
            click.rsplit('/').next().expect("a token")
        ),
        format!("{}/u/", service.base),
        format!("{}/u/..%2F..%2Fetc%2Fpasswd", service.base),
        format!("{}/c/https%3A%2F%2Fevil.example", service.base),
        format!("{}/nothing", service.base),
    ] {
        let (status, location, body) = get(&url, "location");
        assert_eq!((status, location), (404, None), "{url}: {body}");
        assert_eq!(body, "not found\n", "{url}");
    }
    // A forged POST unsubscribes nobody.
    let (status, _) = post(
        &format!("{}/u/{altered}", service.base),
        "application/x-www-form-urlencoded",
        "List-Unsubscribe=One-Click",
        None,
    );
    assert_eq!(status, 404);
    run(&dir, BIRTHDAY, &service.base);
    assert_eq!(mails(&dir, "ana@example.com", "Happy birthday").len(), 1);
}

#[test]
fn the_events_api_takes_only_its_bearer_and_names_every_rejected_line() {
    let dir = project("events");
    let token = "a-long-events-token-0123456789";
    let service = serve(&dir, &[("FLOWC_EVENTS_TOKEN", token)]);
    let url = format!("{}/events", service.base);
    let lines = "{\"id\": \"u1\", \"contact\": \"a1\", \"type\": \"unsubscribed\", \"at\": \"2027-06-01T10:00:00Z\"}\n\
                 {\"contact\": \"b1\", \"type\": \"no_such_event\", \"at\": \"2027-06-01T10:00:00Z\"}\n\
                 not json\n";
    assert_eq!(post(&url, "application/x-ndjson", lines, None).0, 401);
    assert_eq!(
        post(&url, "application/x-ndjson", lines, Some("wrong")).0,
        401
    );
    let (status, body) = post(&url, "application/x-ndjson", lines, Some(token));
    assert_eq!(status, 422, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["new"], 1, "{answer}");
    let rejected = answer["rejected"].as_array().expect("rejected");
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["line"].as_u64())
            .collect::<Vec<_>>(),
        [Some(2), Some(3)],
        "{answer}"
    );
    // A replay is known, not new; a JSON array is read too.
    let (status, body) = post(
        &url,
        "application/json",
        "[{\"id\": \"u1\", \"contact\": \"a1\", \"type\": \"unsubscribed\", \"at\": \"2027-06-01T10:00:00Z\"}]",
        Some(token),
    );
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (answer["new"].as_u64(), answer["known"].as_u64()),
        (Some(0), Some(1))
    );
    // A body over the limit is refused whole: a 413, or the connection
    // closed while the client is still sending.
    let big = "x".repeat(5 * 1024 * 1024);
    let refused = agent()
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .send(big.as_str());
    match refused {
        Ok(response) => assert_eq!(response.status().as_u16(), 413),
        Err(ureq::Error::Io(_)) => {}
        Err(other) => panic!("{other}"),
    }
    // The run obeys the posted unsubscribe.
    run(&dir, GREETING, &service.base);
    assert!(mails(&dir, "ana@example.com", "Hello").is_empty());
    assert_eq!(mails(&dir, "bram@example.com", "Hello").len(), 1);
    // Without a token configured, the route does not exist.
    let closed = serve(&dir, &[]);
    assert_eq!(
        post(
            &format!("{}/events", closed.base),
            "application/x-ndjson",
            lines,
            Some(token)
        )
        .0,
        404
    );
}

#[test]
fn a_coupon_code_is_validated_and_redeemed_once_and_the_thank_you_follows() {
    // The redemption is recorded at the wall clock's instant, after the
    // offer: this test lives in the present. The birthday is in 14 days;
    // the offer was due yesterday at 08:00 in Paris (three days' lateness).
    let dir = temp_dir("serve-coupons");
    let example = Path::new(support::ROOT).join("examples/birthday");
    std::fs::create_dir_all(dir.join("templates")).expect("folder");
    for file in [
        "flow.toml",
        "templates/offer.email.html",
        "templates/reminder.email.html",
        "templates/thank_you.email.html",
    ] {
        std::fs::copy(example.join(file), dir.join(file)).expect("copy");
    }
    std::fs::write(
        dir.join("birthday.flow"),
        "lateness: 3d\nwhen birthday - 15d send offer with coupon valid 30d\non birthday if unused offer send reminder\non birthday if used offer send thank_you\n",
    )
    .expect("write");
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let birthday = today.checked_add(jiff::ToSpan::days(14)).expect("a date");
    std::fs::write(
        dir.join("contacts.csv"),
        format!(
            "id,email,first_name,time_zone,birthday,email_optin\nc001,ana@example.com,Ana,Europe/Paris,1992-{:02}-{:02},true\n",
            birthday.month(),
            birthday.day()
        ),
    )
    .expect("write");
    let token = "a-long-till-token-0123456789";
    let service = serve(&dir, &[("FLOWC_EVENTS_TOKEN", token)]);
    let out = support::flowc(
        &dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            &jiff::Timestamp::now().to_string(),
            "--lookback",
            "3d",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let offer = &mails(&dir, "ana@example.com", "Ana, your birthday gift")[0];
    let flat = offer.replace("=\r\n", "");
    let start = flat.find("OFFER-").expect("a code in the offer");
    let code: String = flat[start..]
        .chars()
        .take("OFFER-XXXXX-XXXXX".len())
        .collect();
    let url = |suffix: &str| format!("{}/coupons/{}{suffix}", service.base, code.to_lowercase());
    // Authenticated, valid, for Ana's offer (typed in lower case).
    let answer = |status: u16, body: String| -> (u16, serde_json::Value) {
        (status, serde_json::from_str(&body).unwrap_or_default())
    };
    assert_eq!(
        agent()
            .get(&url(""))
            .call()
            .expect("an answer")
            .status()
            .as_u16(),
        401
    );
    let mut response = agent()
        .get(&url(""))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("an answer");
    let (status, body) = answer(
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap_or_default(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["contact"].as_str()),
        (Some("valid"), Some("c001"))
    );
    // Redeemed once; a second time is a conflict; an unknown code is 404.
    let (status, body) = post(
        &url("/redeem"),
        "application/json",
        "{\"product\": \"the silk scarf\"}",
        Some(token),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&url("/redeem"), "application/json", "", Some(token));
    assert_eq!(status, 409, "{body}");
    assert_eq!(answer(status, body).1["status"], "used");
    let (status, _) = post(
        &format!("{}/coupons/OFFER-00000-00000/redeem", service.base),
        "application/json",
        "",
        Some(token),
    );
    assert_eq!(status, 404);
    // The export lists it, used.
    let export = text(&support::flowc(&dir, &["coupons", "export"], &[]).stdout);
    assert!(
        export
            .lines()
            .any(|l| l.starts_with(&format!("{code},used,c001,birthday,offer,"))),
        "{export}"
    );
    // On the birthday: the thank-you naming the item, not the reminder.
    let on_the_day = format!("{birthday}T12:00:00Z");
    let out = support::flowc(
        &dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            &on_the_day,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .expect("outbox")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|m| m.replace("=\r\n", ""))
        .collect();
    assert!(all.iter().any(|m| m.contains("the silk scarf")), "{all:#?}");
    assert!(
        !all.iter().any(|m| m.contains("still waiting")),
        "no reminder: {all:#?}"
    );
}

/// The Message-ID of a mail, as a provider's webhook echoes it.
fn message_id(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID")
        .trim()
        .to_string()
}

#[test]
fn provider_feedback_naming_only_a_message_id_reaches_its_contact() {
    let dir = project("message-id");
    let token = "a-long-events-token-0123456789";
    let service = serve(&dir, &[("FLOWC_EVENTS_TOKEN", token)]);
    run(&dir, GREETING, &service.base);
    let ana = message_id(&mails(&dir, "ana@example.com", "Hello")[0]);
    let bram = message_id(&mails(&dir, "bram@example.com", "Hello")[0]);
    // A complaint about Ana's mail, a hard bounce of Bram's, a soft one,
    // an open (no contact named anywhere), and one for no send at all.
    let lines = format!(
        "{{\"type\": \"complained\", \"message_id\": \"{ana}\", \"at\": \"2027-06-12T09:00:00Z\"}}\n\
         {{\"type\": \"bounced\", \"message_id\": \"{bram}\", \"at\": \"2027-06-12T09:00:00Z\", \"bounce\": \"hard\"}}\n\
         {{\"type\": \"opened\", \"message_id\": \"{ana}\", \"at\": \"2027-06-12T09:30:00Z\"}}\n\
         {{\"type\": \"bounced\", \"message_id\": \"<0000000000000000@flowc>\", \"at\": \"2027-06-12T09:00:00Z\"}}\n"
    );
    let (status, body) = post(
        &format!("{}/events", service.base),
        "application/x-ndjson",
        &lines,
        Some(token),
    );
    assert_eq!(status, 422, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["new"], 3, "{answer}");
    assert_eq!(answer["rejected"][0]["line"], 4, "{answer}");
    // Neither gets the birthday reminder: a complaint and a hard bounce
    // withdraw e-mail.
    let out = run(&dir, BIRTHDAY, &service.base);
    assert!(
        mails(&dir, "ana@example.com", "Happy birthday").is_empty(),
        "{}",
        text(&out.stderr)
    );
    assert!(mails(&dir, "bram@example.com", "Happy birthday").is_empty());
    let report: serde_json::Value =
        serde_json::from_slice(&support::flowc(&dir, &["report", "--json"], &[]).stdout)
            .expect("json");
    let flow = &report["flows"][0];
    assert_eq!(
        (flow["complained"].as_u64(), flow["bounced"].as_u64()),
        (Some(1), Some(1)),
        "{report:#}"
    );
    let table = text(&support::flowc(&dir, &["report"], &[]).stdout);
    assert!(table.contains("complaints"), "{table}");
}

#[test]
fn a_slow_client_is_cut_off_and_others_are_still_served() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let dir = project("slow");
    let token = "a-long-events-token-0123456789";
    let service = serve_with(
        &dir,
        &[("FLOWC_EVENTS_TOKEN", token)],
        &["--client-timeout", "1s"],
    );
    let address = service.base.trim_start_matches("http://").to_string();
    let connect = || {
        let stream = TcpStream::connect(&address).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        stream
    };
    // Headers that never end (slowloris), and a body that never comes:
    // both connections are closed after the client timeout, the second
    // with a 408.
    let mut headers = connect();
    headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        .expect("writes");
    let mut body = connect();
    body.write_all(
        format!(
            "POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{\"type\""
        )
        .as_bytes(),
    )
    .expect("writes");
    let started = Instant::now();
    // Meanwhile a client that asks properly is answered.
    let (status, _, text) = get(&format!("{}/healthz", service.base), "content-type");
    assert_eq!((status, text.as_str()), (200, "ok\n"));
    let mut answer = Vec::new();
    headers
        .read_to_end(&mut answer)
        .expect("the server closes the connection (not the read timeout)");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(8),
        "cut off after {waited:?}, {answer:?}"
    );
    assert!(
        answer.is_empty() || String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let mut answer = String::new();
    body.read_to_string(&mut answer)
        .expect("the server answers and closes");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

/// The serve project with two kinds of message declared: the greeting is
/// `news`, the birthday reminder `offers`, and a kindless thank-you goes
/// on the birthday too.
fn project_with_kinds(name: &str) -> PathBuf {
    let dir = project(name);
    let toml = std::fs::read_to_string(dir.join("flow.toml")).expect("flow.toml");
    std::fs::write(
        dir.join("flow.toml"),
        format!("{toml}[kinds]\nnews = \"News & greetings\"\noffers = \"Offers <and> coupons\"\n"),
    )
    .expect("flow.toml");
    std::fs::remove_file(dir.join("b.flow")).expect("b.flow");
    for (file, text) in [
        ("news.flow", "kind: news\nwhen birthday - 3d send hello\n"),
        ("offers.flow", "kind: offers\non birthday send reminder\n"),
        ("plain.flow", "on birthday send clicked_thanks\n"),
    ] {
        std::fs::write(dir.join(file), text).expect("a flow");
    }
    dir
}

#[test]
fn the_preference_page_stops_one_kind_and_keeps_the_others() {
    let dir = project_with_kinds("kinds");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let url = unsubscribe_url(&mails(&dir, "ana@example.com", "Hello")[0]);
    let (status, _, page) = get(&url, "content-type");
    assert_eq!(status, 200);
    // Every box ticked; the project's words escaped; no SMS or push box
    // (the project sends neither).
    for item in [
        "name=\"channel\" value=\"email\" checked",
        "name=\"kind\" value=\"news\" checked",
        "name=\"kind\" value=\"offers\" checked",
        "News &amp; greetings",
        "Offers &lt;and&gt; coupons",
    ] {
        assert!(page.contains(item), "{item} in {page}");
    }
    assert!(!page.contains("value=\"sms\""), "{page}");
    // Offers unticked, the rest kept.
    let form = "application/x-www-form-urlencoded";
    let (status, page) = post(
        &url,
        form,
        "action=preferences&channel=email&kind=news",
        None,
    );
    assert_eq!(status, 200);
    assert!(page.contains("Your preferences are saved"), "{page}");
    assert!(
        page.contains("name=\"kind\" value=\"offers\">")
            && page.contains("name=\"kind\" value=\"news\" checked"),
        "{page}"
    );
    run(&dir, BIRTHDAY, &service.base);
    // Ana: no offer, the kindless thank-you; Bram: both.
    assert!(mails(&dir, "ana@example.com", "Happy birthday").is_empty());
    assert_eq!(
        mails(&dir, "ana@example.com", "Thanks for looking").len(),
        1
    );
    assert_eq!(mails(&dir, "bram@example.com", "Happy birthday").len(), 1);
    assert_eq!(
        mails(&dir, "bram@example.com", "Thanks for looking").len(),
        1
    );
    // The same form again changes nothing (no new event); e-mail unticked
    // withdraws every e-mail, offers and news included.
    let (_, page) = post(&url, form, "action=preferences&kind=news", None);
    assert!(
        page.contains("You are unsubscribed from these e-mails"),
        "{page}"
    );
    assert!(page.contains("name=\"channel\" value=\"email\">"), "{page}");
}

#[test]
fn the_preference_page_works_in_a_real_browser() {
    if !support::browser::available() {
        return;
    }
    let dir = project_with_kinds("browser");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let url = unsubscribe_url(&mails(&dir, "ana@example.com", "Hello")[0]);
    let browser = support::browser::Browser::start();
    browser.open(&url);
    assert!(browser.selected(&browser.find("#kind-offers")));
    browser.click(&browser.find("#kind-offers"));
    assert!(!browser.selected(&browser.find("#kind-offers")));
    browser.submit(&browser.find("#save"));
    // The answer is a new page: read, not the page before the submit.
    let status = browser.text(&browser.find("[role=status]"));
    assert_eq!(status, "Your preferences are saved.");
    assert!(!browser.selected(&browser.find("#kind-offers")));
    assert!(browser.selected(&browser.find("#kind-news")));
    assert!(browser.selected(&browser.find("#channel-email")));
    let shot = browser.screenshot("preferences-saved");
    eprintln!("screenshot: {}", shot.display());
    // The main button, then its undo.
    browser.submit(&browser.find("#unsubscribe"));
    assert_eq!(
        browser.text(&browser.find("[role=status]")),
        "You are unsubscribed: no more of these e-mails will be sent."
    );
    browser.screenshot("unsubscribed");
    browser.submit(&browser.find("#resubscribe"));
    assert_eq!(
        browser.text(&browser.find("[role=status]")),
        "You will receive these e-mails again."
    );
    let console = browser.console();
    assert!(console.is_empty(), "the console: {console:?}");
    drop(browser);
    // The browser's choices reached the state: offers stay off.
    run(&dir, BIRTHDAY, &service.base);
    assert!(mails(&dir, "ana@example.com", "Happy birthday").is_empty());
    assert_eq!(
        mails(&dir, "ana@example.com", "Thanks for looking").len(),
        1
    );
}

#[test]
fn the_report_attributes_purchases_to_the_last_message_within_the_window() {
    let dir = project("attribution");
    let toml = std::fs::read_to_string(dir.join("flow.toml")).expect("flow.toml");
    std::fs::write(
        dir.join("flow.toml"),
        format!("{toml}[events.purchase]\namount = \"number\"\n[attribution]\nevent = \"purchase\"\namount = \"amount\"\nwindow = \"2d\"\n"),
    )
    .expect("flow.toml");
    let token = "a-long-events-token-0123456789";
    let service = serve(&dir, &[("FLOWC_EVENTS_TOKEN", token)]);
    run(&dir, GREETING, &service.base);
    // Two purchases of Ana within two days of her greeting; Bram's a week
    // later (outside the window); a purchase before any message.
    let lines = [
        r#"{"type": "purchase", "contact": "a1", "at": "2027-06-13T10:00:00Z", "id": "p1", "amount": 40}"#,
        r#"{"type": "purchase", "contact": "a1", "at": "2027-06-13T12:00:00Z", "id": "p2", "amount": 10.5}"#,
        r#"{"type": "purchase", "contact": "b1", "at": "2027-06-19T10:00:00Z", "id": "p3", "amount": 99}"#,
        r#"{"type": "purchase", "contact": "b1", "at": "2027-06-01T10:00:00Z", "id": "p4", "amount": 7}"#,
    ];
    let (status, body) = post(
        &format!("{}/events", service.base),
        "application/x-ndjson",
        &lines.join("\n"),
        Some(token),
    );
    assert_eq!(status, 200, "{body}");
    let out = support::flowc(
        &dir,
        &["report", "--state", "flow.db", "--program", ".", "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["attribution"]["flows"],
        serde_json::json!([{ "flow": "b", "count": 2, "revenue": 50.5 }]),
        "{report}"
    );
    assert_eq!(report["attribution"]["window_seconds"], 172_800);
    let out = support::flowc(
        &dir,
        &["report", "--state", "flow.db", "--program", "."],
        &[],
    );
    let shown = text(&out.stdout);
    assert!(
        shown.contains("purchase within 2d of a message (the last one counts), and their amount:"),
        "{shown}"
    );
    assert!(shown.contains("50.50"), "{shown}");
}

#[test]
fn the_events_token_comes_from_a_file_and_an_unreadable_one_is_named() {
    let dir = project("token-file");
    let missing = dir.join("secrets/events-token");
    let out = support::flowc(
        &dir,
        &["serve", "--program", ".", "--listen", "127.0.0.1:0"],
        &[("FLOWC_EVENTS_TOKEN_FILE", missing.to_str().expect("a path"))],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot read FLOWC_EVENTS_TOKEN_FILE {}",
            missing.display()
        )),
        "{stderr}"
    );
    // From a file (with its newline), the token works.
    let token = "a-long-events-token-from-a-file";
    std::fs::create_dir_all(missing.parent().expect("a folder")).expect("a folder");
    std::fs::write(&missing, format!("{token}\n")).expect("the token file");
    let service = serve(
        &dir,
        &[("FLOWC_EVENTS_TOKEN_FILE", missing.to_str().expect("a path"))],
    );
    let event = r#"{"type": "visit", "contact": "a1", "at": "2027-06-13T10:00:00Z", "id": "v1"}"#;
    let url = format!("{}/events", service.base);
    let (status, body) = post(&url, "application/x-ndjson", event, Some(token));
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"known":0,"new":1,"rejected":[]}"#)
    );
    let (status, _) = post(
        &url,
        "application/x-ndjson",
        event,
        Some("wrong-token-0123456789"),
    );
    assert_eq!(status, 401);
}

#[test]
fn concurrent_first_clicks_are_each_recorded_once_in_groups() {
    let dir = project("concurrent-clicks");
    let contacts: String = (0..40)
        .map(|i| format!("k{i:02},k{i:02}@example.com,K{i},1990-06-15\n"))
        .collect();
    std::fs::write(
        dir.join("contacts.csv"),
        format!("id,email,first_name,birthday\n{contacts}"),
    )
    .expect("contacts");
    let service = serve(&dir, &[]);
    run(&dir, GREETING, &service.base);
    let links: Vec<String> = (0..40)
        .map(|i| {
            let mail = &mails(&dir, &format!("k{i:02}@example.com"), "Hello")[0];
            links_to(mail, &service.base, "c").remove(0)
        })
        .collect();
    // Every link clicked twice, all at once.
    let answers: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let clicks: Vec<_> = links
            .iter()
            .chain(links.iter())
            .map(|link| {
                scope.spawn(move || {
                    let (status, location, _) = get(link, "location");
                    (status, location)
                })
            })
            .collect();
        clicks
            .into_iter()
            .map(|c| c.join().expect("a click"))
            .collect()
    });
    for answer in &answers {
        assert_eq!(
            answer,
            &(302, Some("https://shop.example/sale?from=mail".to_string()))
        );
    }
    let state = rusqlite::Connection::open(dir.join("flow.db")).expect("the state");
    let (events, contacts): (i64, i64) = state
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT contact) FROM events WHERE kind = 'clicked'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the clicks");
    assert_eq!((events, contacts), (40, 40));
}
