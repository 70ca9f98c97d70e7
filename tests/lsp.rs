//! `flowc lsp` end to end: the real binary, spoken to in JSON-RPC with
//! Content-Length framing over its stdin and stdout, on a copy of the
//! birthday example in a folder whose name is not ASCII.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    notifications: Vec<Value>,
}

impl Client {
    fn start(cwd: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .arg("lsp")
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start flowc lsp");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, incoming) = channel();
        std::thread::spawn(move || loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            stdout.read_exact(&mut body).unwrap();
            if sender.send(serde_json::from_slice(&body).unwrap()).is_err() {
                return;
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            next_id: 0,
            notifications: Vec::new(),
        };
        let capabilities = client.request("initialize", json!({ "capabilities": {} }));
        client.notify("initialized", json!({}));
        client.capabilities_checked(&capabilities);
        client
    }

    fn capabilities_checked(&self, result: &Value) {
        let capabilities = &result["capabilities"];
        assert_eq!(capabilities["hoverProvider"], json!(true), "{result}");
        assert_eq!(capabilities["definitionProvider"], json!(true));
        assert_eq!(capabilities["documentSymbolProvider"], json!(true));
        assert_eq!(capabilities["documentFormattingProvider"], json!(true));
        assert_eq!(
            capabilities["textDocumentSync"]["change"],
            json!(2),
            "incremental"
        );
        assert!(capabilities["completionProvider"]["triggerCharacters"]
            .as_array()
            .unwrap()
            .contains(&json!(" ")));
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and returns its result (panics on an error).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.incoming.recv_timeout(WAIT).expect("a response");
            if message["id"] == json!(id) && message.get("method").is_none() {
                assert!(message.get("error").is_none(), "{message}");
                return message["result"].clone();
            }
            self.notifications.push(message);
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_for = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.notifications.iter().position(is_for) {
            let m = self.notifications.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let message = self.incoming.recv_timeout(WAIT).expect("diagnostics");
            if is_for(&message) {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.notifications.push(message);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
        );
    }

    /// Replaces `[from, to)` (line, UTF-16 character) with `text`.
    fn change(&mut self, uri: &str, version: i32, from: (u32, u32), to: (u32, u32), text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{
                    "range": {
                        "start": { "line": from.0, "character": from.1 },
                        "end": { "line": to.0, "character": to.1 }
                    },
                    "text": text
                }]
            }),
        );
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        self.request(
            method,
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": line, "character": character }
            }),
        )
    }

    /// `shutdown`, `exit`, and the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        drop(self.stdin);
        self.child.wait().unwrap()
    }
}

/// A copy of `examples/birthday` under a folder named `prénom 🎂`.
fn project(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("flowc-lsp-{}-{name}", std::process::id()));
    let dir = root.join("prénom 🎂");
    let _ = std::fs::remove_dir_all(&root);
    copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/birthday")
            .as_path(),
        &dir,
    );
    dir.canonicalize().unwrap()
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The `file://` URI of a path, percent-encoded as the server writes it.
fn uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for &byte in path.to_str().unwrap().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

fn labels(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn diagnostics_follow_the_edits() {
    let dir = project("diagnostics");
    let file = dir.join("birthday.flow");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = text.lines().count() as u32;
    let mut client = Client::start(&dir);
    let doc = uri(&file);
    client.open(&doc, &text);
    assert_eq!(
        client.diagnostics(&doc),
        Vec::<Value>::new(),
        "the example is clean"
    );

    // A new last line that sends an unknown template, after a string with
    // characters of 2 and 1 UTF-16 units.
    let before = "on birthday if first_name == \"🎂é\" send ";
    client.change(
        &doc,
        2,
        (lines, 0),
        (lines, 0),
        &format!("{before}remindr\n"),
    );
    let found = client.diagnostics(&doc);
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    // The code `flowc check` gives (tests/ui/project/e0011-unknown-template.flow).
    assert_eq!(d["code"], "E0011");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "flowc");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown template `remindr`: no template of this name"),
        "{message}"
    );
    assert!(
        message.contains("help: did you mean `reminder`?"),
        "{message}"
    );
    let start = utf16_len(before);
    assert_eq!(
        d["range"],
        json!({
            "start": { "line": lines, "character": start },
            "end": { "line": lines, "character": start + 7 }
        })
    );

    // A one-character fix gives the checker's next finding: two rules
    // named after the template they send.
    client.change(&doc, 3, (lines, start + 6), (lines, start + 6), "e");
    let found = client.diagnostics(&doc);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "E0051");
    assert_eq!(found[0]["relatedInformation"][0]["location"]["uri"], doc);
    // The line removed: the file is clean again and its diagnostics cleared.
    client.change(&doc, 4, (lines, 0), (lines + 1, 0), "");
    assert_eq!(client.diagnostics(&doc), Vec::<Value>::new());
    assert!(client.stop().success());
}

