//! `flowc serve --program P --state flow.db --listen 127.0.0.1:8080`: the
//! HTTP service beside the scheduler that collects what comes back — the
//! one-click unsubscribe of RFC 8058 and its page, tracked clicks, the open
//! pixel, and events posted by feeds — into the same state, where the next
//! `flowc run` obeys them (an unsubscribe stops the next hand-off).
//!
//! Tokens are verified before the state is touched; anything that does not
//! verify is a plain 404 that says nothing about why. Request logs name the
//! route, never the token or the contact. Behind a reverse proxy that
//! terminates TLS (docs/operations.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode::Program;
use flowc_runtime::feedback::{self, Resolved, Subscription};
use flowc_runtime::input::read_events;
use flowc_runtime::keys::{Keys, Purpose};
use flowc_runtime::state::{SqliteState, StateStore};
use flowc_runtime::vm::Event;
use jiff::Timestamp;

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The program (or flows): link targets and the event catalogue.
    #[arg(long, value_name = "FILE")]
    program: PathBuf,

    /// The state file the runs use (SQLite), created when missing.
    #[arg(long, value_name = "FILE", default_value = "flow.db")]
    state: PathBuf,

    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// How long a client may take to send a request's headers, and then
    /// to be answered: a slow or stalled client is cut off after it.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = client_timeout)]
    client_timeout: Duration,
}

fn client_timeout(text: &str) -> Result<Duration, String> {
    let span: jiff::Span = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `10s` or `1m`"))?;
    let duration = jiff::SignedDuration::try_from(span)
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a positive duration of seconds or minutes"))?;
    Ok(duration)
}

/// The largest body `POST /events` reads.
const MAX_EVENTS_BODY: usize = 4 * 1024 * 1024;

/// An open within this long of the hand-off is a machine's (a privacy
/// proxy fetching images), not a person's.
const MACHINE_OPEN: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

struct Service {
    program: Program,
    keys: Keys,
    store: Mutex<SqliteState>,
    /// `FLOWC_EVENTS_TOKEN`: the bearer token of `POST /events`; without
    /// it the route answers 404.
    events_token: Option<String>,
}

type Shared = Arc<Service>;

pub fn run(args: ServeArgs, zones: &ZoneDb) -> u8 {
    match serve(args, zones) {
        Ok(()) => EXIT_OK,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
    }
}

fn serve(args: ServeArgs, zones: &ZoneDb) -> Result<(), String> {
    let program = super::run::load_program(&args.program, zones).map_err(|(_, m)| m)?;
    let mut store = SqliteState::open(&args.state).map_err(|e| e.0)?;
    let keys = flowc_runtime::keys::for_state(&mut store).map_err(|e| e.0)?;
    let events_token = match (
        std::env::var("FLOWC_EVENTS_TOKEN").ok(),
        std::env::var_os("FLOWC_EVENTS_TOKEN_FILE"),
    ) {
        (Some(token), _) if !token.is_empty() => Some(token),
        (_, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| {
                    format!(
                        "cannot read FLOWC_EVENTS_TOKEN_FILE {}: {e}",
                        std::path::Path::new(&path).display()
                    )
                })?
                .trim()
                .to_string(),
        ),
        _ => None,
    };
    if events_token.as_ref().is_some_and(|t| t.len() < 16) {
        return Err("FLOWC_EVENTS_TOKEN must be at least 16 characters".into());
    }
    let service = Arc::new(Service {
        program,
        keys,
        store: Mutex::new(store),
        events_token,
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/c/{token}", get(click))
        .route("/o/{token}", get(open))
        .route("/events", post(events))
        .route("/coupons/{code}", get(coupon))
        .route("/coupons/{code}/redeem", post(redeem))
        .fallback(|| async { not_found() })
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_EVENTS_BODY,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            args.client_timeout,
        ))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(service);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        // The first line says where it listens (port 0 picks a free one).
        println!("flowc serve: listening on http://{address}");
        connections(listener, app, args.client_timeout).await;
        Ok::<(), String>(())
    })?;
    eprintln!("flowc serve: stopped");
    Ok(())
}

