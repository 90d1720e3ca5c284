//! `decide` on the small fixture workflow, one rule per test; and the property that random
//! command sequences on every shipped workflow stay on the backbone and never get stuck.

use super::*;
use crate::testing::{SMALL, catalog, small_with};
use crate::time::parse_instant;
use std::sync::Arc;

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

fn officer() -> Actor {
    Actor {
        user: "can_bo".into(),
        roles: vec![Role::DonVi],
        units: vec!["so-y-te".into()],
    }
}

fn appraiser() -> Actor {
    Actor {
        user: "tham_dinh_vien".into(),
        roles: vec![Role::SoTaiChinh],
        units: vec!["so-tai-chinh".into()],
    }
}

fn snapshot(state: &str, entered: Instant) -> TaskSnapshot {
    TaskSnapshot {
        unit: "so-y-te".into(),
        state: state.into(),
        state_entered_at: entered,
        clock: None,
        paused_clock: None,
        transition_counts: BTreeMap::new(),
        review: 1,
        state_entries: BTreeMap::from([(state.to_string(), 1)]),
        funding: Some(crate::domain::FundingSource::ThuongXuyen),
        own_fund: false,
        amount_vnd: Some(500_000_000),
    }
}

fn take(name: &str, comment: Option<&str>, docs: &[&str]) -> Command {
    Command::Transition {
        name: name.into(),
        comment: comment.map(str::to_string),
        documents: docs
            .iter()
            .enumerate()
            .map(|(i, d)| AttachedDocument {
                id: format!("doc-{i}"),
                doc_type: d.to_string(),
            })
            .collect(),
    }
}

/// Applies a decision to a snapshot, as the store does.
fn apply(task: &TaskSnapshot, d: &Decision) -> TaskSnapshot {
    let mut next = task.clone();
    next.state = d.state.clone();
    next.state_entered_at = d.audit.at;
    next.clock = d.clock.clone();
    next.paused_clock = d.paused_clock.clone();
    next.transition_counts = d.transition_counts.clone();
    next.state_entries = d.state_entries.clone();
    next.review = d.round.review;
    next
}

#[test]
fn submitting_for_appraisal_starts_a_15_working_day_clock_with_reminders() {
    let wf = small_with(str::to_string);
    // Friday 13/02/2026 09:00, the eve of Tết: the 15 working days start after the holiday.
    let now = at("2026-02-13T09:00:00+07:00");
    let task = snapshot("thuyet_minh", now);
    let d = decide(
        &wf,
        &task,
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        now,
    )
    .unwrap();
    assert_eq!((d.state.as_str(), d.phase), ("tham_dinh", Phase::Appraisal));
    assert_eq!(d.audit.from_phase, Some(Phase::ExplanationAndEstimate));
    assert_eq!(d.audit.actor_role, Some(Role::DonVi));
    assert_eq!(d.audit.documents, vec!["doc-0"]);
    let clock = d.clock.clone().unwrap();
    // Tết is 14–22/02/2026; working days 23/02 … 13/03/2026: the 15th is Friday 13/03.
    assert_eq!(format_instant(clock.due_at), "13/03/2026 23:59");
    let kinds: Vec<&TimerKind> = d.create_timers.iter().map(|t| &t.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &TimerKind::Reminder { fraction: 0.5 },
            &TimerKind::Reminder { fraction: 0.75 },
            &TimerKind::Due
        ]
    );
    for t in &d.create_timers {
        assert!(t.fire_at > now && t.fire_at <= clock.due_at);
        assert!(
            wf.calendar
                .is_working_day(crate::time::local_date(t.fire_at))
                .unwrap()
        );
    }
    assert_eq!(d.notifications[0].roles, vec![Role::SoTaiChinh]);
    assert_eq!(d.notifications[0].template, "task.turn");
}

#[test]
fn wrong_role_and_wrong_unit_are_refused_in_vietnamese() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let task = snapshot("thuyet_minh", now);
    let err = decide(
        &wf,
        &task,
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "wrong_role");
    assert!(
        err.to_string()
            .contains("chỉ vai trò Cán bộ đơn vị (don_vi) được thực hiện"),
        "{err}"
    );
    let mut other = officer();
    other.units = vec!["so-xay-dung".into()];
    let err = decide(
        &wf,
        &task,
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &other,
        now,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::NotYourUnit {
            transition: "trinh".into()
        }
    );
    assert!(err.to_string().contains("không thuộc đơn vị của bạn"));
    // A unit merged into the actor's unit counts as the actor's own.
    other.units.push("so-y-te".into());
    assert!(
        decide(
            &wf,
            &task,
            &take("trinh", None, &["thuyet_minh_du_toan"]),
            &other,
            now
        )
        .is_ok()
    );
}

