//! SMS, push, tasks and named webhooks as signed HTTP POSTs.
//!
//! Each action's JSON (the same bytes a JSON Lines outbox would hold) is
//! POSTed to its endpoint with:
//!
//! ```text
//! Content-Type: application/json
//! Idempotency-Key: <action id, derived from the send's key>
//! X-Flowc-Timestamp: <unix seconds>
//! X-Flowc-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>
//! ```
//!
//! 2xx is delivered. 408, 429, 5xx and network failures leave the send
//! pending, retried by the next run within its deadline. Other answers
//! will not succeed by retrying; without a `failed` status in the state
//! they also stay pending, with a reason that says so. Reasons name the
//! endpoint's label, host and status: never its path, query string
//! (which may hold a token) or secret.
//!
//! Endpoints are read from the environment when the run starts (URLs may
//! carry tokens, secrets must never be stored): an invalid URL, or one
//! without a secret, stops the run before anything is sent.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Attempt, DeliveryError, Outbox, Progress};
use crate::bytecode::Program;

/// The secret used when no more specific one is set.
pub const DEFAULT_SECRET_ENV: &str = "FLOWC_WEBHOOK_SECRET";

/// Channels that can go to an endpoint: (action kind, flag, URL variable,
/// secret variable).
pub const CHANNELS: [(&str, &str, &str, &str); 3] = [
    ("sms", "--sms-url", "FLOWC_SMS_URL", "FLOWC_SMS_SECRET"),
    ("push", "--push-url", "FLOWC_PUSH_URL", "FLOWC_PUSH_SECRET"),
    ("task", "--task-url", "FLOWC_TASK_URL", "FLOWC_TASK_SECRET"),
];

/// A signing key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where one kind of action goes. `Debug` shows the label and host only.
#[derive(Clone)]
pub struct Endpoint {
    /// What it serves, for messages: `sms`, `webhook crm`.
    pub label: String,
    /// `host` or `host:port`: all that messages say about the URL.
    pub host: String,
    url: String,
    secret: Secret,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({} at {})", self.label, self.host)
    }
}

/// URLs given as `flowc run` flags; they win over the environment.
#[derive(Clone, Debug, Default)]
pub struct ChannelUrls {
    pub sms: Option<String>,
    pub push: Option<String>,
    pub task: Option<String>,
}

impl ChannelUrls {
    fn get(&self, kind: &str) -> Option<&str> {
        match kind {
            "sms" => self.sms.as_deref(),
            "push" => self.push.as_deref(),
            "task" => self.task.as_deref(),
            _ => None,
        }
    }
}

/// The endpoints of a run: per channel, and per named webhook.
#[derive(Debug, Default)]
pub struct Endpoints {
    channels: BTreeMap<String, Endpoint>,
    webhooks: BTreeMap<String, Endpoint>,
}

impl Endpoints {
    /// Reads the endpoints from `flags` and the environment (`env`, so that
    /// tests can give their own). `Err` is a usage error naming the variable
    /// or flag; it never contains a URL or a secret.
    pub fn configure(
        program: &Program,
        flags: &ChannelUrls,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Endpoints, String> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        let mut endpoints = Endpoints::default();
        for (kind, flag, url_env, secret_env) in CHANNELS {
            let (source, url) = match flags.get(kind).filter(|u| !u.is_empty()) {
                Some(url) => (flag, url.to_string()),
                None => match set(url_env) {
                    Some(url) => (url_env, url),
                    None => continue,
                },
            };
            let secret = match read_secret(&set, secret_env)? {
                Some(secret) => secret,
                None => read_secret(&set, DEFAULT_SECRET_ENV)?.ok_or_else(|| {
                    no_secret(source, &format!("{secret_env} or {DEFAULT_SECRET_ENV}"))
                })?,
            };
            let endpoint = Endpoint::new(kind.to_string(), source, url, secret)?;
            endpoints.channels.insert(kind.to_string(), endpoint);
        }
        for spec in &program.webhooks {
            let name = program.string(spec.name);
            let Some(url_env) = &spec.url_env else {
                continue;
            };
            let Some(url) = set(url_env) else { continue };
            let secret_env = spec.secret_env.as_deref().unwrap_or(DEFAULT_SECRET_ENV);
            let secret =
                read_secret(&set, secret_env)?.ok_or_else(|| no_secret(url_env, secret_env))?;
            let endpoint = Endpoint::new(format!("webhook {name}"), url_env, url, secret)?;
            endpoints.webhooks.insert(name.to_string(), endpoint);
        }
        Ok(endpoints)
    }

