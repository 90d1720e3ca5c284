//! The web pages in a real browser: headless Chromium over WebDriver, against the real
//! application on a random loopback port, on SQLite and on PostgreSQL (issue 12).
//!
//! One browser session serves the whole suite (starting Chromium is the slow part), so the
//! walks run one after another inside a single test:
//!
//! - `lifecycle`: a `mua-sam` task proposed by a unit officer and taken through SKHCN's return
//!   with a comment, the unit's revision, Sở Tài chính's appraisal and UBND's approval, each
//!   person signed in through the sign-in page with the keyboard; the overview shows it moved;
//! - `email_link`: the reminder email's link lands on the task page after sign-in, and a
//!   return path to another site is refused (no open redirect);
//! - `isolation`: another unit's officer gets the same 404 as the API for the task and its
//!   document, and the task is in none of their lists;
//! - `csrf`: a form posted without its token is refused and changes nothing;
//! - `script_name`: a task named `<script>alert(1)</script>` is text everywhere, the SVG included;
//! - `stale`: a transition form for a version someone else moved on gets the conflict message
//!   and applies nothing;
//! - `round`: a reporting round opened by SKHCN on the plan's rounds page, a task's progress,
//!   difficulty and proposal entered by the unit officer, the head's submission, SKHCN reading
//!   it, rewriting a section and downloading the official DOCX (the export recorded);
//! - `pages` (SQLite run): every page checked by axe-core (no serious or critical violation),
//!   walked with the Tab key, and photographed at desktop and phone width into `target/ui/`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../api/helpers.rs"]
mod helpers;

mod browser;
mod walks;

use browser::Browser;
use common::TestDb;

#[test]
fn pages_in_a_real_browser_on_both_backends() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let b = Browser::start().await;
        walks::run_all(&b, TestDb::sqlite().await, true).await;
        walks::run_all(&b, TestDb::postgres().await, false).await;
        b.close().await;
    });
}