#[test]
fn a_duplicate_flow_across_files_is_related() {
    let dir = project("related");
    let mut client = Client::start(&dir);
    let file = dir.join("other.flow");
    let doc = uri(&file);
    client.open(&doc, "flow birthday { on birthday send offer }\n");
    let found = client.diagnostics(&doc);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "E0050");
    let related = &found[0]["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], uri(&dir.join("birthday.flow")));
    assert_eq!(related["message"], "first defined here");
    assert!(client.stop().success());
}

#[test]
fn completion_hover_definition_and_symbols() {
    let dir = project("features");
    let file = dir.join("birthday.flow");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = text.lines().count() as u32;
    let mut client = Client::start(&dir);
    let doc = uri(&file);
    client.open(&doc, &text);
    client.diagnostics(&doc);

    // After `send `: the project's templates.
    client.change(&doc, 2, (lines, 0), (lines, 0), "on birthday send ");
    let items = client.at("textDocument/completion", &doc, lines, 17);
    let names = labels(&items);
    for template in ["offer", "reminder", "thank_you"] {
        assert!(names.contains(&template.to_string()), "{names:?}");
    }
    assert!(!names.contains(&"when".to_string()), "{names:?}");
    // After a number: units.
    client.change(&doc, 3, (lines, 0), (lines, 17), "when birthday - 15");
    let names = labels(&client.at("textDocument/completion", &doc, lines, 18));
    assert!(
        names.contains(&"15d".to_string()) && names.contains(&"15w".to_string()),
        "{names:?}"
    );
    // After `when`: date fields and events, not text fields.
    client.change(&doc, 4, (lines, 0), (lines, 18), "when ");
    let names = labels(&client.at("textDocument/completion", &doc, lines, 5));
    assert!(names.contains(&"birthday".to_string()), "{names:?}");
    assert!(names.contains(&"purchase".to_string()), "{names:?}");
    assert!(!names.contains(&"first_name".to_string()), "{names:?}");

    // Hover on the field of `when birthday - 15d send offer` (line 9).
    let line = text
        .lines()
        .position(|l| l.starts_with("when birthday"))
        .unwrap() as u32;
    let hover = client.at("textDocument/hover", &doc, line, 7);
    let value = hover["contents"]["value"].as_str().unwrap();
    let declared = std::fs::read_to_string(dir.join("flow.toml"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("birthday"))
        .unwrap()
        + 1;
    assert!(
        value.contains(&format!("`birthday: date, yearly` (flow.toml:{declared})")),
        "{value}"
    );
    assert_eq!(
        hover["range"]["start"],
        json!({ "line": line, "character": 5 })
    );
    // Hover on the template: its subject and variables.
    let at = text
        .lines()
        .nth(line as usize)
        .unwrap()
        .find("offer")
        .unwrap() as u32;
    let value = client.at("textDocument/hover", &doc, line, at + 1)["contents"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(value.contains("template `offer`"), "{value}");
    assert!(value.contains("variables: coupon, first_name"), "{value}");

    // Definition of the template: its file.
    let locations = client.at("textDocument/definition", &doc, line, at + 2);
    assert_eq!(
        locations,
        json!([{
            "uri": uri(&dir.join("templates/offer.email.html")),
            "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }
        }])
    );
    // Definition of the field: its line in flow.toml.
    let locations = client.at("textDocument/definition", &doc, line, 7);
    assert_eq!(locations[0]["uri"], uri(&dir.join("flow.toml")));
    assert_eq!(locations[0]["range"]["start"]["line"], declared - 1);

    // The outline: the file's flow and its rules.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": doc } }),
    );
    assert_eq!(symbols[0]["name"], "birthday");
    let rules = labels(&json!(symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({ "label": c["name"] }))
        .collect::<Vec<_>>()));
    assert_eq!(
        rules[..3],
        ["when birthday - 15d", "on birthday", "on birthday"],
        "{symbols}"
    );
    assert!(client.stop().success());
}

