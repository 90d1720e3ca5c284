//! Filling a scratch database through the product's own doors: one unit, two users and a plan
//! (the directory), then tasks on the bench-only workflow `bench/bench-cycle.toml`, created and
//! moved by the store exactly as a user's commands are. Nothing here writes SQL.
//!
//! The workflow is a two-state cycle: `bat_dau` starts the dossier (`soan_ho_so`), the unit's
//! `trinh` submits it into a 15-working-day appraisal (`tham_dinh`, five deadline timers), and the
//! Department of Finance's `tra_lai` returns it with a comment, forever.
//!
//! The peers' scenario (`transitions --scenario approval`, bench/peers/README.md) walks tasks of
//! the six-step chain `bench/peers/six-step-approval.toml` once each, to its end ([`Walk`]).

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
/// The peers' six-step approval chain, the same as SpiffWorkflow's BPMN beside it.
const APPROVAL: &str = include_str!("../peers/six-step-approval.toml");
const APPROVAL_NAME: &str = "phe-duyet-sau-buoc";

pub const UNIT_ID: &str = "bench-don-vi";
const DONVI_USER: &str = "bench.donvi";
const STC_USER: &str = "bench.stc";
const SKHCN_USER: &str = "bench.skhcn";
pub const PLAN_NUMBER: &str = "999/KH-BENCH";
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
    sources.push(Source {
        path: "six-step-approval.toml".into(),
        text: APPROVAL.into(),
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
    /// The Department of Science & Technology's reviewer (the approval chain's steps 2 and 6).
    pub skhcn: Actor,
}

impl People {
    pub const DONVI_USERNAME: &str = DONVI_USER;
    pub const STC_USERNAME: &str = STC_USER;
}

/// Adds the bench unit, its officer, an appraiser and the bench plan.
pub async fn directory(store: &Store) -> Result<People, Failure> {
    let now = Utc::now();
    store
        .directory()
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
        (
            SKHCN_USER,
            "Chuyên viên Sở Khoa học và Công nghệ (đo hiệu năng)",
            None,
            Role::Skhcn,
        ),
    ] {
        store
            .directory()
            .add_user(
                NewUser::with_role(username, display, role, unit)
                    .mailed_at(format!("{username}@haiphong.gov.vn")),
                now,
            )
            .await?;
    }
    let year = engine::time::local_date(now).year().clamp(2000, 2100);
    store
        .directory()
        .add_plan(
            PLAN_NUMBER,
            year,
            "Kế hoạch ứng dụng công nghệ thông tin (đo hiệu năng)",
            None,
            now,
        )
        .await?;
    Ok(People {
        donvi: store.directory().actor(DONVI_USER).await?,
        stc: store.directory().actor(STC_USER).await?,
        skhcn: store.directory().actor(SKHCN_USER).await?,
    })
}

/// Where seeding leaves each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `soan_ho_so`, after `bat_dau`: the next move is the unit's `trinh`.
    Drafting,
    /// `tham_dinh`, after `bat_dau` and `trinh`: in its appraisal, with its five timers.
    Appraisal,
    /// On the six-step approval chain instead, created only: at its first step, `de_xuat`.
    Approval,
}

/// A seeded task as a benchmark drives it: where it is and at which version.
#[derive(Debug, Clone)]
pub struct BenchTask {
    pub id: String,
    pub version: i64,
    /// In `soan_ho_so` (next: `trinh` by the unit), else in `tham_dinh` (next: `tra_lai`).
    pub drafting: bool,
    /// On the six-step approval chain: where the task is on its walk (then `drafting` is unused).
    pub walk: Option<Walk>,
}

/// A task's walk through the six-step approval chain (`bench/peers/six-step-approval.toml`),
/// once, to its end; one task in [`Walk::RETURN_EVERY`] is returned for revision once at step 3,
/// back to step 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// The step whose move is next, 0..6; 6 is the end (`hoan_thanh`).
    pub step: usize,
    /// Whether this task is returned for revision once at step 3 and has not been yet.
    pub return_pending: bool,
}

impl Walk {
    /// One return for revision in ten instances, as SpiffWorkflow's side of the scenario.
    pub const RETURN_EVERY: usize = 10;
    /// Each step's transition and who takes it (step 3's return is [`Walk::RETURN`]).
    const STEPS: [(&str, Who); 6] = [
        ("dang_ky", Who::DonVi),
        ("trinh", Who::DonVi),
        ("dong_y", Who::Stc),
        ("ky_hop_dong", Who::DonVi),
        ("de_nghi_nghiem_thu", Who::DonVi),
        ("hoan_thanh", Who::Skhcn),
    ];
    const RETURN: &str = "tra_lai";
    /// Step 3 (`tham_dinh`) returns to step 2 (`soan_ho_so`).
    const RETURN_STEP: usize = 2;
    const RETURN_TO: usize = 1;

