//! One wording of a deadline: the same task at the same moment reads the same in the API, on the
//! command line and in email ("đã quá hạn", not three phrasings of it).

use std::process::Command;

use adapters::store::TransitionRequest;
use chrono::{TimeDelta, Utc};
use engine::notify::{Message, render};
use engine::time::local_date;

use crate::common::{TestDb, workflows_with_fixture};
use crate::helpers::{PLAN, Who, json, world_on};

crate::on_both_backends!(api_cli_and_email_word_one_deadline_alike);

const FIXTURE: &str = "thu-nghiem-nhac-han.toml";

/// The words in the parentheses after the deadline on a "Thời hạn:" line.
fn time_left_on_deadline_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Thời hạn:"))
        .unwrap_or_else(|| panic!("no deadline line in:\n{text}"));
    let (_, words) = line
        .split_once(" (")
        .unwrap_or_else(|| panic!("no time left on: {line}"));
    words.trim_end().trim_end_matches(')').to_string()
}

async fn api_cli_and_email_word_one_deadline_alike(db: TestDb) {
    let db_url = db.url.clone();
    let w = world_on(db, &[FIXTURE], |_| {}).await;
    let store = w.store();
    let officer = w.actor(Who::Officer).await;
    // The fixture's appraisal has a four-second deadline: entered ten seconds ago, it passed six
    // seconds ago, on today's date (after midnight, wait until it is).
    let mut entered = Utc::now() - TimeDelta::seconds(10);
    if local_date(entered) != local_date(Utc::now()) {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        entered = Utc::now() - TimeDelta::seconds(10);
    }
    let id = store
        .tasks()
        .create_as(
            &officer,
            &crate::common::new_task(PLAN, "so-y-te", "Tổng đài 1022", "thu-nghiem-nhac-han"),
            None,
            entered - TimeDelta::seconds(1),
        )
        .await
        .expect("create")
        .task_id;
    store
        .tasks()
        .transition_as(
            &officer,
            &TransitionRequest::new(&id, "gui_tham_dinh"),
            entered,
        )
        .await
        .expect("to appraisal");

    let api = json(
        w.app
            .get(&format!("/api/v1/tasks/{id}"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    let api = api["deadline"]["time_left_text"]
        .as_str()
        .unwrap_or_else(|| panic!("no time left in {api}"))
        .to_string();

    let workflows = workflows_with_fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(["task", "show", &id, "--as", "pho.chu.tich"])
        .env("DATABASE_URL", &db_url)
        .env("TIENDO_WORKFLOWS", workflows.path())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = time_left_on_deadline_line(&String::from_utf8_lossy(&out.stdout));

    let view = adapters::email::task_view(store, &id, Utc::now(), "https://tiendo.haiphong.gov.vn")
        .await
        .expect("the task as a message shows it");
    let mail = render(&Message::Overdue {
        task: view,
        missed: 0,
    });
    let email = time_left_on_deadline_line(&mail.text);

    assert_eq!(
        (api.as_str(), cli.as_str()),
        (email.as_str(), email.as_str()),
        "API, CLI and email word the same deadline differently"
    );
    assert_eq!(email, "đã quá hạn");
}
