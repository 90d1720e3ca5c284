//! Filling a scratch database through the product's own doors: one unit, two users and a plan
//! (the directory), then tasks on the bench-only workflow `bench/bench-cycle.toml`, created and
//! moved by the store exactly as a user's commands are. Nothing here writes SQL.
//!
//! The workflow is a two-state cycle: `bat_dau` starts the dossier (`soan_ho_so`), the unit's
//! `trinh` submits it into a 15-working-day appraisal (`tham_dinh`, five deadline timers), and the
//! Department of Finance's `tra_lai` returns it with a comment, forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use adapters::store::{NewTask, NewUser, Store, TransitionRequest};
use chrono::{Datelike, Utc};
use engine::Role;
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::workflow::{Catalog, Source};

use crate::{Failure, drive, progress};

/// The bench-only workflow.
const WORKFLOW: &str = include_str!("../bench-cycle.toml");
const WORKFLOW_NAME: &str = "bench-cycle";

const UNIT_ID: &str = "bench-don-vi";
const DONVI_USER: &str = "bench.donvi";
const STC_USER: &str = "bench.stc";
const PLAN_NUMBER: &str = "999/KH-BENCH";
/// A return-for-revision comment of a realistic length.
pub const RETURN_COMMENT: &str = "Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối lượng, đơn giá của từng hạng mục trong dự toán.";

/// How many tasks are created at once while seeding, unless a benchmark is told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The shipped definitions (for the calendars) plus the bench workflow.
pub fn catalog() -> Result<Arc<Catalog>, Failure> {
    let mut sources = adapters::definitions::embedded();
    sources.push(Source {
        path: "bench-cycle.toml".into(),
        text: WORKFLOW.into(),
    });
    Catalog::load(&sources).map(Arc::new).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        Failure::new(format!(
            "the bench workflow does not load:\n{}",
            list.join("\n")
        ))
    })
}

/// The two people who move the bench tasks.
#[derive(Debug, Clone)]
pub struct People {
    /// The unit's officer: creates, starts and submits (`trinh`).
    pub donvi: Actor,
    /// The Department of Finance's appraiser: returns for revision (`tra_lai`).
    pub stc: Actor,
}

impl People {
    pub const DONVI_USERNAME: &str = DONVI_USER;
    pub const STC_USERNAME: &str = STC_USER;
}

/// Adds the bench unit, its officer, an appraiser and the bench plan.
pub async fn directory(store: &Store) -> Result<People, Failure> {
    let now = Utc::now();
    store
        .add_unit(UNIT_ID, "Trung tâm đo hiệu năng (thử nghiệm)", None, now)
        .await?;
    for (username, display, unit, role) in [
        (
            DONVI_USER,
            "Cán bộ đơn vị (đo hiệu năng)",
            Some(UNIT_ID),
            Role::DonVi,
        ),
        (
            STC_USER,
            "Chuyên viên Sở Tài chính (đo hiệu năng)",
            None,
            Role::SoTaiChinh,
        ),
    ] {
        store
            .add_user(
                NewUser {
                    username: username.into(),
                    display_name: display.into(),
                    email: Some(format!("{username}@haiphong.gov.vn")),
                    unit_id: unit.map(str::to_string),
                    roles: vec![role],
                },
                now,
            )
            .await?;
    }
    let year = engine::time::local_date(now).year().clamp(2000, 2100);
    store
        .add_plan(
            PLAN_NUMBER,
            year,
            "Kế hoạch ứng dụng công nghệ thông tin (đo hiệu năng)",
            None,
            now,
        )
        .await?;
    Ok(People {
        donvi: store.actor(DONVI_USER).await?,
        stc: store.actor(STC_USER).await?,
    })
}

/// Where seeding leaves each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `soan_ho_so`, after `bat_dau`: the next move is the unit's `trinh`.
    Drafting,
    /// `tham_dinh`, after `bat_dau` and `trinh`: in its appraisal, with its five timers.
    Appraisal,
}