    /// The walk of task number `i` (0-based) of a scenario: the tenth, twentieth… return once.
    pub fn new(i: usize) -> Walk {
        Walk {
            step: 0,
            return_pending: i % Walk::RETURN_EVERY == Walk::RETURN_EVERY - 1,
        }
    }

    /// The moves a scenario of `tasks` tasks takes: six each, two more for each return (the
    /// return itself instead of `dong_y`, then `trinh` and `dong_y` again).
    pub fn total_moves(tasks: usize) -> u64 {
        let returned = tasks / Walk::RETURN_EVERY;
        (6 * tasks + 2 * returned) as u64
    }

    pub fn finished(&self) -> bool {
        self.step >= Walk::STEPS.len()
    }

    fn returning(&self) -> bool {
        self.step == Walk::RETURN_STEP && self.return_pending
    }

    /// The next move's transition, comment and taker.
    fn next(&self) -> (&'static str, Option<&'static str>, Who) {
        if self.returning() {
            return (Walk::RETURN, Some(RETURN_COMMENT), Who::Stc);
        }
        let (transition, who) = Walk::STEPS[self.step.min(Walk::STEPS.len() - 1)];
        (transition, None, who)
    }

    fn advance(&mut self) {
        if self.returning() {
            self.return_pending = false;
            self.step = Walk::RETURN_TO;
        } else {
            self.step += 1;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Who {
    DonVi,
    Skhcn,
    Stc,
}

impl Who {
    fn actor(self, people: &People) -> &Actor {
        match self {
            Who::DonVi => &people.donvi,
            Who::Skhcn => &people.skhcn,
            Who::Stc => &people.stc,
        }
    }
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
            .tasks()
            .transition_as(actor, &req, Utc::now())
            .await
            .map(|o| o.version)
            .map_err(|e| {
                format!(
                    "transition `{}` on task {} failed: {e}",
                    req.transition, self.id
                )
            })
    }

    /// The task's next move (in the cycle, or on its walk) and who makes it.
    fn next_move<'a>(&self, people: &'a People, if_match: bool) -> (TransitionRequest, &'a Actor) {
        let (transition, comment, actor) = match &self.walk {
            Some(walk) => {
                let (transition, comment, who) = walk.next();
                (transition, comment, who.actor(people))
            }
            None if self.drafting => ("trinh", None, &people.donvi),
            None => ("tra_lai", Some(RETURN_COMMENT), &people.stc),
        };
        let mut req = request(&self.id, transition, comment);
        if if_match {
            req.expected_version = adapters::store::Expected::Version(self.version);
        }
        (req, actor)
    }

    /// Records that the task's next move was taken (by the store or through the API).
    pub fn moved(&mut self, version: i64) {
        self.version = version;
        match &mut self.walk {
            Some(walk) => walk.advance(),
            None => self.drafting = !self.drafting,
        }
    }

    /// Whether the task has no move left (the end of its walk; a cycle never ends).
    pub fn finished(&self) -> bool {
        self.walk.is_some_and(|w| w.finished())
    }
}

/// A transition request with nothing but the task, the transition and the comment.
fn request(task_id: &str, transition: &str, comment: Option<&str>) -> TransitionRequest {
    TransitionRequest::new(task_id, transition).commented(comment)
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

/// Task number `i`: created, started, and submitted if `stage` asks for it (on the approval
/// chain: created only).
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
        kind: if stage == Stage::Approval {
            APPROVAL_NAME
        } else {
            WORKFLOW_NAME
        }
        .into(),
        period: Some("2026-2027".into()),
        is_rental: false,
        own_fund: false,
        budget: Vec::new(),
    };
    let created = store
        .tasks()
        .create_as(donvi, &new, None, Utc::now())
        .await?;
    let moves = match stage {
        Stage::Drafting => vec!["bat_dau"],
        Stage::Appraisal => vec!["bat_dau", "trinh"],
        Stage::Approval => vec![],
    };
    let mut version = created.version;
    for transition in moves {
        version = store
            .tasks()
            .transition_as(
                donvi,
                &request(&created.task_id, transition, None),
                Utc::now(),
            )
            .await?
            .version;
    }
    Ok(BenchTask {
        id: created.task_id,
        version,
        drafting: stage == Stage::Drafting,
        walk: (stage == Stage::Approval).then(|| Walk::new(i)),
    })
}
