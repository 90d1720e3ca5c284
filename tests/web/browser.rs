//! One headless Chromium, driven over WebDriver (chromedriver) with fantoccini, shared by every
//! walk of the suite. Debian's `chromium` and `chromium-driver` (installed by `.ci/run`).
//!
//! Besides navigation helpers it audits a page: axe-core (the vendored `vendor/axe.min.js`,
//! used only here) must find no serious or critical violation, every visible control must be
//! reachable with the Tab key, and a screenshot is written at desktop and phone width under
//! `target/ui/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const AXE: &str = include_str!("vendor/axe.min.js");
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub shots: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn find(program: &str, candidates: &[&str]) -> String {
    for c in candidates {
        if Path::new(c).exists() {
            return (*c).to_string();
        }
    }
    panic!(
        "{program} is required for the browser tests and was not found (looked in {candidates:?}). \
         Install Debian's chromium and chromium-driver (.ci/run does)."
    );
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens one headless Chromium session with
    /// a fresh profile; this machine's network is closed, so everything that phones home is off.
    pub async fn start() -> Browser {
        let chromium = find(
            "chromium",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let chromedriver = find(
            "chromedriver",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        );
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--lang=vi",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ]
            }),
        );
        // Plain HTTP to chromedriver on loopback: no TLS stack needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in headless Chromium");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui");
        std::fs::create_dir_all(&shots).expect("target/ui");
        let b = Browser {
            client,
            driver,
            _profile: profile,
            shots,
        };
        b.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("window size");
        b
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("current url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// The element `css` designates; the test fails naming the page when there is none.
    pub async fn el(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "no `{css}` on {}: {e}\n{}",
                self.path().await,
                self.body().await.chars().take(800).collect::<String>()
            ),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.el(css).await.text().await.expect("text")
    }

    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn body(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        e.send_keys(text).await.expect("type");
    }

    pub async fn select(&self, css: &str, value: &str) {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
        e.select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in `{css}`: {e}"));
    }

    /// Presses a key on an element (focusing it): the keyboard path through a page.
    pub async fn press(&self, css: &str, key: char) {
        let e = self.el(css).await;
        e.send_keys(&key.to_string()).await.expect("key");
    }

    pub async fn click(&self, css: &str) {
        self.el(css).await.click().await.expect("click");
    }

    /// Waits until the page's path (with its query) contains `part`.
    pub async fn wait_path(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let p = self.path().await;
            if p.contains(part) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited for a page at …{part}…, still on {p}: {}",
                    self.body().await.chars().take(600).collect::<String>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for an element to appear.
    pub async fn wait_for(&self, css: &str) {
        if let Err(e) = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            panic!("waited for `{css}` on {}: {e}", self.path().await);
        }
    }

    /// Signs in through the sign-in page, with the keyboard only: type the name, Tab, the
    /// password, Enter.
    pub async fn sign_in(&self, base: &str, username: &str, password: &str) {
        if !self.path().await.starts_with("/sign-in") {
            self.goto(&format!("{base}/sign-in")).await;
        }
        self.type_into("#username", username).await;
        self.press("#username", '\u{E004}').await; // Tab
        let active = self.client.active_element().await.expect("focus");
        assert_eq!(
            active.attr("id").await.expect("id").as_deref(),
            Some("password")
        );
        active.send_keys(password).await.expect("password");
        active.send_keys("\u{E007}").await.expect("Enter");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.path().await.starts_with("/sign-in") {
            assert!(
                Instant::now() < deadline,
                "still on the sign-in page as {username}: {}",
                self.body().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn sign_out(&self) {
        self.click("form[action='/sign-out'] button").await;
        self.wait_path("/sign-in").await;
    }

    /// The value of a cookie, `HttpOnly` ones included (WebDriver sees them).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_string())
    }

    /// Runs axe-core on the page: no serious or critical violation.
    pub async fn axe(&self, name: &str) {
        let loaded = self
            .client
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await
            .expect("script");
        if loaded != Value::Bool(true) {
            self.client
                .execute(AXE, vec![])
                .await
                .expect("inject axe-core");
        }
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                   nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))))
                   .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("axe.run");
        let violations = result.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "{name}: axe-core found serious or critical violations: {}",
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Every visible link, button, field and disclosure of the page is reached by the Tab key.
    pub async fn keyboard_reaches_everything(&self, name: &str) {
        self.client
            .execute(
                "document.querySelectorAll('[data-kb]').forEach(e => e.removeAttribute('data-kb'));
                 let i = 0;
                 for (const e of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
                   const r = e.getBoundingClientRect();
                   const closed = e.closest('details:not([open])');
                   const inClosed = closed && !(e.tagName === 'SUMMARY' && e.parentElement === closed);
                   const hidden = inClosed || !e.checkVisibility({ checkVisibilityCSS: true }) || e.closest('[aria-hidden=true]') || e.classList.contains('sr-only') || e.classList.contains('skip');
                   if (r.width > 0 && r.height > 0 && !e.disabled && !hidden) e.setAttribute('data-kb', String(i++));
                 }
                 document.activeElement && document.activeElement.blur();
                 window.scrollTo(0, 0);
                 return i;",
                vec![],
            )
            .await
            .expect("mark controls");
        let wanted = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll('[data-kb]')).map(e => e.getAttribute('data-kb'));",
                vec![],
            )
            .await
            .expect("controls");
        let wanted: Vec<String> = wanted
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let mut reached = std::collections::HashSet::new();
        let body = self.client.find(Locator::Css("body")).await.expect("body");
        body.send_keys("\u{E004}").await.expect("tab");
        for _ in 0..(wanted.len() * 2 + 10) {
            let got = self
                .client
                .execute(
                    "const e = document.activeElement; return e ? e.getAttribute('data-kb') : null;",
                    vec![],
                )
                .await
                .expect("active element");
            if let Some(k) = got.as_str() {
                reached.insert(k.to_string());
            }
            if reached.len() == wanted.len() {
                break;
            }
            let active = self.client.active_element().await.expect("active");
            if active.send_keys("\u{E004}").await.is_err() {
                body.send_keys("\u{E004}").await.expect("tab");
            }
        }
        let missing: Vec<&String> = wanted.iter().filter(|w| !reached.contains(*w)).collect();
        if !missing.is_empty() {
            let names = self
                .client
                .execute(
                    "return arguments[0].map(k => { const e = document.querySelector(`[data-kb=\"${k}\"]`); return e ? e.outerHTML.slice(0, 120) : k; });",
                    vec![json!(missing)],
                )
                .await
                .expect("names");
            panic!("{name}: not reachable with the Tab key: {names}");
        }
    }

    /// Screenshots at desktop and phone width, under `target/ui/NAME-desktop.png` and
    /// `NAME-phone.png`.
    pub async fn screenshots(&self, name: &str) {
        for (label, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.client.set_window_size(w, h).await.expect("resize");
            // The top of the page; on a desktop, the whole page (up to 3,000 pixels).
            let full = self
                .client
                .execute(
                    "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
                    vec![],
                )
                .await
                .expect("height")
                .as_u64()
                .unwrap_or(u64::from(h));
            if label == "desktop" {
                let tall = u32::try_from(full).unwrap_or(h).clamp(h, 3000);
                self.client
                    .set_window_size(w, tall + 90)
                    .await
                    .expect("resize");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(self.shots.join(format!("{name}-{label}.png")), png)
                .expect("write screenshot");
        }
        self.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("resize");
    }

    /// axe-core, the keyboard walk and the screenshots of the page now shown.
    pub async fn audit(&self, name: &str) {
        self.axe(name).await;
        self.keyboard_reaches_everything(name).await;
        self.screenshots(name).await;
    }
}
