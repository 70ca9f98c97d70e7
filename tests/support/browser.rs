//! A real browser for the tests of pages: Debian's headless Chromium,
//! driven through chromedriver's W3C WebDriver protocol (JSON over HTTP,
//! spoken with ureq), so that a page is loaded, clicked and submitted as a
//! person's browser does it, and its console read.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// True when Chromium and chromedriver are installed (see `super::have`).
pub fn available() -> bool {
    super::have(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "chromium and chromedriver",
        "apt-get install chromium chromium-driver",
    )
}

/// A chromedriver with one headless Chromium session; both stop when
/// dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

/// An element of the page, by its WebDriver reference.
pub struct Element(String);

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("a profile folder");
        // The flags of a closed network: without the background ones,
        // Chromium keeps trying to reach Google's hosts.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=800,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// One WebDriver command; its `value`, or the error it answered.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        }
        .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status >= 400 {
            return Err(format!("{status} {text}"));
        }
        Ok(value["value"].clone())
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn open(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    pub fn find(&self, css: &str) -> Element {
        let found = self.call(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no {css}: {found}"))
                .to_string(),
        )
    }

    pub fn click(&self, element: &Element) {
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/click", element.0)),
            None,
        );
    }

    /// Clicks a submit button and waits for the answer's page: until the
    /// page it was on is gone and the new one is loaded (a click returns
    /// before the navigation it starts).
    pub fn submit(&self, button: &Element) {
        let before = self.find("html");
        self.click(button);
        let started = Instant::now();
        let path = self.session_path(&format!("/element/{}/name", before.0));
        while self.try_call("GET", &path, None).is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the form's answer did not load"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        while self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": "return document.readyState", "args": [] })),
        ) != json!("complete")
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the form's answer did not load"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn selected(&self, element: &Element) -> bool {
        self.call(
            "GET",
            &self.session_path(&format!("/element/{}/selected", element.0)),
            None,
        )
        .as_bool()
        .unwrap_or(false)
    }

    pub fn text(&self, element: &Element) -> String {
        self.call(
            "GET",
            &self.session_path(&format!("/element/{}/text", element.0)),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The messages of the page's console (errors, failed loads) since
    /// the last call.
    pub fn console(&self) -> Vec<String> {
        self.call(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({ "type": "browser" })),
        )
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect()
        })
        .unwrap_or_default()
    }

    /// A PNG of the window, kept as `target/test-artefacts/NAME.png`;
    /// its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let data = self.call("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = Path::new(super::ROOT).join("target/test-artefacts");
        std::fs::create_dir_all(&dir).expect("the artefacts folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = self.session_path("");
            let _ = self.agent.delete(format!("{}{path}", self.base)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