    /// The endpoint an action goes to, if it has one.
    pub fn for_action(&self, action: &serde_json::Value) -> Option<&Endpoint> {
        match action["kind"].as_str()? {
            "webhook" => self.webhooks.get(action["webhook"].as_str()?),
            kind => self.channels.get(kind),
        }
    }

    /// `sms to sms.example.com`, one per endpoint, for the run's summary.
    pub fn describe(&self) -> Vec<String> {
        self.channels
            .values()
            .chain(self.webhooks.values())
            .map(|e| format!("{} to {}", e.label, e.host))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.webhooks.is_empty()
    }
}

fn no_secret(url_source: &str, secret_names: &str) -> String {
    format!(
        "{url_source} is set but no signing secret is: set {secret_names} (or the same name with `_FILE` for a file holding it)"
    )
}

/// A secret from `NAME`, else from the file `NAME_FILE` names (trailing
/// line breaks dropped).
fn read_secret(set: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<Secret>, String> {
    if let Some(value) = set(name) {
        return Ok(Some(Secret(value.into_bytes())));
    }
    let file_variable = format!("{name}_FILE");
    let Some(path) = set(&file_variable) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read {file_variable} ({path}): {}", e.kind()))?;
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    if end == 0 {
        return Err(format!("{file_variable} ({path}) is empty"));
    }
    Ok(Some(Secret(bytes[..end].to_vec())))
}

impl Endpoint {
    fn new(label: String, source: &str, url: String, secret: Secret) -> Result<Endpoint, String> {
        let invalid = || format!("{source} is not an http:// or https:// URL with a host");
        let uri: ureq::http::Uri = url.parse().map_err(|_| invalid())?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid());
        }
        let host = match (uri.host().filter(|h| !h.is_empty()), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(invalid()),
        };
        Ok(Endpoint {
            label,
            host,
            url,
            secret,
        })
    }
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`, what
/// `X-Flowc-Signature` carries after `sha256=`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> Result<String, String> {
    // HMAC takes keys of any length; this error cannot happen in practice.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|e| format!("cannot sign: {e}"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// How long a request may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To open the connection (TLS handshake included).
    pub connect: Duration,
    /// For the whole request, answer included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(30),
        }
    }
}

/// Why a POST did not deliver.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// It may work later: an outage, a timeout, 408, 429, 5xx.
    Retry(String),
    /// It will not work as it is: another 4xx, a redirect.
    Rejected(String),
}

/// A blocking HTTP client (one connection pool per run).
pub struct HttpSender {
    agent: ureq::Agent,
}

impl HttpSender {
    pub fn new(timeouts: Timeouts) -> HttpSender {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeouts.connect))
            .timeout_global(Some(timeouts.total))
            .http_status_as_error(false)
            // A redirected POST would lose its body: the answer is final.
            .max_redirects(0)
            .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        HttpSender { agent }
    }

    /// POSTs `body` (JSON) to `endpoint`, signed, keyed by `id`.
    pub fn post(&self, endpoint: &Endpoint, id: &str, body: &[u8]) -> Result<(), Failure> {
        let at = format!("{} at {}", endpoint.label, endpoint.host);
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature = sign(&endpoint.secret.0, timestamp, body).map_err(Failure::Rejected)?;
        let sent = self
            .agent
            .post(&endpoint.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", id)
            .header("X-Flowc-Timestamp", timestamp.to_string())
            .header("X-Flowc-Signature", format!("sha256={signature}"))
            .send(body);
        let mut response = sent.map_err(|e| Failure::Retry(format!("{at}: {}", failure(&e))))?;
        let status = response.status().as_u16();
        // Read what the server says (bounded) so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec();
        match status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(Failure::Retry(format!("{at} answered {status}"))),
            300..=399 => Err(Failure::Rejected(format!(
                "{at} answered {status}: redirects are not followed, give the final URL"
            ))),
            _ => Err(Failure::Rejected(format!("{at} refused it with {status}"))),
        }
    }
}

/// A failure in words that cannot carry the URL or a header.
fn failure(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(phase) => format!("no answer in time ({phase} timeout)"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::Io(e) => format!("cannot connect or send ({})", e.kind()),
        ureq::Error::Tls(reason) => format!("TLS failed ({reason})"),
        ureq::Error::Rustls(e) => format!("TLS failed ({e})"),
        ureq::Error::Protocol(_) => "the answer is not HTTP/1.1".into(),
        _ => "the request failed".into(),
    }
}

/// After this many failures in a row that may pass, an endpoint is not
/// tried again in the same run: an outage then costs a few timeouts, not
/// one per pending send (each stays pending, retried by the next run).
pub const FAILURES_BEFORE_PAUSE: u32 = 3;

/// Sends actions that have an endpoint; passes the others (e-mail, and
/// actions without one) to the next outbox. Signed POSTs go first: a
/// retried send then repeats only idempotent requests before anything
/// else is written.
pub struct WebhookOutbox {
    endpoints: Endpoints,
    sender: HttpSender,
    rest: Box<dyn Outbox>,
    /// Per endpoint label: failures in a row that may pass, and the last.
    failing: BTreeMap<String, (u32, String)>,
}

impl WebhookOutbox {
    pub fn new(endpoints: Endpoints, sender: HttpSender, rest: Box<dyn Outbox>) -> WebhookOutbox {
        WebhookOutbox {
            endpoints,
            sender,
            rest,
            failing: BTreeMap::new(),
        }
    }

    fn post(&mut self, endpoint: &Endpoint, id: &str, body: &[u8]) -> Result<(), Failure> {
        if let Some((count, last)) = self.failing.get(&endpoint.label) {
            if *count >= FAILURES_BEFORE_PAUSE {
                return Err(Failure::Retry(format!(
                    "{} at {}: not tried, {count} requests in a row failed in this run (last: {last})",
                    endpoint.label, endpoint.host
                )));
            }
        }
        let result = self.sender.post(endpoint, id, body);
        match &result {
            Err(Failure::Retry(reason)) => {
                let entry = self
                    .failing
                    .entry(endpoint.label.clone())
                    .or_insert((0, String::new()));
                *entry = (entry.0 + 1, reason.clone());
            }
            _ => {
                self.failing.remove(&endpoint.label);
            }
        }
        result
    }
}

impl WebhookOutbox {
    /// Posts the webhook actions of `payload`, first; returns the actions
    /// left for the outbox behind it.
    fn post_actions(
        &mut self,
        payload: &serde_json::Value,
    ) -> Result<Vec<serde_json::Value>, Failure> {
        let mut rest = Vec::new();
        for action in payload["actions"].as_array().into_iter().flatten() {
            let Some(endpoint) = self.endpoints.for_action(action).cloned() else {
                rest.push(action.clone());
                continue;
            };
            let id = action["id"].as_str().unwrap_or("unnamed");
            // The bytes a JSON Lines outbox would hold, without the newline.
            let body = super::jsonl::encode(action)
                .map_err(|e| Failure::Retry(format!("cannot encode {id}: {e}")))?;
            self.post(&endpoint, id, &body)?;
        }
        Ok(rest)
    }
}

impl Outbox for WebhookOutbox {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        let rest = self
            .post_actions(payload)
            .map_err(|failure| match failure {
                Failure::Retry(reason) => DeliveryError(format!("{reason}; retried next run")),
                Failure::Rejected(reason) => DeliveryError(format!(
                    "{reason}; retrying will not help until the endpoint or the data is fixed"
                )),
            })?;
        if rest.is_empty() {
            return Ok(());
        }
        self.rest.deliver(&serde_json::json!({ "actions": rest }))
    }

    /// Webhooks first, one send at a time; what is left of the batch (the
    /// e-mails) then goes to the outbox behind, as a batch, so that an SMTP
    /// pool keeps its concurrency.
    fn deliver_batch(
        &mut self,
        payloads: &[serde_json::Value],
        progress: &mut dyn FnMut(Progress) -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        let mut ended = Vec::new();
        let (mut rest, mut rest_index) = (Vec::new(), Vec::new());
        for (index, payload) in payloads.iter().enumerate() {
            let has_webhook = payload["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| self.endpoints.for_action(a).is_some());
            if has_webhook {
                progress(Progress {
                    starting: vec![index],
                    ended: std::mem::take(&mut ended),
                })?;
            }
            match self.post_actions(payload) {
                Ok(actions) if actions.is_empty() => ended.push((index, Attempt::Delivered)),
                Ok(actions) => {
                    rest.push(serde_json::json!({ "actions": actions }));
                    rest_index.push(index);
                }
                Err(Failure::Retry(reason)) => {
                    ended.push((index, Attempt::Retry(format!("{reason}; retried next run"))))
                }
                Err(Failure::Rejected(reason)) => ended.push((index, Attempt::Rejected(reason))),
            }
        }
        if !ended.is_empty() {
            progress(Progress {
                starting: Vec::new(),
                ended,
            })?;
        }
        if rest.is_empty() {
            return Ok(());
        }
        // Indexes of the sub-batch are mapped back to this batch's.
        self.rest.deliver_batch(&rest, &mut |inner: Progress| {
            progress(Progress {
                starting: inner.starting.iter().map(|&i| rest_index[i]).collect(),
                ended: inner
                    .ended
                    .into_iter()
                    .map(|(i, attempt)| (rest_index[i], attempt))
                    .collect(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::{PolicyCode, WebhookSpec};

    fn program() -> Program {
        Program {
            sources: Vec::new(),
            source_hash: 0,
            strings: vec!["crm".into()],
            flows: Vec::new(),
            policy: PolicyCode::default(),
            consent_fields: Vec::new(),
            fields: Vec::new(),
            events: Vec::new(),
            templates: Vec::new(),
            webhooks: vec![WebhookSpec {
                name: 0,
                url_env: Some("CRM_URL".into()),
                secret_env: Some("CRM_SECRET".into()),
            }],
            kinds: Vec::new(),
            attribution: None,
        }
    }

    fn configure(vars: &[(&str, &str)], flags: &ChannelUrls) -> Result<Endpoints, String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Endpoints::configure(&program(), flags, &|name| vars.get(name).cloned())
    }

    #[test]
    fn signs_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign(b"key", 1_700_000_000, b"{}").as_deref(),
            Ok("9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae")
        );
    }

    #[test]
    fn reads_channels_and_webhooks_with_their_secrets() {
        let endpoints = configure(
            &[
                ("FLOWC_SMS_URL", "https://sms.example.com/send?token=abc"),
                ("FLOWC_WEBHOOK_SECRET", "s1"),
                ("CRM_URL", "http://crm.internal:8080/hook"),
                ("CRM_SECRET", "s2"),
            ],
            &ChannelUrls::default(),
        )
        .expect("configured");
        assert_eq!(
            endpoints.describe(),
            ["sms to sms.example.com", "webhook crm to crm.internal:8080"]
        );
        let sms = serde_json::json!({"kind": "sms"});
        assert_eq!(
            endpoints.for_action(&sms).map(|e| e.secret.0.clone()),
            Some(b"s1".to_vec())
        );
        let crm = serde_json::json!({"kind": "webhook", "webhook": "crm"});
        assert!(endpoints.for_action(&crm).is_some());
        let other = serde_json::json!({"kind": "webhook", "webhook": "erp"});
        assert!(endpoints.for_action(&other).is_none());
        assert!(endpoints
            .for_action(&serde_json::json!({"kind": "push"}))
            .is_none());
        assert!(!format!("{endpoints:?}").contains("token"));
    }

    #[test]
    fn a_bad_url_or_a_missing_secret_names_the_variable_only() {
        let flags = ChannelUrls {
            push: Some("ftp://push.example.com/?token=abc".into()),
            ..ChannelUrls::default()
        };
        let error = configure(&[("FLOWC_WEBHOOK_SECRET", "s")], &flags).unwrap_err();
        assert!(error.starts_with("--push-url is not"), "{error}");
        let error =
            configure(&[("FLOWC_TASK_URL", "not a url")], &ChannelUrls::default()).unwrap_err();
        assert!(error.starts_with("FLOWC_TASK_URL"), "{error}");
        let error = configure(
            &[("CRM_URL", "https://crm/?token=abc")],
            &ChannelUrls::default(),
        )
        .unwrap_err();
        assert!(error.contains("CRM_SECRET"), "{error}");
        assert!(!error.contains("token"), "{error}");
    }

    #[test]
    fn a_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").expect("write");
        let endpoints = configure(
            &[
                ("FLOWC_TASK_URL", "https://tasks.example.com/"),
                ("FLOWC_TASK_SECRET_FILE", path.to_str().expect("utf-8")),
            ],
            &ChannelUrls::default(),
        )
        .expect("configured");
        let task = endpoints
            .for_action(&serde_json::json!({"kind": "task"}))
            .expect("task endpoint");
        assert_eq!(task.secret.0, b"from-file");
    }
}