/// Accepts connections and serves each one over HTTP/1.1 with a deadline
/// for its headers (the slowloris attack holds connections open by sending
/// them a byte at a time), until SIGINT or SIGTERM; then stops accepting
/// and lets the requests in flight finish, for at most `timeout`.
async fn connections(listener: tokio::net::TcpListener, app: Router, timeout: Duration) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    let mut stop = std::pin::pin!(shutdown());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most often: wait rather
                    // than spin, and keep serving the open connections.
                    eprintln!("warning: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away is its own business.
            let _ = connection.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(timeout) => {
            eprintln!("flowc serve: requests still open after {timeout:?} were cut off");
        }
    }
}

/// SIGINT or SIGTERM: stop accepting, finish the requests in flight.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// One line per request: method, route (never the token), status, time.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = match request.uri().path().split('/').nth(1) {
        Some(first @ ("u" | "c" | "o")) => format!("/{first}/…"),
        _ => request.uri().path().chars().take(64).collect(),
    };
    let response = next.run(request).await;
    eprintln!(
        "{} {method} {route} {} {}ms",
        Timestamp::now(),
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the state cannot be reached; try again\n",
    )
        .into_response()
}

/// Runs `f` on the state off the async threads.
async fn with_store<T: Send + 'static>(
    service: &Shared,
    f: impl FnOnce(&Service, &mut SqliteState) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let service = service.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = service
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&service, &mut store)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A token resolved to its send.
async fn resolved(
    service: &Shared,
    token: String,
    purpose: Purpose,
) -> Result<Option<Resolved>, String> {
    with_store(service, move |service, store| {
        feedback::resolve(&service.keys, store, &token, purpose).map_err(|e| e.0)
    })
    .await
}

async fn record(service: &Shared, contact: String, event: Event) -> Result<(), String> {
    with_store(service, move |_, store| {
        store.ingest(&contact, &event).map(|_| ()).map_err(|e| e.0)
    })
    .await
}

/// Where a contact stands, as the preference page shows it.
struct Standing {
    /// Withdrawn from every marketing e-mail.
    email: bool,
    /// The channels the program sends on: name, label, withdrawn.
    channels: Vec<(&'static str, &'static str, bool)>,
    /// The kinds of message the project declares: name, words, withdrawn.
    kinds: Vec<(String, String, bool)>,
}

fn standing(program: &Program, events: &[Event], now: Timestamp) -> Standing {
    use flowc_runtime::bytecode::Channel;
    use flowc_runtime::vm::consent::{channel_withdrawn, kind_withdrawn};
    let channels = [
        (Channel::Email, "E-mail"),
        (Channel::Sms, "Text messages (SMS)"),
        (Channel::Push, "Push notifications"),
    ]
    .into_iter()
    .filter(|(channel, _)| {
        *channel == Channel::Email || program.templates.iter().any(|t| t.channel == *channel)
    })
    .map(|(channel, label)| {
        (
            channel.name(),
            label,
            channel_withdrawn(events, channel.name(), now),
        )
    })
    .collect();
    let kinds = program
        .kinds
        .iter()
        .map(|(name, words)| {
            let name = program.string(*name);
            (
                name.to_string(),
                program.string(*words).to_string(),
                kind_withdrawn(events, name, now),
            )
        })
        .collect();
    Standing {
        email: channel_withdrawn(events, "email", now),
        channels,
        kinds,
    }
}