#[test]
fn missing_document_and_missing_comment_are_both_named() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let task = snapshot("tham_dinh", now);
    let err = decide(
        &wf,
        &task,
        &take("tra_lai", Some("  "), &[]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    let Rejection::Unmet { unmet, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(unmet.len(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("thiếu tài liệu: Văn bản cho ý kiến (van_ban_y_kien)"),
        "{msg}"
    );
    assert!(msg.contains("bắt buộc ghi ý kiến, lý do"), "{msg}");
    let err = decide(
        &wf,
        &task,
        &take("tra_lai", None, &["van_ban_y_kien"]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "comment_required");
    let err = decide(
        &wf,
        &snapshot("thuyet_minh", now),
        &take("trinh", None, &[]),
        &officer(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "missing_documents");
}

#[test]
fn revision_rounds_are_limited() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let mut task = snapshot("tham_dinh", now);
    task.transition_counts.insert("tra_lai".into(), 2);
    let err = decide(
        &wf,
        &task,
        &take("tra_lai", Some("Thiếu báo giá"), &["van_ban_y_kien"]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "round_limit_reached");
    assert!(err.to_string().contains("đã hết số lần cho phép (2 lần)"));
}

#[test]
fn a_transition_from_elsewhere_lists_the_available_ones() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let err = decide(
        &wf,
        &snapshot("du_thao", now),
        &take("dat", None, &[]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    let Rejection::NotAvailable { available, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(available[0].transition, "lap_thuyet_minh");
    assert_eq!(
        available[0].unmet[0],
        Unmet::Role {
            allowed: vec![Role::DonVi]
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("«Đơn vị dự thảo»") && msg.contains("lap_thuyet_minh («Lập thuyết minh»)"),
        "{msg}"
    );
    let err = decide(
        &wf,
        &snapshot("du_thao", now),
        &take("khong_co", None, &[]),
        &officer(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "transition_not_available");
}

#[test]
fn closed_tasks_do_not_move() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let err = decide(
        &wf,
        &snapshot("hoan_thanh", now),
        &take("dat", None, &[]),
        &appraiser(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "task_closed");
}

#[test]
fn returning_the_dossier_pauses_the_clock_and_resubmission_pushes_the_deadline_out() {
    let wf = small_with(str::to_string);
    let t0 = at("2026-03-02T09:00:00+07:00"); // Monday
    let d = decide(
        &wf,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let due = d.clock.clone().unwrap().due_at;
    assert_eq!(format_instant(due), "23/03/2026 23:59");
    let task = apply(&snapshot("thuyet_minh", t0), &d);

    let t1 = at("2026-03-05T10:00:00+07:00"); // Thursday: returned for supplement
    let d = decide(
        &wf,
        &task,
        &take("tra_lai", Some("Thiếu báo giá"), &["van_ban_y_kien"]),
        &appraiser(),
        t1,
    )
    .unwrap();
    assert_eq!(d.cancel_timers_of, vec!["tham_dinh"]);
    assert!(d.create_timers.is_empty() && d.clock.is_none());
    assert_eq!(d.paused_clock.as_ref().unwrap().paused_at, Some(t1));
    let task = apply(&task, &d);

    let t2 = at("2026-03-10T15:00:00+07:00"); // Tuesday: 3 working days later (6, 9, 10/03)
    let d = decide(
        &wf,
        &task,
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t2,
    )
    .unwrap();
    let clock = d.clock.clone().unwrap();
    assert_eq!(clock.started_at, t0);
    assert_eq!(format_instant(clock.due_at), "26/03/2026 23:59");
    assert!(d.paused_clock.is_none());
    assert!(
        d.create_timers
            .iter()
            .all(|t| t.fire_at > t2 && t.due_at == clock.due_at)
    );
    assert!(d.create_timers.iter().any(|t| t.kind == TimerKind::Due));
}

#[test]
fn leaving_for_any_other_state_ends_the_clock() {
    let wf = small_with(str::to_string);
    let t0 = at("2026-03-02T09:00:00+07:00");
    let d = decide(
        &wf,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let task = apply(&snapshot("thuyet_minh", t0), &d);
    let d = decide(&wf, &task, &take("dat", None, &[]), &appraiser(), t0).unwrap();
    assert_eq!(d.cancel_timers_of, vec!["tham_dinh"]);
    assert!(d.clock.is_none() && d.paused_clock.is_none() && d.create_timers.is_empty());
}

#[test]
fn iso_deadlines_count_exact_time_with_escalation_and_expiry() {
    let wf = small_with(|s| {
        s.replace("working_days = 15\n", "duration = \"PT2H\"\n").replace(
            "pause_in = [\"bo_sung\"]",
            "pause_in = [\"bo_sung\"]\n  repeat_overdue_every = { duration = \"PT30M\" }\n  escalate_after = { duration = \"PT1H\", to = [\"ubnd\", \"thu_truong_don_vi\"] }\n  on_expiry = \"ket_thuc\"",
        )
    });
    // Saturday evening: ISO durations ignore the calendar.
    let t0 = at("2026-03-07T20:00:00+07:00");
    let d = decide(
        &wf,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let fire: Vec<(String, String)> = d
        .create_timers
        .iter()
        .map(|t| (format!("{:?}", t.kind), format_instant(t.fire_at)))
        .collect();
    assert_eq!(
        fire[0],
        (
            "Reminder { fraction: 0.5 }".into(),
            "07/03/2026 21:00".into()
        )
    );
    assert_eq!(fire[2].1, "07/03/2026 22:00");
    assert_eq!(fire[3].1, "07/03/2026 22:30");
    assert_eq!(fire[4].1, "07/03/2026 23:00");
    assert!(fire[4].0.contains("Escalation"));
    assert!(fire[5].0.contains("ket_thuc"));

    let task = apply(&snapshot("thuyet_minh", t0), &d);
    let early = at("2026-03-07T21:59:00+07:00");
    let err = decide(
        &wf,
        &task,
        &Command::Expire {
            transition: "ket_thuc".into(),
        },
        &Actor::system(),
        early,
    )
    .unwrap_err();
    assert_eq!(err.code(), "not_due");
    let late = at("2026-03-07T22:00:00+07:00");
    let d = decide(
        &wf,
        &task,
        &Command::Expire {
            transition: "ket_thuc".into(),
        },
        &Actor::system(),
        late,
    )
    .unwrap();
    assert_eq!(
        (d.phase, d.audit.actor_user.as_str(), d.audit.actor_role),
        (Phase::Withdrawn, "system", None)
    );
    // Only the state's own on_expiry transition can be taken automatically.
    let err = decide(
        &wf,
        &task,
        &Command::Expire {
            transition: "dat".into(),
        },
        &Actor::system(),
        late,
    )
    .unwrap_err();
    assert_eq!(err.code(), "not_due");
}

#[test]
fn a_deadline_beyond_the_loaded_calendars_is_refused_not_guessed() {
    let wf = small_with(str::to_string);
    let now = at("2028-03-02T09:00:00+07:00");
    let err = decide(
        &wf,
        &snapshot("thuyet_minh", now),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "calendar_missing");
    assert!(err.to_string().contains("2028"), "{err}");
}

#[test]
fn starting_a_task_needs_a_drafting_role_in_the_unit_or_a_plan_compiler() {
    let wf = small_with(str::to_string);
    let now = at("2026-03-02T09:00:00+07:00");
    let d = start(&wf, "so-y-te", &officer(), now).unwrap();
    assert_eq!(
        (d.state.as_str(), d.phase, d.audit.from_state.clone()),
        ("du_thao", Phase::Proposed, None)
    );
    assert_eq!(
        start(&wf, "so-xay-dung", &officer(), now)
            .unwrap_err()
            .code(),
        "not_your_unit"
    );
    assert_eq!(
        start(&wf, "so-y-te", &appraiser(), now).unwrap_err().code(),
        "wrong_role"
    );
    let ubnd = Actor {
        user: "vp".into(),
        roles: vec![Role::Ubnd],
        units: vec![],
    };
    assert!(start(&wf, "so-y-te", &ubnd, now).is_ok());
    let _ = SMALL;
}

mod properties {
    use super::*;
    use crate::workflow::Workflow;
    use proptest::prelude::*;

    /// One random step: which transition to try (an index into all transitions, or an
    /// unknown name), with which roles, in which unit, with or without comment and documents,
    /// and how long after the previous step.
    #[derive(Debug, Clone)]
    struct Step {
        pick: usize,
        roles: Vec<Role>,
        own_unit: bool,
        comment: bool,
        all_documents: bool,
        minutes_later: i64,
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            any::<usize>(),
            proptest::sample::subsequence(Role::ALL.to_vec(), 0..=3),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.8),
            0i64..(20 * 24 * 60),
        )
            .prop_map(
                |(pick, roles, own_unit, comment, all_documents, minutes_later)| Step {
                    pick,
                    roles,
                    own_unit,
                    comment,
                    all_documents,
                    minutes_later,
                },
            )
    }

    /// The facts an approval rule looks at, drawn at random for a walk.
    #[derive(Debug, Clone, Copy)]
    struct Funding {
        source: usize,
        own_fund: bool,
        amount_vnd: Option<i64>,
    }

    fn funding() -> impl Strategy<Value = Funding> {
        (
            0usize..crate::domain::FundingSource::ALL.len(),
            any::<bool>(),
            proptest::option::of(0i64..60_000_000_000),
        )
            .prop_map(|(source, own_fund, amount_vnd)| Funding {
                source,
                own_fund,
                amount_vnd,
            })
    }

    fn run(
        wf: &Workflow,
        funding: Funding,
        start_offset_days: i64,
        steps: &[Step],
    ) -> Result<(), TestCaseError> {
        let mut now = at("2025-06-02T08:30:00+07:00") + chrono::TimeDelta::days(start_offset_days);
        let creator = Actor {
            user: "u".into(),
            roles: vec![Role::DonVi],
            units: vec!["unit".into()],
        };
        let d = start(wf, "unit", &creator, now).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut task = TaskSnapshot {
            unit: "unit".into(),
            state: d.state.clone(),
            state_entered_at: now,
            clock: d.clock.clone(),
            paused_clock: None,
            transition_counts: d.transition_counts.clone(),
            review: d.round.review,
            state_entries: d.state_entries.clone(),
            funding: Some(crate::domain::FundingSource::ALL[funding.source]),
            own_fund: funding.own_fund,
            amount_vnd: funding.amount_vnd,
        };
        for s in steps {
            now += chrono::TimeDelta::minutes(s.minutes_later);
            // Two steps in three try a transition that leaves the current state, taken by a
            // user holding its roles, so that walks go deep; the rest are arbitrary.
            let outgoing: Vec<&crate::workflow::Transition> =
                wf.transitions_from(&task.state).collect();
            let (name, roles) = if s.pick % 3 != 0 && !outgoing.is_empty() {
                let t = outgoing[s.pick % outgoing.len()];
                (t.name.clone(), t.roles.clone())
            } else if s.pick % 10 == 0 {
                ("khong_ton_tai".to_string(), s.roles.clone())
            } else {
                (
                    wf.transitions[s.pick % wf.transitions.len()].name.clone(),
                    s.roles.clone(),
                )
            };
            let docs: Vec<AttachedDocument> = if s.all_documents {
                wf.document_types
                    .keys()
                    .map(|k| AttachedDocument {
                        id: k.clone(),
                        doc_type: k.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let actor = Actor {
                user: "a".into(),
                roles,
                units: vec![if s.own_unit { "unit" } else { "other" }.into()],
            };
            let cmd = Command::Transition {
                name,
                comment: s.comment.then(|| "Lý do".to_string()),
                documents: docs,
            };
            let before = wf.state(&task.state).unwrap().phase;
            match decide(wf, &task, &cmd, &actor, now) {
                Ok(d) => {
                    prop_assert!(
                        backbone_allows(before, d.phase),
                        "{} -> {}",
                        before,
                        d.phase
                    );
                    prop_assert_eq!(wf.state(&d.state).unwrap().phase, d.phase);
                    for t in &d.create_timers {
                        prop_assert!(t.fire_at > now);
                    }
                    // Rounds: a review only grows, and the round is the entries into the step
                    // within it.
                    prop_assert!(d.round.review >= task.review);
                    prop_assert!(d.round.round >= 1);
                    prop_assert_eq!(d.state_entries.get(&d.state).copied(), Some(d.round.round));
                    task = apply(&task, &d);
                }
                Err(e) => {
                    // A refusal changes nothing and always explains itself.
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            // Never stuck: a non-terminal task always has a transition that someone with the
            // right role, unit, documents and comment could take now.
            let phase = wf.state(&task.state).unwrap().phase;
            if !phase.is_terminal() {
                let anyone = Actor {
                    user: "x".into(),
                    roles: Role::ALL.to_vec(),
                    units: vec!["unit".into()],
                };
                let open = available(wf, &task, &anyone)
                    .into_iter()
                    .filter(|a| {
                        !a.unmet
                            .iter()
                            .any(|u| matches!(u, Unmet::RoundLimit { .. }))
                    })
                    .count();
                prop_assert!(open > 0, "{} stuck in {}", wf.name, task.state);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn random_commands_stay_on_the_backbone_and_never_get_stuck(
            funding in funding(),
            start_offset_days in 0i64..365,
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            // Every workflow in the shipped folder, whatever it holds when the tests run.
            for wf in catalog().workflows() {
                run(wf, funding, start_offset_days, &steps)?;
            }
        }
    }
}

#[test]
fn own_unit_binds_unit_roles_only() {
    let wf = small_with(|s| {
        s.replace(
            "roles = [\"don_vi\"]\nown_unit = true\ndocuments",
            "roles = [\"don_vi\", \"ubnd\"]\nown_unit = true\ndocuments",
        )
    });
    let now = at("2026-03-02T09:00:00+07:00");
    let task = snapshot("thuyet_minh", now);
    let ubnd = Actor {
        user: "vp".into(),
        roles: vec![Role::Ubnd],
        units: vec![],
    };
    assert!(
        decide(
            &wf,
            &task,
            &take("trinh", None, &["thuyet_minh_du_toan"]),
            &ubnd,
            now
        )
        .is_ok()
    );
    let mut stranger = officer();
    stranger.units = vec!["so-xay-dung".into()];
    assert_eq!(
        decide(
            &wf,
            &task,
            &take("trinh", None, &["thuyet_minh_du_toan"]),
            &stranger,
            now
        )
        .unwrap_err()
        .code(),
        "not_your_unit"
    );
}

#[test]
fn decide_reaches_every_state_of_every_shipped_workflow() {
    // Breadth-first over (state) using decide itself, with an actor who holds every role in
    // the unit and attaches every document: what the loader calls reachable, decide can reach.
    let anyone = Actor {
        user: "x".into(),
        roles: Role::ALL.to_vec(),
        units: vec!["unit".into()],
    };
    for wf in catalog().workflows() {
        let now = at("2026-03-02T09:00:00+07:00");
        let first = start(wf, "unit", &anyone, now).unwrap();
        let mut seen = std::collections::BTreeSet::from([first.state.clone()]);
        let mut initial = snapshot(&first.state, now);
        initial.unit = "unit".into();
        let mut queue = vec![apply(&initial, &first)];
        while let Some(task) = queue.pop() {
            for t in wf.transitions_from(&task.state) {
                let docs: Vec<&str> = t.documents.iter().map(String::as_str).collect();
                let d = decide(
                    wf,
                    &task,
                    &take(&t.name, Some("Lý do"), &docs),
                    &anyone,
                    now,
                )
                .unwrap_or_else(|e| panic!("{}: {} from {}: {e}", wf.name, t.name, task.state));
                if seen.insert(d.state.clone()) {
                    queue.push(apply(&task, &d));
                }
            }
        }
        assert_eq!(
            seen.len(),
            wf.states.len(),
            "{}: decide reached {seen:?}",
            wf.name
        );
    }
}

/// Submits at `t0`, returns the dossier at `t1` and resubmits at `t2` on `wf`; the decisions.
fn pause_and_return(wf: &Workflow, t0: Instant, t1: Instant, t2: Instant) -> (Decision, Decision) {
    let first = decide(
        wf,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let task = apply(&snapshot("thuyet_minh", t0), &first);
    let d = decide(
        wf,
        &task,
        &take("tra_lai", Some("Thiếu báo giá"), &["van_ban_y_kien"]),
        &appraiser(),
        t1,
    )
    .unwrap();
    let task = apply(&task, &d);
    let back = decide(
        wf,
        &task,
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t2,
    )
    .unwrap();
    (first, back)
}

#[test]
fn a_restarting_deadline_gives_a_fresh_full_period_from_the_complete_dossier() {
    let wf = small_with(|s| {
        s.replace(
            "pause_in = [\"bo_sung\"]",
            "pause_in = [\"bo_sung\"]\n  on_return = \"restart\"",
        )
    });
    let t0 = at("2026-03-02T09:00:00+07:00"); // Monday
    let t1 = at("2026-03-05T10:00:00+07:00");
    let t2 = at("2026-03-10T15:00:00+07:00"); // Tuesday
    let (_, back) = pause_and_return(&wf, t0, t1, t2);
    let clock = back.clock.unwrap();
    // "Kể từ ngày nhận đủ hồ sơ hợp lệ": 15 working days from 10/03, not what was left.
    assert_eq!(clock.started_at, t2);
    assert_eq!(format_instant(clock.due_at), "31/03/2026 23:59");
    assert!(back.create_timers.iter().all(|t| t.due_at == clock.due_at));
    // `resume` (the default) keeps the old start and pushes the end by the paused working days.
    let (_, resumed) = pause_and_return(&small_with(str::to_string), t0, t1, t2);
    let resumed = resumed.clock.unwrap();
    assert_eq!(resumed.started_at, t0);
    assert_eq!(format_instant(resumed.due_at), "26/03/2026 23:59");
}

#[test]
fn a_request_for_more_documents_after_its_window_is_refused_with_the_reason() {
    let wf = small_with(|s| {
        s.replace(
            "pause_in = [\"bo_sung\"]",
            "pause_in = [\"bo_sung\"]\n  request_within = { working_days = 5 }",
        )
    });
    let t0 = at("2026-03-02T09:00:00+07:00"); // Monday: the window ends Monday 09/03, 23:59
    let d = decide(
        &wf,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let task = apply(&snapshot("thuyet_minh", t0), &d);
    let ask = take("tra_lai", Some("Thiếu báo giá"), &["van_ban_y_kien"]);
    // On the fifth working day the request is still allowed.
    assert!(
        decide(
            &wf,
            &task,
            &ask,
            &appraiser(),
            at("2026-03-09T16:00:00+07:00")
        )
        .is_ok()
    );
    let late = at("2026-03-10T08:30:00+07:00");
    let err = decide(&wf, &task, &ask, &appraiser(), late).unwrap_err();
    assert_eq!(err.code(), "request_window_closed");
    assert!(!err.is_authorization());
    let text = err.to_string();
    assert!(
        text.contains("5 ngày làm việc") && text.contains("09/03/2026"),
        "{text}"
    );
    // Other moves out of the step are not limited by the window.
    assert!(decide(&wf, &task, &take("dat", None, &[]), &appraiser(), late).is_ok());
}

#[test]
fn a_calendar_day_period_paused_is_pushed_out_by_calendar_days() {
    let wf = small_with(|s| s.replace("working_days = 15\n", "days = 20\n"));
    let t0 = at("2026-03-02T09:00:00+07:00"); // Monday: 20 days end Sunday 22/03 → Monday 23/03
    let t1 = at("2026-03-05T10:00:00+07:00"); // Thursday
    let t2 = at("2026-03-10T15:00:00+07:00"); // Tuesday: 5 calendar days paused (3 working)
    let (first, back) = pause_and_return(&wf, t0, t1, t2);
    assert_eq!(
        format_instant(first.clock.unwrap().due_at),
        "23/03/2026 23:59"
    );
    // 23/03 + 5 calendar days = Saturday 28/03, which ends on the next working day.
    assert_eq!(
        format_instant(back.clock.unwrap().due_at),
        "30/03/2026 23:59"
    );
}

#[test]
fn escalation_defaults_follow_the_deadline_kind() {
    let esc = |kind: &str, roles: &str| {
        let wf = small_with(|s| {
            s.replace(
                "kind = \"statutory\"\n  source = \"Thông tư 03/2020/TT-BTTTT\"",
                kind,
            )
            .replace(
                "pause_in = [\"bo_sung\"]",
                "pause_in = [\"bo_sung\"]\n  escalate_after = { working_days = 2 }",
            )
            .replace(
                "title = \"Thẩm định\"\nroles = [\"so_tai_chinh\"]",
                &format!("title = \"Thẩm định\"\nroles = {roles}"),
            )
        });
        let d = wf.state("tham_dinh").unwrap().deadline.clone().unwrap();
        d.escalate_after.unwrap().to
    };
    let statutory = "kind = \"statutory\"\n  source = \"Thông tư 03/2020/TT-BTTTT\"";
    let internal = "kind = \"internal\"";
    assert_eq!(esc(statutory, "[\"so_tai_chinh\"]"), vec![Role::Ubnd]);
    // The city's own target: the late appraiser's own director hears first.
    assert_eq!(esc(internal, "[\"so_tai_chinh\"]"), vec![Role::LanhDaoSo]);
    assert_eq!(esc(internal, "[\"don_vi\"]"), vec![Role::ThuTruongDonVi]);
    assert_eq!(esc(internal, "[\"ubnd\"]"), vec![Role::Ubnd]);
}

#[test]
fn shipped_deadlines_declare_their_kind_and_the_laws_windows() {
    let cat = catalog();
    for wf in cat.workflows() {
        for s in &wf.states {
            if let Some(d) = &s.deadline
                && let crate::workflow::DeadlineKind::Statutory { source } = &d.kind
            {
                assert!(!source.trim().is_empty(), "{}: {}", wf.name, s.name);
            }
        }
    }
    let rental = cat.latest("thue-dich-vu").unwrap();
    let d = rental
        .state("tham_dinh_ke_hoach_thue")
        .and_then(|s| s.deadline.clone());
    let d = d.expect("the rental plan's appraisal has a deadline");
    assert_eq!(d.on_return, crate::workflow::OnReturn::Restart);
    assert_eq!(d.request_within, Some(Amount::WorkingDays(3)));
    let buy = cat.latest("mua-sam").unwrap();
    let d = buy
        .state("stc_tham_dinh")
        .unwrap()
        .deadline
        .clone()
        .unwrap();
    assert_eq!(d.request_within, Some(Amount::WorkingDays(5)));
    assert_eq!(d.on_return, crate::workflow::OnReturn::Resume);
    let opinion = buy
        .state("skhcn_cho_y_kien")
        .unwrap()
        .deadline
        .clone()
        .unwrap();
    assert_eq!(opinion.escalate_after.unwrap().to, vec![Role::LanhDaoSo]);
}

#[test]
fn rounds_count_within_one_review_and_start_again_when_the_dossier_is_reopened() {
    let wf = small_with(|s| {
        format!(
            "{s}\n[[transitions]]\nname = \"dieu_chinh_quy_mo\"\ntitle = \"Điều chỉnh quy mô\"\nfrom = \"hop_dong\"\nto = \"thuyet_minh\"\nroles = [\"thu_truong_don_vi\"]\nopens_review = true\n"
        )
    });
    let head = Actor {
        user: "giam_doc".into(),
        roles: vec![Role::ThuTruongDonVi],
        units: vec!["so-y-te".into()],
    };
    let mut now = at("2026-03-02T09:00:00+07:00");
    let mut task = snapshot("thuyet_minh", now);
    let mut go = |task: &mut TaskSnapshot, name: &str, who: &Actor| -> Result<Round, Rejection> {
        now += chrono::TimeDelta::hours(1);
        let docs: &[&str] = match name {
            "trinh" => &["thuyet_minh_du_toan"],
            "tra_lai" => &["van_ban_y_kien"],
            _ => &[],
        };
        let d = decide(&wf, task, &take(name, Some("Lý do"), docs), who, now)?;
        *task = apply(task, &d);
        Ok(d.round)
    };
    let first = go(&mut task, "trinh", &officer()).unwrap();
    assert_eq!((first.review, first.round), (1, 1));
    assert_eq!(first.label(), None);
    go(&mut task, "tra_lai", &appraiser()).unwrap();
    // The dossier comes back: the appraisal's second round ("lần 2"), then its third.
    let second = go(&mut task, "trinh", &officer()).unwrap();
    assert_eq!((second.review, second.round), (1, 2));
    assert_eq!(second.label().as_deref(), Some("lần 2"));
    assert_eq!(task.round(), 2);
    go(&mut task, "tra_lai", &appraiser()).unwrap();
    go(&mut task, "trinh", &officer()).unwrap();
    // Two returns are allowed in one review.
    let err = go(&mut task, "tra_lai", &appraiser()).unwrap_err();
    assert_eq!(err.code(), "round_limit_reached");
    go(&mut task, "dat", &appraiser()).unwrap();
    go(&mut task, "ky_hop_dong", &officer()).unwrap();
    // A scale adjustment re-opens the dossier: a new review, whose rounds count from one.
    let reopened = go(&mut task, "dieu_chinh_quy_mo", &head).unwrap();
    assert_eq!((reopened.review, reopened.round), (2, 1));
    assert_eq!(task.review, 2);
    let again = go(&mut task, "trinh", &officer()).unwrap();
    assert_eq!((again.review, again.round), (2, 1));
    go(&mut task, "tra_lai", &appraiser()).unwrap();
    assert_eq!(go(&mut task, "trinh", &officer()).unwrap().round, 2);
}

// --- Who approves is data (issue 15, item 1) ------------------------------------------------

fn head_of(unit: &str) -> Actor {
    Actor {
        user: "thu_truong".into(),
        roles: vec![Role::ThuTruongDonVi],
        units: vec![unit.into()],
    }
}

fn ubnd() -> Actor {
    Actor {
        user: "pho_chu_tich".into(),
        roles: vec![Role::Ubnd],
        units: vec![],
    }
}

/// A mua-sam task waiting for the approval of its task and estimate, with these facts.
fn awaiting_approval(own_fund: bool, amount_vnd: Option<i64>) -> (Arc<Workflow>, TaskSnapshot) {
    let catalog = catalog();
    let wf = catalog.latest("mua-sam").unwrap().clone();
    let mut task = snapshot("phe_duyet", at("2026-03-02T09:00:00+07:00"));
    task.own_fund = own_fund;
    task.amount_vnd = amount_vnd;
    (wf, task)
}

fn approve(wf: &Workflow, task: &TaskSnapshot, who: &Actor) -> Result<Decision, Rejection> {
    decide(
        wf,
        task,
        &take("phe_duyet_nhiem_vu", None, &["quyet_dinh_phe_duyet"]),
        who,
        at("2026-03-03T09:00:00+07:00"),
    )
}

#[test]
fn mua_sam_the_unit_head_approves_its_own_task_and_estimate_before_finance_appraises() {
    let (wf, task) = awaiting_approval(false, Some(500_000_000));
    // SKHCN opinion → unit approval → Sở Tài chính appraisal → UBND allocation.
    let order: Vec<&str> = ["skhcn_thong_nhat", "phe_duyet_nhiem_vu", "gui_so_tai_chinh"]
        .iter()
        .map(|n| wf.transition(n).unwrap().to.as_str())
        .collect();
    assert_eq!(order, ["phe_duyet", "gui_tham_dinh", "stc_tham_dinh"]);
    assert_eq!(
        wf.transition("stc_thong_qua").unwrap().to,
        "bo_tri_kinh_phi"
    );
    assert_eq!(
        wf.transition("quyet_dinh_bo_tri_kinh_phi").unwrap().roles,
        vec![Role::Ubnd]
    );
    let d = approve(&wf, &task, &head_of("so-y-te")).unwrap();
    assert_eq!(d.state, "gui_tham_dinh");
    assert_eq!(d.audit.actor_role, Some(Role::ThuTruongDonVi));
    // The right role in the wrong unit: `wrong_unit`, naming who must approve.
    let e = approve(&wf, &task, &head_of("so-noi-vu")).unwrap_err();
    assert_eq!(e.code(), "wrong_unit");
    assert!(e.is_authorization());
    assert!(e.to_string().contains("`so-y-te`"), "{e}");
    // UBND is not the authority below the threshold.
    let e = approve(&wf, &task, &ubnd()).unwrap_err();
    assert_eq!(e.code(), "wrong_role");
    assert!(e.to_string().contains("(thu_truong_don_vi)"), "{e}");
    // Offered to the head of the unit, refused by unit to another unit's head.
    let offered = available(&wf, &task, &head_of("so-noi-vu"));
    let a = offered
        .iter()
        .find(|a| a.transition == "phe_duyet_nhiem_vu")
        .unwrap();
    assert!(
        a.unmet.contains(&Unmet::Unit {
            unit: "so-y-te".into()
        }),
        "{:?}",
        a.unmet
    );
}

#[test]
fn an_amount_over_the_threshold_goes_to_ubnd_unless_the_unit_spends_its_own_fund() {
    let (wf, big) = awaiting_approval(false, Some(10_000_000_000));
    assert_eq!(
        approve(&wf, &big, &ubnd()).unwrap().audit.actor_role,
        Some(Role::Ubnd)
    );
    assert_eq!(
        approve(&wf, &big, &head_of("so-y-te")).unwrap_err().code(),
        "wrong_role"
    );
    // The own-fund rule comes first: the unit approves whatever the amount.
    let (wf, own) = awaiting_approval(true, Some(10_000_000_000));
    assert!(approve(&wf, &own, &head_of("so-y-te")).is_ok());
    assert_eq!(
        approve(&wf, &own, &ubnd()).unwrap_err().code(),
        "wrong_role"
    );
    // Without an amount no threshold holds: the default (the unit's head).
    let (wf, unknown) = awaiting_approval(false, None);
    assert!(approve(&wf, &unknown, &head_of("so-y-te")).is_ok());
}

#[test]
fn the_turn_and_its_notification_follow_the_resolved_authority() {
    let catalog = catalog();
    let wf = catalog.latest("mua-sam").unwrap();
    let skhcn = Actor {
        user: "chuyen_vien".into(),
        roles: vec![Role::Skhcn],
        units: vec!["so-khoa-hoc-va-cong-nghe".into()],
    };
    for (amount, role) in [
        (500_000_000, Role::ThuTruongDonVi),
        (12_000_000_000, Role::Ubnd),
    ] {
        let mut task = snapshot("skhcn_cho_y_kien", at("2026-03-02T09:00:00+07:00"));
        task.amount_vnd = Some(amount);
        let d = decide(
            wf,
            &task,
            &take("skhcn_thong_nhat", None, &["van_ban_y_kien"]),
            &skhcn,
            at("2026-03-03T09:00:00+07:00"),
        )
        .unwrap();
        assert_eq!(d.state, "phe_duyet");
        assert_eq!(d.notifications[0].template, "task.turn");
        assert_eq!(d.notifications[0].roles, vec![role], "{amount}");
        let (turn, unit) = wf.turn("phe_duyet", &task.approval_facts());
        assert_eq!(turn, vec![role]);
        assert_eq!(unit.is_some(), role == Role::ThuTruongDonVi);
        assert_eq!(
            crate::access::is_my_turn_in(&head_of("so-y-te"), "so-y-te", &turn, unit.as_deref()),
            role == Role::ThuTruongDonVi
        );
        assert!(!crate::access::is_my_turn_in(
            &head_of("so-noi-vu"),
            "so-y-te",
            &turn,
            unit.as_deref()
        ));
    }
    // The static view of the state lists every role the authority can name.
    assert_eq!(
        wf.state("phe_duyet").unwrap().roles,
        vec![Role::ThuTruongDonVi, Role::Ubnd]
    );
}

#[test]
fn a_named_unit_authority_binds_its_role_to_that_unit() {
    let wf = small_with(|s| {
        s.replace(
            "[[states]]\nname = \"du_thao\"",
            "[approvals.dat]\ntitle = \"Thông qua\"\ndefault = { role = \"so_tai_chinh\", unit = \"so-tai-chinh\" }\n\n[[states]]\nname = \"du_thao\"",
        )
        .replace(
            "to = \"lua_chon\"\nroles = [\"so_tai_chinh\"]",
            "to = \"lua_chon\"\napproval = \"dat\"",
        )
    });
    let now = at("2026-03-02T09:00:00+07:00");
    let task = snapshot("tham_dinh", now);
    let take_dat = |who: &Actor| decide(&wf, &task, &take("dat", None, &[]), who, now);
    assert!(take_dat(&appraiser()).is_ok());
    let mut elsewhere = appraiser();
    elsewhere.units = vec!["so-xay-dung".into()];
    assert_eq!(take_dat(&elsewhere).unwrap_err().code(), "wrong_unit");
    assert_eq!(take_dat(&officer()).unwrap_err().code(), "wrong_role");
}

#[test]
fn a_task_migrates_by_the_declared_mapping_keeping_a_running_clock_in_the_same_step() {
    use crate::testing::{SMALL_V2_MIGRATION, small_v2, small_versions};
    let catalog = small_versions(&small_v2(SMALL_V2_MIGRATION)).unwrap();
    let (v1, v2) = (
        catalog.get("thu-nghiem", 1).unwrap(),
        catalog.get("thu-nghiem", 2).unwrap(),
    );
    let admin = Actor {
        user: "quan.tri".into(),
        roles: vec![Role::Admin],
        units: Vec::new(),
    };
    let t0 = at("2026-03-02T09:00:00+07:00");
    let now = at("2026-03-05T09:00:00+07:00");
    // In appraisal with a running clock: same step, the clock and its timers carry over.
    let submitted = decide(
        v1,
        &snapshot("thuyet_minh", t0),
        &take("trinh", None, &["thuyet_minh_du_toan"]),
        &officer(),
        t0,
    )
    .unwrap();
    let at_appraisal = apply(&snapshot("thuyet_minh", t0), &submitted);
    let d = migrate(v1, v2, &at_appraisal, &admin, now).unwrap();
    assert_eq!(
        (d.state.as_str(), d.workflow_version),
        ("tham_dinh", Some(2))
    );
    assert_eq!(d.clock, at_appraisal.clock);
    assert!(d.cancel_timers_of.is_empty() && d.create_timers.is_empty());
    assert_eq!(d.audit.workflow_version, 2);
    assert_eq!(d.audit.transition, MIGRATE_TRANSITION);
    assert_eq!(
        d.audit.comment.as_deref(),
        Some(
            "Chuyển quy trình `thu-nghiem` từ phiên bản 1 sang phiên bản 2: bước «Thẩm định» → «Thẩm định»"
        )
    );
    assert!(d.notifications.is_empty());
    // Waiting for more documents: mapped back to the explanation; the paused clock ends.
    let returned = decide(
        v1,
        &at_appraisal,
        &take("tra_lai", Some("Thiếu báo giá"), &["van_ban_y_kien"]),
        &appraiser(),
        t0,
    )
    .unwrap();
    let waiting = apply(&at_appraisal, &returned);
    assert!(waiting.paused_clock.is_some());
    let d = migrate(v1, v2, &waiting, &admin, now).unwrap();
    assert_eq!(
        (d.state.as_str(), d.phase),
        ("thuyet_minh", Phase::ExplanationAndEstimate)
    );
    assert!(d.clock.is_none() && d.paused_clock.is_none());
    assert_eq!(
        d.cancel_timers_of,
        vec!["bo_sung".to_string(), "tham_dinh".into()]
    );
    // Refused: back to an older version, no mapping, a finished task.
    assert!(
        migrate(v2, v1, &waiting, &admin, now)
            .unwrap_err()
            .contains("phiên bản mới hơn")
    );
    assert!(
        migrate(v1, v1, &waiting, &admin, now)
            .unwrap_err()
            .contains("phiên bản mới hơn")
    );
    let done = snapshot("hoan_thanh", t0);
    assert!(
        migrate(v1, v2, &done, &admin, now)
            .unwrap_err()
            .contains("đã kết thúc")
    );
    let plain = small_versions(&small_v2("")).unwrap();
    let (p1, p2) = (
        plain.get("thu-nghiem", 1).unwrap(),
        plain.get("thu-nghiem", 2).unwrap(),
    );
    assert!(
        migrate(p1, p2, &waiting, &admin, now)
            .unwrap_err()
            .contains("[[migrate_from]]")
    );
}
