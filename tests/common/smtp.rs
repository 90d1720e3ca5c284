//! A real SMTP server on loopback for the tests (mailin-embedded), recording what it receives.

use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// A received message, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
    /// When the client began sending the message (DATA).
    pub data_at: DateTime<Utc>,
    /// When this server accepted it: the instant just before its `250` answer to the data.
    pub accepted_at: DateTime<Utc>,
}

/// A received message as it came: envelope recipients, raw data, when DATA began and when the
/// server accepted it.
struct Received {
    to: Vec<String>,
    data: Vec<u8>,
    data_at: DateTime<Utc>,
    accepted_at: DateTime<Utc>,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

#[derive(Clone)]
struct Recorder {
    inbox: Inbox,
    to: Vec<String>,
    data: Vec<u8>,
    data_at: DateTime<Utc>,
    /// How long the server takes to accept each message (a slow relay).
    delay: Duration,
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        self.data_at = Utc::now();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        self.inbox.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
            data_at: self.data_at,
            accepted_at: Utc::now(),
        });
        response::OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Inbox,
}

/// A free loopback port, for a server that will start later ("SMTP down for a while").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    pub fn start_on(port: u16) -> SmtpServer {
        SmtpServer::start_with(port, Duration::ZERO)
    }

    /// A server that takes `delay` to accept each message (it answers the data that late).
    pub fn start_slow(delay: Duration) -> SmtpServer {
        SmtpServer::start_with(free_port(), delay)
    }

    fn start_with(port: u16, delay: Duration) -> SmtpServer {
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the test SMTP server");
        let mut server = Server::new(Recorder {
            inbox: inbox.clone(),
            to: Vec::new(),
            data: Vec::new(),
            data_at: Utc::now(),
            delay,
        });
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        // serve() blocks for good; the thread ends with the test process.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.lock().unwrap().iter().map(parse).collect()
    }

    /// Waits until at least `n` messages arrived, or `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let start = std::time::Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= n || start.elapsed() > timeout {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn parse(r: &Received) -> Mail {
    let m = mailparse::parse_mail(&r.data).expect("a well-formed message");
    use mailparse::MailHeaderMap;
    let header = |name: &str| m.headers.get_first_value(name).unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    for part in m.subparts.iter().chain(std::iter::once(&m)) {
        match part.ctype.mimetype.as_str() {
            "text/plain" if text.is_empty() => text = part.get_body().unwrap_or_default(),
            "text/html" if html.is_empty() => html = part.get_body().unwrap_or_default(),
            _ => {}
        }
    }
    Mail {
        to: r.to.clone(),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        content_type: m.ctype.mimetype.clone(),
        text,
        html,
        data_at: r.data_at,
        accepted_at: r.accepted_at,
    }
}

/// A relay named `name` sending through the SMTP server on loopback `port` (no TLS, no login,
/// from the city's address, 5 s timeout).
pub fn relay(
    store: &adapters::store::Store,
    port: u16,
    name: &str,
    cfg: adapters::email::RelayConfig,
) -> adapters::email::Relay {
    let smtp = adapters::email::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: adapters::email::TlsMode::None,
        username: None,
        password: None,
        from: "Tiến độ CNTT Hải Phòng <tiendo@haiphong.gov.vn>"
            .parse()
            .unwrap(),
        timeout: Duration::from_secs(5),
    };
    adapters::email::Relay::new(
        store.clone(),
        adapters::email::Mailer::new(&smtp).unwrap(),
        name,
        cfg,
    )
}
