//! Keep-alive after a refusal, over a raw TCP connection so that what the server does with the
//! connection is seen byte for byte.
//!
//! A request refused before its body is read (no identity, a declared length over the limit)
//! must not leave the client with a connection that promises keep-alive and is then reset:
//! a small unread body is read to its end and the connection stays usable; a large one is
//! refused with `Connection: close`, and the server then closes. A client that holds its body
//! back until told `100 Continue` is not told so for a request already refused.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestDb;
use crate::helpers::spawn_app;

crate::on_both_backends!(
    a_refused_small_body_keeps_the_connection,
    a_refused_large_body_closes_the_connection_and_says_so,
    a_refusal_does_not_ask_for_a_body_held_back_for_100_continue
);

/// One HTTP/1.1 answer: status, headers (names lower-cased), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one answer with a `Content-Length` body; `None` when the connection ends first.
async fn read_answer(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Answer> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no answer within 10 s"),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .expect("a Content-Length");
    while buf.len() < head_end + len {
        let mut chunk = [0u8; 4096];
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Reads the answer to a request sent without an identity: a 401 problem.
async fn read_refusal(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Answer {
    let answer = read_answer(conn, buf).await.expect("the refusal arrives");
    assert_eq!(
        answer.status,
        401,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    answer
}

async fn connect(base: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let conn = TcpStream::connect(addr).await.expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    conn
}

async fn a_refused_small_body_keeps_the_connection(db: TestDb) {
    let app = spawn_app(db).await;
    let mut conn = connect(&app.base).await;
    let body = format!(r#"{{"comment":"{}"}}"#, "x".repeat(4000));
    let head = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    // The head and a first piece of the body; the rest comes after the server has had time to
    // refuse the request (no identity) without reading it.
    conn.write_all(head.as_bytes()).await.expect("write head");
    conn.write_all(&body.as_bytes()[..10]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(&body.as_bytes()[10..])
        .await
        .expect("write rest");
    conn.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write second request");

    let mut buf = Vec::new();
    let first = read_refusal(&mut conn, &mut buf).await;
    assert_ne!(
        first.header("connection"),
        Some("close"),
        "a small unread body is read, not a reason to close"
    );
    let second = read_answer(&mut conn, &mut buf)
        .await
        .expect("the second request on the same connection is answered, not reset");
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
}

async fn a_refused_large_body_closes_the_connection_and_says_so(db: TestDb) {
    let app = spawn_app(db).await;
    let mut conn = connect(&app.base).await;
    // 50 MiB declared, a little sent: refused (no identity) without reading the rest.
    let head = "POST /api/v1/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Content-Length: 52428800\r\n\r\n{\"comment\":\"";
    conn.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = Vec::new();
    let first = read_refusal(&mut conn, &mut buf).await;
    assert_eq!(
        first.header("connection"),
        Some("close"),
        "the answer must say the connection ends, so no client sends another request on it"
    );
    let mut rest = [0u8; 64];
    let end = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut rest))
        .await
        .expect("the server closes within 10 s");
    assert!(
        matches!(end, Ok(0) | Err(_)),
        "nothing follows the refusal: {end:?}"
    );
}

async fn a_refusal_does_not_ask_for_a_body_held_back_for_100_continue(db: TestDb) {
    let app = spawn_app(db).await;
    let mut conn = connect(&app.base).await;
    let head = "POST /api/v1/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Content-Length: 20\r\nExpect: 100-continue\r\n\r\n";
    conn.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = Vec::new();
    // The first thing to arrive is the refusal, not `100 Continue`.
    let first = read_refusal(&mut conn, &mut buf).await;
    assert_eq!(first.header("connection"), Some("close"));
}
