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
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode::Program;
use flowc_runtime::feedback::{self, Resolved};
use flowc_runtime::input::read_events;
use flowc_runtime::keys::{Keys, Purpose};
use flowc_runtime::state::{SqliteState, StateStore};
use flowc_runtime::vm::Event;
use jiff::Timestamp;

use super::{EXIT_OK, EXIT_USAGE};

mod coupons;
mod group_commit;
mod preferences;

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
    /// Where clicks and opens are recorded, in groups (set once started).
    writer: std::sync::OnceLock<group_commit::Writer>,
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
        writer: std::sync::OnceLock::new(),
    });
    let writer = group_commit::Writer::start(&service)?;
    let _ = service.writer.set(writer);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/u/{token}",
            get(preferences::unsubscribe_page).post(preferences::unsubscribe),
        )
        .route("/c/{token}", get(click))
        .route("/o/{token}", get(open))
        .route("/events", post(events))
        .route("/coupons/{code}", get(coupons::coupon))
        .route("/coupons/{code}/redeem", post(coupons::redeem))
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

/// Records a click or an open, durable when it returns (group_commit.rs).
async fn record(service: &Shared, contact: String, event: Event) -> Result<(), String> {
    match service.writer.get() {
        Some(writer) => writer.record(contact, event).await,
        None => Err("the writer is not started".into()),
    }
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
    // One visit to read (the send, when it was handed over), one write
    // in a group.
    let found = with_store(&service, move |service, store| {
        let Some(resolved) =
            feedback::resolve(&service.keys, store, &token, Purpose::Open).map_err(|e| e.0)?
        else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let handed_over = store.handed_over_at(&resolved.key).map_err(|e| e.0)?;
        let machine = handed_over.is_some_and(|at| now.duration_since(at) < MACHINE_OPEN);
        Ok(Some((
            resolved.key.contact.clone(),
            feedback::open_event(&resolved, machine, now),
        )))
    })
    .await;
    let recorded = match found {
        Ok(Some((contact, event))) => record(&service, contact, event).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
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