/// A seeded task as a benchmark drives it: where it is and at which version.
#[derive(Debug, Clone)]
pub struct BenchTask {
    pub id: String,
    pub version: i64,
    /// In `soan_ho_so` (next: `trinh` by the unit), else in `tham_dinh` (next: `tra_lai`).
    pub drafting: bool,
}

impl BenchTask {
    /// Makes the task's next move in the cycle through the store, as the person whose move it
    /// is; `if_match` sends the version last seen, as the API's clients do. Returns the task's
    /// new version.
    pub async fn move_in(
        &self,
        store: &Store,
        people: &People,
        if_match: bool,
    ) -> Result<i64, String> {
        let (req, actor) = self.next_move(people, if_match);
        store
            .transition(&req, actor, Utc::now())
            .await
            .map(|o| o.version)
            .map_err(|e| {
                format!(
                    "transition `{}` on task {} failed: {e}",
                    req.transition, self.id
                )
            })
    }

    /// The task's next move in the cycle and who makes it.
    fn next_move<'a>(&self, people: &'a People, if_match: bool) -> (TransitionRequest, &'a Actor) {
        let (transition, comment, actor) = if self.drafting {
            ("trinh", None, &people.donvi)
        } else {
            ("tra_lai", Some(RETURN_COMMENT), &people.stc)
        };
        let mut req = request(&self.id, transition, comment);
        if if_match {
            req.expected_version = Some(self.version);
        }
        (req, actor)
    }

    /// Records that the task's next move was taken (by the store or through the API).
    pub fn moved(&mut self, version: i64) {
        self.version = version;
        self.drafting = !self.drafting;
    }
}

/// A transition request with nothing but the task, the transition and the comment.
fn request(task_id: &str, transition: &str, comment: Option<&str>) -> TransitionRequest {
    TransitionRequest {
        task_id: task_id.to_string(),
        transition: transition.to_string(),
        comment: comment.map(str::to_string),
        document_ids: Vec::new(),
        expected_version: None,
        idempotency_key: None,
        automatic: false,
    }
}

/// Creates `n` tasks, `concurrency` at a time, each moved by the unit's officer to `stage`;
/// returns them in creation order. Shows a progress bar.
pub async fn tasks(
    store: &Store,
    people: &People,
    n: usize,
    concurrency: usize,
    stage: Stage,
) -> Result<Vec<BenchTask>, Failure> {
    let bar = progress::counter(n as u64, "seeding tasks");
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..concurrency.min(n) {
        let (store, donvi, next, failed, bar) = (
            store.clone(),
            people.donvi.clone(),
            next.clone(),
            failed.clone(),
            bar.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    return Ok::<_, Failure>(made);
                }
                match one_task(&store, &donvi, i, stage).await {
                    Ok(task) => {
                        made.push((i, task));
                        bar.inc(1);
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }));
    }
    let made = drive::join_all(handles, "seeding task").await;
    bar.finish_and_clear();
    let mut all: Vec<(usize, BenchTask)> = made
        .map_err(|e| Failure::new(format!("seeding failed: {}", e.0)))?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// Task number `i`: created, started, and submitted if `stage` asks for it.
async fn one_task(
    store: &Store,
    donvi: &Actor,
    i: usize,
    stage: Stage,
) -> Result<BenchTask, Failure> {
    let new = NewTask {
        plan: PLAN_NUMBER.into(),
        unit_id: UNIT_ID.into(),
        name: format!(
            "Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số {:05}",
            i + 1
        ),
        funding_source: FundingSource::SuNghiepCntt,
        kind: WORKFLOW_NAME.into(),
        period: Some("2026-2027".into()),
        is_rental: false,
        budget: Vec::new(),
    };
    let created = store.create_task(&new, donvi, None, Utc::now()).await?;
    let mut moves = vec!["bat_dau"];
    if stage == Stage::Appraisal {
        moves.push("trinh");
    }
    let mut version = created.version;
    for transition in moves {
        version = store
            .transition(
                &request(&created.task_id, transition, None),
                donvi,
                Utc::now(),
            )
            .await?
            .version;
    }
    Ok(BenchTask {
        id: created.task_id,
        version,
        drafting: stage == Stage::Drafting,
    })
}
