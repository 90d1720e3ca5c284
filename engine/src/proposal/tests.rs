//! Proposals through the rules and `decide`, on the shipped mua-sam workflow.

use std::collections::BTreeMap;

use super::*;
use crate::decide::TaskSnapshot;
use crate::testing::catalog;
use crate::time::parse_instant;

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

fn actor(user: &str, roles: &[Role], units: &[&str]) -> Actor {
    Actor {
        user: user.into(),
        roles: roles.to_vec(),
        units: units.iter().map(|u| u.to_string()).collect(),
        read_units: Vec::new(),
    }
}

fn task(state: &str) -> TaskSnapshot {
    TaskSnapshot {
        unit: "so-van-hoa".into(),
        state: state.into(),
        state_entered_at: at("2025-10-01T09:00:00+07:00"),
        clock: None,
        paused_clock: None,
        transition_counts: BTreeMap::new(),
        review: 1,
        state_entries: BTreeMap::from([(state.to_string(), 1)]),
        funding: None,
        own_fund: false,
        amount_vnd: None,
    }
}

/// The decision of an acceptance that moves the task.
fn moved(a: Acceptance) -> Decision {
    match a {
        Acceptance::Moved(d) => *d,
        Acceptance::Stays { entry, .. } => panic!("expected a move, got {entry:?}"),
    }
}

fn letter() -> Proposal {
    Proposal {
        kind: ProposalKind::Withdraw,
        letter: Letter {
            number: "5796/SVHTTDL-KHTC".into(),
            date: NaiveDate::from_ymd_opt(2025, 11, 4),
        },
        from_state: "lap_thuyet_minh".into(),
    }
}

#[test]
fn a_unit_proposes_for_its_own_task_once_and_only_where_the_workflow_has_the_exit() {
    let c = catalog();
    let wf = c.latest("mua-sam").unwrap();
    let officer = actor("can.bo", &[Role::DonVi], &["so-van-hoa"]);
    assert_eq!(
        may_propose_change(
            wf,
            "so-van-hoa",
            "lap_thuyet_minh",
            ProposalKind::Withdraw,
            None,
            &officer
        ),
        Ok(())
    );
    let stranger = actor("can.bo.khac", &[Role::DonVi], &["so-y-te"]);
    let e = may_propose_change(
        wf,
        "so-van-hoa",
        "lap_thuyet_minh",
        ProposalKind::Withdraw,
        None,
        &stranger,
    )
    .unwrap_err();
    assert_eq!(e.code(), "not_your_unit");
    let ubnd = actor("pct", &[Role::Ubnd], &[]);
    let e = may_propose_change(
        wf,
        "so-van-hoa",
        "lap_thuyet_minh",
        ProposalKind::Postpone,
        None,
        &ubnd,
    )
    .unwrap_err();
    assert_eq!(e.code(), "wrong_role");
    let pending = letter();
    let e = may_propose_change(
        wf,
        "so-van-hoa",
        "lap_thuyet_minh",
        ProposalKind::Postpone,
        Some(&pending),
        &officer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "proposal_pending");
    assert!(
        e.to_string().contains("5796/SVHTTDL-KHTC ngày 04/11/2025"),
        "{e}"
    );
    // The backbone: no postponement from the contract on, but withdrawal still.
    let e = may_propose_change(
        wf,
        "so-van-hoa",
        "thuc_hien_hop_dong",
        ProposalKind::Postpone,
        None,
        &officer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "proposal_not_possible");
    assert!(
        may_propose_change(
            wf,
            "so-van-hoa",
            "thuc_hien_hop_dong",
            ProposalKind::Withdraw,
            None,
            &officer
        )
        .is_ok()
    );
    let e = may_propose_change(
        wf,
        "so-van-hoa",
        "hoan_thanh",
        ProposalKind::Withdraw,
        None,
        &officer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "task_closed");
}

