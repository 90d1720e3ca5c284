//! A real SMTP server on loopback for the tests (mailin-embedded), recording what it receives.

use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

/// Each received message: its envelope recipients and raw data.
type Inbox = Arc<Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

#[derive(Clone)]
struct Recorder {
    inbox: Inbox,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox
            .lock()
            .unwrap()
            .push((std::mem::take(&mut self.to), std::mem::take(&mut self.data)));
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
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the test SMTP server");
        let mut server = Server::new(Recorder {
            inbox: inbox.clone(),
            to: Vec::new(),
            data: Vec::new(),
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
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .map(|(to, data)| parse(to, data))
            .collect()
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

fn parse(to: &[String], data: &[u8]) -> Mail {
    let m = mailparse::parse_mail(data).expect("a well-formed message");
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
        to: to.to_vec(),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        content_type: m.ctype.mimetype.clone(),
        text,
        html,
    }
}