/// What a POST to `/u/TOKEN` asks.
enum Change {
    /// Out of (or, `back`, into) every marketing e-mail: RFC 8058's
    /// one-click POST, or the page's main button.
    Email { back: bool, via: &'static str },
    /// The preference form: the channels and kinds left ticked.
    Preferences {
        channels: Vec<String>,
        kinds: Vec<String>,
    },
}

/// Resolves a `/u/` token, applies `change` (none for a GET) in one group
/// and answers where the contact stands after it; `None` for a token
/// that does not verify.
async fn preferences(
    service: &Shared,
    token: String,
    change: Option<Change>,
) -> Result<Option<Standing>, String> {
    with_store(service, move |service, store| {
        let program = &service.program;
        let Some(resolved) = feedback::resolve(&service.keys, store, &token, Purpose::Unsubscribe)
            .map_err(|e| e.0)?
        else {
            return Ok(None);
        };
        let contact = resolved.key.contact.clone();
        let now = Timestamp::now();
        let read = |store: &mut SqliteState| {
            let events = store.consent_events(&[&contact]).map_err(|e| e.0)?;
            let events = events.get(&contact).cloned().unwrap_or_default();
            Ok::<_, String>(standing(program, &events, now))
        };
        let before = read(store)?;
        let event = |back: bool, of: Subscription, via: &str| {
            feedback::subscription_event(&resolved, back, of, via, now)
        };
        let events: Vec<Event> = match change {
            None => return Ok(Some(before)),
            Some(Change::Email { back, via }) => {
                vec![event(back, Subscription::Channel("email"), via)]
            }
            Some(Change::Preferences { channels, kinds }) => {
                // Only what the form changed: a box left as it was says nothing.
                let channels = before.channels.iter().filter_map(|(name, _, out)| {
                    let ticked = channels.iter().any(|c| c == name);
                    (ticked == *out).then(|| event(ticked, Subscription::Channel(name), "page"))
                });
                let kinds = before.kinds.iter().filter_map(|(name, _, out)| {
                    let ticked = kinds.iter().any(|k| k == name);
                    (ticked == *out).then(|| event(ticked, Subscription::Kind(name), "page"))
                });
                channels.chain(kinds).collect()
            }
        };
        store.begin_group().map_err(|e| e.0)?;
        for event in &events {
            store.ingest(&contact, event).map_err(|e| e.0)?;
        }
        store.commit_group().map_err(|e| e.0)?;
        read(store).map(Some)
    })
    .await
}

/// GET /u/TOKEN: the preference page; a GET never unsubscribes (link
/// scanners fetch every URL of a message).
async fn unsubscribe_page(State(service): State<Shared>, Path(token): Path<String>) -> Response {
    match preferences(&service, token, None).await {
        Ok(Some(standing)) => page(&standing, None),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// POST /u/TOKEN: `List-Unsubscribe=One-Click` (RFC 8058, from the mail
/// client), or the page's forms: `action=unsubscribe|resubscribe` (every
/// marketing e-mail) or `action=preferences` with the ticked `channel`s
/// and `kind`s.
async fn unsubscribe(
    State(service): State<Shared>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url_form(&body);
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let values = |key: &str| {
        form.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let one_click = value("List-Unsubscribe") == Some("One-Click");
    let (change, done) = match value("action") {
        _ if one_click => (
            Change::Email {
                back: false,
                via: "one-click",
            },
            "",
        ),
        Some("resubscribe") => (
            Change::Email {
                back: true,
                via: "page",
            },
            "You will receive these e-mails again.",
        ),
        Some("preferences") => (
            Change::Preferences {
                channels: values("channel"),
                kinds: values("kind"),
            },
            "Your preferences are saved.",
        ),
        _ => (
            Change::Email {
                back: false,
                via: "page",
            },
            "You are unsubscribed: no more of these e-mails will be sent.",
        ),
    };
    match preferences(&service, token, Some(change)).await {
        Ok(Some(_)) if one_click => (StatusCode::OK, "unsubscribed\n").into_response(),
        Ok(Some(standing)) => page(&standing, Some(done)),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// Text for HTML (the project's words for its kinds).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page: where the contact stands, one button for every marketing
/// e-mail, and a form per channel and per kind. Plain HTML: no script,
/// labels on every box, works without CSS.
fn page(standing: &Standing, done: Option<&str>) -> Response {
    let (status, action, button) = if standing.email {
        (
            "You are unsubscribed from these e-mails.",
            "resubscribe",
            "Subscribe again",
        )
    } else {
        (
            "Do you want to stop receiving these e-mails?",
            "unsubscribe",
            "Unsubscribe",
        )
    };
    let done = done
        .map(|d| format!("<p role=\"status\"><strong>{d}</strong></p>"))
        .unwrap_or_default();
    let boxes = |name: &str, items: &mut dyn Iterator<Item = (String, String, bool)>| {
        items
            .map(|(value, label, out)| {
                let id = format!("{name}-{value}");
                let checked = if out { "" } else { " checked" };
                format!(
                    "<div><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"{value}\"{checked}> \
                     <label for=\"{id}\">{}</label></div>",
                    escape(&label)
                )
            })
            .collect::<String>()
    };
    let channels = boxes(
        "channel",
        &mut standing
            .channels
            .iter()
            .map(|(n, l, out)| (n.to_string(), l.to_string(), *out)),
    );
    let kinds = if standing.kinds.is_empty() {
        String::new()
    } else {
        format!(
            "<fieldset><legend>What we may send you</legend>{}</fieldset>",
            boxes("kind", &mut standing.kinds.iter().cloned())
        )
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>E-mail preferences</title><link rel=\"icon\" href=\"data:,\">\
         <style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.5rem 1.2rem}}fieldset{{margin:1rem 0;border:1px solid #888}}\
         input{{width:1.2rem;height:1.2rem;vertical-align:middle}}</style></head>\
         <body><main><h1>E-mail preferences</h1>{done}<p id=\"standing\">{status}</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
         <button type=\"submit\" id=\"{action}\">{button}</button></form>\
         <h2>Or choose what you receive</h2>\
         <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"preferences\">\
         <fieldset><legend>Where we may write to you</legend>{channels}</fieldset>{kinds}\
         <button type=\"submit\" id=\"save\">Save my preferences</button></form></main></body></html>\n"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `application/x-www-form-urlencoded` pairs (what RFC 8058 and forms send).
fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
                (b'%', Some(&a), Some(&b)) if hex(a).is_some() && hex(b).is_some() => {
                    out.push((hex(a).unwrap_or(0) * 16 + hex(b).unwrap_or(0)) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// GET /c/TOKEN: records the click, then redirects to the target the
/// template declares for that link (never to anything a request says).
async fn click(State(service): State<Shared>, Path(token): Path<String>) -> Response {
    let resolved = match resolved(&service, token, Purpose::Click).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(_) => return unavailable(),
    };
    let Some(target) = feedback::link_target(&service.program, &resolved) else {
        return not_found();
    };
    let event = feedback::click_event(&resolved, Timestamp::now());
    // The redirect matters more than the record: a failure to record is
    // logged, and the reader still reaches the page.
    if let Err(e) = record(&service, resolved.key.contact.clone(), event).await {
        eprintln!("warning: a click could not be recorded: {e}");
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, target),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// GET /o/TOKEN: records the open (a machine's when it comes within
/// seconds of the hand-off) and answers the pixel, whatever happens.
async fn open(State(service): State<Shared>, Path(token): Path<String>) -> Response {
    let pixel = (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    );
    // One visit to the state: resolve, see when the send was handed over,
    // record the open.
    let recorded = with_store(&service, move |service, store| {
        let Some(resolved) =
            feedback::resolve(&service.keys, store, &token, Purpose::Open).map_err(|e| e.0)?
        else {
            return Ok(());
        };
        let now = Timestamp::now();
        let handed_over = store.handed_over_at(&resolved.key).map_err(|e| e.0)?;
        let machine = handed_over.is_some_and(|at| now.duration_since(at) < MACHINE_OPEN);
        let event = feedback::open_event(&resolved, machine, now);
        store
            .ingest(&resolved.key.contact, &event)
            .map(|_| ())
            .map_err(|e| e.0)
    })
    .await;
    if let Err(e) = recorded {
        eprintln!("warning: an open could not be recorded: {e}");
    }
    pixel.into_response()
}

/// The answer to a request without the API's bearer token (404 when no
/// token is configured: the API is closed); `None` when it has it.
fn refusal(service: &Service, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = service.events_token.as_deref() else {
        return Some(not_found());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "unauthorized\n",
        )
            .into_response(),
    )
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn describe(coupon: &flowc_runtime::state::Coupon, now: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "code": coupon.code,
        "status": coupon.status(now),
        "contact": coupon.key.contact,
        "flow": coupon.key.flow,
        "rule": coupon.key.rule,
        "occurrence": coupon.key.occurrence,
        "issued_at": coupon.issued_at.to_string(),
        "expires_at": coupon.expires_at.map(|t| t.to_string()),
        "redeemed_at": coupon.redeemed_at.map(|t| t.to_string()),
    })
}

/// GET /coupons/CODE (bearer): valid, used or expired, and for whom.
async fn coupon(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    if let Some(answer) = refusal(&service, &headers) {
        return answer;
    }
    let code = flowc_runtime::keys::normalize_code(&code);
    match with_store(&service, move |_, store| {
        store.coupon(&code).map_err(|e| e.0)
    })
    .await
    {
        Ok(Some(coupon)) => json(StatusCode::OK, describe(&coupon, Timestamp::now())),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// POST /coupons/CODE/redeem (bearer; what a till or a shop calls): records
/// `redeemed` for the contact, flow and occurrence the code was issued
/// for, once. A JSON object body adds attributes (`{"product": "..."}`),
/// which a thank-you reads as `redemption`. 409 when already used, 410
/// when expired.
async fn redeem(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(answer) = refusal(&service, &headers) {
        return answer;
    }
    let extra: serde_json::Map<String, serde_json::Value> = if body.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": "the body must be a JSON object of attributes" }),
                )
            }
        }
    };
    let code = flowc_runtime::keys::normalize_code(&code);
    let now = Timestamp::now();
    let outcome = with_store(&service, move |_, store| {
        let Some(coupon) = store.coupon(&code).map_err(|e| e.0)? else {
            return Ok(None);
        };
        if coupon.status(now) != "valid" {
            return Ok(Some((coupon, false)));
        }
        // The event and the mark in one group: redeemed once, whatever
        // arrives twice.
        store.begin_group().map_err(|e| e.0)?;
        if !store.redeem(&code, now).map_err(|e| e.0)? {
            store.commit_group().map_err(|e| e.0)?;
            let coupon = store.coupon(&code).map_err(|e| e.0)?;
            return Ok(coupon.map(|c| (c, false)));
        }
        let mut event = Event::new(&format!("redeemed-{code}"), "redeemed", now)
            .with(
                "flow",
                flowc_runtime::vm::Value::Text(coupon.key.flow.clone()),
            )
            .with(
                "rule",
                flowc_runtime::vm::Value::Text(coupon.key.rule.clone()),
            )
            .with(
                "occurrence",
                flowc_runtime::vm::Value::Text(coupon.key.occurrence.clone()),
            )
            .with("coupon", flowc_runtime::vm::Value::Text(code.clone()));
        for (name, value) in &extra {
            if !matches!(name.as_str(), "flow" | "rule" | "occurrence" | "coupon") {
                event = event.with(name, flowc_runtime::input::json_value(value));
            }
        }
        store.ingest(&coupon.key.contact, &event).map_err(|e| e.0)?;
        store.commit_group().map_err(|e| e.0)?;
        let coupon = store.coupon(&code).map_err(|e| e.0)?;
        Ok(coupon.map(|c| (c, true)))
    })
    .await;
    match outcome {
        Ok(Some((coupon, true))) => json(StatusCode::OK, describe(&coupon, now)),
        Ok(Some((coupon, false))) => {
            let status = match coupon.status(now) {
                "expired" => StatusCode::GONE,
                _ => StatusCode::CONFLICT,
            };
            json(status, describe(&coupon, now))
        }
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// POST /events: JSON Lines (or one JSON array) of events, as `flowc
/// ingest` reads them, with `Authorization: Bearer FLOWC_EVENTS_TOKEN`.
/// Answers what was new, what was known, and every rejected line.
async fn events(State(service): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = refusal(&service, &headers) {
        return answer;
    }
    let lines = match serde_json::from_slice::<Vec<serde_json::Value>>(&body) {
        Ok(array) => array
            .iter()
            .map(serde_json::Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => String::from_utf8_lossy(&body).into_owned(),
    };
    let result = with_store(&service, move |service, store| {
        let read = read_events(&service.program, lines.as_bytes());
        let (by_contact, unknown) =
            super::ingest::with_messages_resolved(store, read.by_contact, &read.by_message)
                .map_err(|e| e.0)?;
        let (new, known) = super::ingest::record_events(store, &by_contact).map_err(|e| e.0)?;
        let mut errors: Vec<(u64, String)> = read
            .errors
            .iter()
            .map(|e| (e.line, e.reason.clone()))
            .chain(unknown)
            .collect();
        errors.sort();
        Ok((new, known, errors))
    })
    .await;
    match result {
        Ok((new, known, errors)) => {
            let rejected: Vec<serde_json::Value> = errors
                .iter()
                .map(|(line, reason)| serde_json::json!({ "line": line, "reason": reason }))
                .collect();
            let status = if rejected.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let body = serde_json::json!({ "new": new, "known": known, "rejected": rejected });
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(_) => unavailable(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