#[test]
fn ubnd_accepts_through_the_workflows_exit_or_refuses_and_nothing_moves() {
    let c = catalog();
    let wf = c.latest("mua-sam").unwrap();
    let now = at("2025-11-10T09:00:00+07:00");
    let ubnd = actor("pct", &[Role::Ubnd], &[]);
    let officer = actor("can.bo", &[Role::DonVi], &["so-van-hoa"]);
    let t = task("lap_thuyet_minh");
    let p = letter();
    // Only UBND decides.
    assert_eq!(
        accept(wf, &t, Some(&p), &officer, None, Vec::new(), now)
            .unwrap_err()
            .code(),
        "wrong_role"
    );
    assert_eq!(
        refuse(wf, &t, Some(&p), &officer, None, now)
            .unwrap_err()
            .code(),
        "wrong_role"
    );
    assert_eq!(
        accept(wf, &t, None, &ubnd, None, Vec::new(), now)
            .unwrap_err()
            .code(),
        "no_pending_proposal"
    );
    // A withdrawal needs UBND's decision, as the workflow's exit does.
    let e = accept(wf, &t, Some(&p), &ubnd, None, Vec::new(), now).unwrap_err();
    assert_eq!(e.code(), "missing_documents", "{e}");
    let qd = vec![AttachedDocument {
        id: "qd".into(),
        doc_type: "quyet_dinh_ubnd".into(),
    }];
    let d = accept(
        wf,
        &t,
        Some(&p),
        &ubnd,
        Some("Theo Quyết định 12/QĐ-UBND"),
        qd,
        now,
    )
    .map(moved)
    .unwrap();
    assert_eq!(d.state, "da_rut_khoi_ke_hoach");
    assert_eq!(d.phase, Phase::Withdrawn);
    let comment = d.audit.comment.unwrap();
    assert!(
        comment.starts_with(
            "Chấp thuận đề xuất rút khỏi kế hoạch (văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025)"
        ),
        "{comment}"
    );
    assert!(comment.ends_with("Theo Quyết định 12/QĐ-UBND"), "{comment}");
    // A postponement: the exit to `postponed`.
    let postpone = Proposal {
        kind: ProposalKind::Postpone,
        ..letter()
    };
    let d = accept(
        wf,
        &t,
        Some(&postpone),
        &ubnd,
        Some("Đồng ý"),
        Vec::new(),
        now,
    )
    .map(moved)
    .unwrap();
    assert_eq!(d.phase, Phase::Postponed);
    // Refused: an audit entry in the same step, nothing else.
    let a = refuse(wf, &t, Some(&p), &ubnd, Some("Tiếp tục thực hiện"), now).unwrap();
    assert_eq!(
        (a.from_state.as_deref(), a.to_state.as_str()),
        (Some("lap_thuyet_minh"), "lap_thuyet_minh")
    );
    assert_eq!(a.transition, REFUSE);
    assert!(
        a.comment
            .unwrap()
            .starts_with("Không chấp thuận đề xuất rút khỏi kế hoạch")
    );
    let a = proposed(wf, &t, &p, &officer, None, now);
    assert_eq!(a.transition, "de_xuat_rut_khoi_ke_hoach");
    assert_eq!(a.actor_role, Some(Role::DonVi));
}

#[test]
fn every_running_state_of_every_shipped_workflow_can_be_withdrawn_or_says_why_not() {
    // Every state before the contract can be postponed and withdrawn by UBND's exit, so a
    // proposal there can always be decided.
    for wf in catalog().workflows() {
        for s in &wf.states {
            let before_contract = matches!(
                s.phase,
                Phase::Proposed
                    | Phase::ExplanationAndEstimate
                    | Phase::Appraisal
                    | Phase::ContractorSelection
            );
            if before_contract {
                assert!(
                    exit_transition(wf, &s.name, ProposalKind::Withdraw).is_some(),
                    "{}: no withdrawal from {}",
                    wf.name,
                    s.name
                );
            }
        }
    }
}

#[test]
fn a_progress_text_citing_the_units_letter_is_a_pending_proposal() {
    // Plan 215, appendix 2, row 10: the unit's letter, not the plan the text also cites.
    let text = "Sở Văn hóa, Thể thao và Du lịch kính đã báo cáo, đề xuất UBND đưa nội dung này ra khỏi danh mục các nhiệm vụ cần thực hiện Kế hoạch số 215/KH-UBND ngày 25/8/2025 của Ủy ban nhân dân thành phố (Công văn số 5796/SVHTTDL-QBXT&PTTNDL ngày 4/11/2025)";
    let (kind, letter) = from_progress_text(text).unwrap();
    assert_eq!(kind, ProposalKind::Withdraw);
    assert_eq!(letter.number, "5796/SVHTTDL-QBXT&PTTNDL");
    assert_eq!(letter.date, NaiveDate::from_ymd_opt(2025, 11, 4));
    // A stop reported without a letter is the report's status, not a proposal.
    assert_eq!(
        from_progress_text("Dừng triển khai, đề xuất chuyển 2026"),
        None
    );
    assert_eq!(
        from_progress_text("Đề xuất dừng, chuyển 2026 (Văn bản số 12/SKHCN ngày 01/10/2025)")
            .map(|(k, l)| (k, l.number)),
        Some((ProposalKind::Postpone, "12/SKHCN".to_string()))
    );
    assert_eq!(
        from_progress_text("Đang triển khai theo Công văn số 1/ABC"),
        None
    );
}

