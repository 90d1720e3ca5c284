//! The request id, end to end through the real `tiendo serve`: every log line written while
//! answering a request names that request's id, and the same id comes back in the
//! `x-request-id` response header (the client's own id when it sends a harmless one).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::TestDb;

crate::on_both_backends!(every_log_line_of_a_request_names_its_request_id);

const PASSWORD: &str = "Hai-Phong-2026!";

fn tiendo(db: &TestDb) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tiendo"));
    c.env("DATABASE_URL", &db.url)
        .env_remove("TIENDO_WORKFLOWS")
        .env_remove("TIENDO_CONFIG");
    c
}

/// The server's stderr, line by line, as it is written.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits (at most 30 s) for a line matching `want`, keeping every line read.
    fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(l) = self.seen.iter().find(|l| want(l)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!(
                    "no such log line; the server wrote:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

async fn every_log_line_of_a_request_names_its_request_id(db: TestDb) {
    let mut add = tiendo(&db)
        .args([
            "user",
            "add",
            "nhat.ky",
            "--role",
            "ubnd",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tiendo");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    let out = add.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let data = tempfile::tempdir().expect("temp dir");
    let mut child = tiendo(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-scheduler"])
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tiendo serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        lines: rx,
        seen: Vec::new(),
    };
    let ready = server.wait_for(|l| l.starts_with("tiendo: ") && l.contains("http://"));
    let base = ready
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the URL")
        .trim_end_matches('/')
        .to_string();
    let client = reqwest::Client::new();

    // The client's own id: kept, returned, and on every line of the request, including the
    // handler's own ("signed in") and the trace layer's.
    let id = "kiem-tra-nhat-ky-0001";
    let r = client
        .post(format!("{base}/api/v1/auth/sign-in"))
        .header("x-request-id", id)
        .json(&json!({"username": "nhat.ky", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], id);
    server.wait_for(|l| l.contains("finished processing request") && l.contains(id));
    let signed = server.wait_for(|l| l.contains("signed in"));
    assert!(signed.contains(&format!("request_id={id}")), "{signed}");

    // No id: a fresh UUID, in the header and in the lines.
    let r = client
        .get(format!("{base}/api/v1/tasks"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let made = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(uuid_like(&made), "{made}");
    server.wait_for(|l| l.contains("finished processing request") && l.contains(&made));

    // An id that could break a log line is replaced, not logged.
    let r = client
        .get(format!("{base}/api/v1/health"))
        .header("x-request-id", "fake line\tlevel=ERROR")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let replaced = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(uuid_like(&replaced), "{replaced}");
    server.wait_for(|l| l.contains("finished processing request") && l.contains(&replaced));

    // Every line logged inside a request span names its id: none without one.
    for l in server.seen.iter().filter(|l| l.contains("request{")) {
        assert!(l.contains("request_id="), "{l}");
        assert!(!l.contains("request_id=-"), "{l}");
        assert!(!l.contains("fake line"), "{l}");
    }
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}