#[test]
fn exit_without_shutdown_is_an_error_and_garbage_does_not_crash() {
    let dir = project("garbage");
    let mut client = Client::start(&dir);
    let doc = uri(&dir.join("birthday.flow"));
    client.open(&doc, "when ((((\u{0}🎂 send \"\n}}}} policy { priority > }");
    let found = client.diagnostics(&doc);
    assert!(found.iter().all(|d| d["code"] == "E0001"), "{found:?}");
    // Positions past the end and unknown documents are answered, not fatal.
    client.at("textDocument/hover", &doc, 99, 99);
    client.at("textDocument/completion", &doc, 0, 999);
    // A document that is no file is checked alone.
    client.open(
        "untitled:Untitled-1",
        "on birthday send x\non birthdy send y",
    );
    let found = client.diagnostics("untitled:Untitled-1");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "E0014");
    assert_eq!(
        found[0]["range"]["start"],
        json!({ "line": 1, "character": 3 })
    );
    let other = uri(&dir.join("nothing.flow"));
    assert_eq!(
        client.at("textDocument/definition", &other, 0, 0),
        json!([])
    );
    client.notify("exit", Value::Null);
    drop(client.stdin);
    assert_eq!(client.child.wait().unwrap().code(), Some(1));
}

#[test]
fn hover_on_a_trigger_shows_when_the_sample_contact_is_next_due() {
    let dir = project("sample");
    let toml = dir.join("flow.toml");
    let project = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{project}\n[editor]\nsample_contact = \"contacts.csv#c001\"\n"),
    )
    .unwrap();
    let file = dir.join("birthday.flow");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut client = Client::start(&dir);
    let doc = uri(&file);
    client.open(&doc, &text);
    assert_eq!(client.diagnostics(&doc), Vec::<Value>::new());
    // c001 was born on 15 June, in Europe/Paris: `when birthday - 15d` is
    // due on 31 May at 08:00 (the flow's `send_at`), every year.
    let line = text
        .lines()
        .position(|l| l.starts_with("when birthday"))
        .unwrap() as u32;
    let hover = client.at("textDocument/hover", &doc, line, 7);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("next for sample contact `c001` (contacts.csv):"),
        "{value}"
    );
    let dates: Vec<&str> = value.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(dates.len(), 3, "{value}");
    let years: Vec<i32> = dates
        .iter()
        .map(|l| {
            let year = &l[2..6];
            assert_eq!(
                *l,
                format!("- {year}-05-31 08:00 Europe/Paris (birthday/{year})"),
                "{value}"
            );
            year.parse().unwrap()
        })
        .collect();
    assert_eq!(years, [years[0], years[0] + 1, years[0] + 2]);
    // A bad value is reported in flow.toml, with the code `flowc check` uses.
    std::fs::write(&toml, format!("{project}\n[editor]\nsample_contact = 3\n")).unwrap();
    client.notify("workspace/didChangeWatchedFiles", json!({ "changes": [] }));
    let found = client.diagnostics(&uri(&toml));
    assert_eq!(found[0]["code"], "E0060", "{found:?}");
    assert!(client.stop().success());
}

#[test]
fn formatting_is_flowc_fmt() {
    let dir = project("format");
    let file = dir.join("messy.flow");
    let text = "flow messy {\n      on birthday   send offer ;when birthday - 15d send  reminder # prénom 🎂\n}\n";
    std::fs::write(&file, text).unwrap();
    let mut client = Client::start(&dir);
    let doc = uri(&file);
    client.open(&doc, text);
    let format = |client: &mut Client| {
        client.request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": doc }, "options": { "tabSize": 4, "insertSpaces": true } }),
        )
    };
    let edits = format(&mut client);
    // The same text as `flowc fmt -` gives, replacing the whole document.
    let mut fmt = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    fmt.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let expected = String::from_utf8(fmt.wait_with_output().unwrap().stdout).unwrap();
    assert_ne!(expected, text);
    let last = text.lines().count() as u32;
    assert_eq!(
        edits,
        json!([{
            "range": { "start": { "line": 0, "character": 0 }, "end": { "line": last, "character": 0 } },
            "newText": expected
        }])
    );
    // Formatted text needs no edit; a text that does not parse gets none.
    client.change(&doc, 2, (0, 0), (last, 0), &expected);
    assert_eq!(format(&mut client), json!([]));
    client.change(&doc, 3, (0, 0), (0, 0), "when when ");
    assert_eq!(format(&mut client), json!([]));
    assert!(client.stop().success());
}