#[test]
fn a_carry_over_is_proposed_where_the_workflow_declares_it_and_accepted_without_moving() {
    let c = catalog();
    let wf = c.latest("mua-sam").unwrap();
    let now = at("2025-12-10T09:00:00+07:00");
    let officer = actor("can.bo", &[Role::DonVi], &["so-van-hoa"]);
    let ubnd = actor("pct", &[Role::Ubnd], &[]);
    // Under contract: no postponement any more, but the funds can be carried over.
    let state = "thuc_hien_hop_dong";
    assert_eq!(
        may_propose_change(
            wf,
            "so-van-hoa",
            state,
            ProposalKind::Postpone,
            None,
            &officer
        )
        .unwrap_err()
        .code(),
        "proposal_not_possible"
    );
    assert_eq!(
        may_propose_change(
            wf,
            "so-van-hoa",
            state,
            ProposalKind::CarryOver,
            None,
            &officer
        ),
        Ok(())
    );
    assert!(matches!(
        declared(wf, state, ProposalKind::CarryOver),
        Some(Declared::Stays(d)) if d.name == "chap_thuan_chuyen_nguon"
    ));
    // Public investment declares none: refused with the reason.
    let dtc = c.latest("dau-tu-cong").unwrap();
    let e = may_propose_change(
        dtc,
        "so-van-hoa",
        "thuc_hien_hop_dong",
        ProposalKind::CarryOver,
        None,
        &officer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "proposal_not_possible");
    assert!(
        e.to_string()
            .contains("Không thể đề xuất chuyển nguồn kinh phí sang năm sau"),
        "{e}"
    );
    // UBND accepts: the declared decision's entry, in the same step, citing the letter.
    let p = Proposal {
        kind: ProposalKind::CarryOver,
        from_state: state.into(),
        ..letter()
    };
    let t = task(state);
    assert_eq!(
        accept(wf, &t, Some(&p), &officer, None, Vec::new(), now)
            .unwrap_err()
            .code(),
        "wrong_role"
    );
    let Acceptance::Stays { entry } = accept(
        wf,
        &t,
        Some(&p),
        &ubnd,
        Some("Theo đề nghị của Sở Tài chính"),
        Vec::new(),
        now,
    )
    .unwrap() else {
        panic!("a carry-over moves nothing");
    };
    assert_eq!(entry.transition, "chap_thuan_chuyen_nguon");
    assert_eq!(
        (entry.from_state.as_deref(), entry.to_state.as_str()),
        (Some(state), state)
    );
    assert_eq!(entry.to_phase, Phase::Contract);
    assert_eq!(entry.actor_role, Some(Role::Ubnd));
    let comment = entry.comment.unwrap();
    assert!(
        comment.starts_with(
            "Chấp thuận đề xuất chuyển nguồn kinh phí sang năm sau (văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025). Theo đề nghị"
        ),
        "{comment}"
    );
    // The proposal's record audit name.
    assert_eq!(
        proposed(wf, &t, &p, &officer, None, now).transition,
        "de_nghi_chuyen_nguon"
    );
    // A workflow whose decision requires UBND's decision document refuses without it.
    let strict = {
        let mut w = crate::workflow::Workflow::clone(wf);
        w.decisions[0].documents = vec!["quyet_dinh_ubnd".into()];
        w
    };
    let e = accept(&strict, &t, Some(&p), &ubnd, None, Vec::new(), now).unwrap_err();
    assert_eq!(e.code(), "missing_documents", "{e}");
}

#[test]
fn the_carried_amount_is_the_years_allocation_less_what_was_spent_of_it() {
    use crate::plan::budget::YearBudget;
    let b = |alloc: Option<i64>, carried: Option<i64>, spent: Option<i64>| YearBudget {
        allocated_year_vnd: alloc,
        carried_over_vnd: carried,
        spent_vnd: spent,
        ..YearBudget::default()
    };
    assert_eq!(
        carried_amount(2025, Some(&b(Some(500), None, None))),
        Ok(500)
    );
    assert_eq!(
        carried_amount(2025, Some(&b(Some(500), None, Some(120)))),
        Ok(380)
    );
    // Funds carried into 2025 are spent first: 100 carried in, 150 spent → 50 of the allocation.
    assert_eq!(
        carried_amount(2025, Some(&b(Some(500), Some(100), Some(150)))),
        Ok(450)
    );
    for (line, why) in [
        (None, "chưa có dòng kinh phí năm 2025"),
        (
            Some(b(None, None, None)),
            "chưa được phân bổ kinh phí năm 2025",
        ),
        (
            Some(b(Some(0), None, None)),
            "chưa được phân bổ kinh phí năm 2025",
        ),
        (Some(b(Some(500), None, Some(500))), "đã giải ngân hết"),
    ] {
        let e = carried_amount(2025, line.as_ref()).unwrap_err();
        assert_eq!(e.code(), "nothing_to_carry_over");
        let text = e.to_string();
        assert!(text.contains(why), "{text}");
        assert!(
            text.starts_with("Không thể chuyển nguồn kinh phí năm 2025 sang năm 2026"),
            "{text}"
        );
    }
}
