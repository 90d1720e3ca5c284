//! The loader: a small valid workflow, and one test per way of breaking it.

use super::*;
use crate::testing::{SMALL as VALID, calendars};

fn load(text: &str) -> Result<Workflow, Vec<LoadError>> {
    parse_workflow("thu-nghiem.toml", text, &calendars())
}

/// Loads `text`, expects refusal, and returns the errors as displayed.
fn refused(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected the loader to refuse:\n{text}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

/// The line of the `[[states]]` / `[[transitions]]` header of the block containing `needle`:
/// errors about a state or transition point at the start of its block.
fn block_line(text: &str, needle: &str) -> usize {
    let at = line_of(text, needle);
    text.lines()
        .take(at)
        .enumerate()
        .filter(|(_, l)| l.starts_with("[["))
        .map(|(i, _)| i + 1)
        .last()
        .expect("needle inside a block")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in fixture"))
}

fn assert_one(errors: &[String], needles: &[&str]) {
    assert!(
        errors.iter().any(|e| needles.iter().all(|n| e.contains(n))),
        "no error contains all of {needles:?}; errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_fixture_is_valid() {
    let w = load(VALID).unwrap();
    assert_eq!(w.states.len(), 9);
    assert_eq!(
        w.transition("trinh").unwrap().from,
        vec!["thuyet_minh", "bo_sung"]
    );
    let d = w.state("tham_dinh").unwrap().deadline.as_ref().unwrap();
    assert_eq!(d.amount, Amount::WorkingDays(15));
    assert_eq!(d.remind_at, vec![0.5, 0.75, 1.0]);
}

#[test]
fn unknown_phase_names_file_line_and_state() {
    let text = VALID.replace("phase = \"appraisal\"", "phase = \"review\"");
    let errors = refused(&text);
    // The span of a state table starts at its first key.
    let line = block_line(&text, "name = \"tham_dinh\"");
    assert_one(
        &errors,
        &[
            &format!("thu-nghiem.toml:{line}:"),
            "state `tham_dinh`",
            "unknown phase `review`",
        ],
    );
}

#[test]
fn unknown_role_in_state_transition_or_escalation() {
    let errors = refused(&VALID.replace(
        "roles = [\"so_tai_chinh\"]\n  [states",
        "roles = [\"tai_chinh\"]\n  [states",
    ));
    assert_one(&errors, &["state `tham_dinh`", "unknown role `tai_chinh`"]);
    let errors = refused(&VALID.replace("roles = [\"ubnd\"]", "roles = [\"chu_tich\"]"));
    assert_one(
        &errors,
        &["transition `ket_thuc`", "unknown role `chu_tich`"],
    );
    let errors = refused(&VALID.replace(
        "pause_in = [\"bo_sung\"]",
        "pause_in = [\"bo_sung\"]\n  escalate_after = { working_days = 2, to = [\"giam_doc\"] }",
    ));
    assert_one(&errors, &["state `tham_dinh`", "unknown role `giam_doc`"]);
}

#[test]
fn a_transition_the_backbone_forbids() {
    // Proposed straight to completed skips appraisal and the contract.
    let text = VALID.replace(
        "from = \"du_thao\"\nto = \"thuyet_minh\"",
        "from = \"du_thao\"\nto = \"hoan_thanh\"",
    );
    let errors = refused(&text);
    let line = block_line(&text, "name = \"lap_thuyet_minh\"");
    assert_one(
        &errors,
        &[
            &format!(":{line}:"),
            "transition `lap_thuyet_minh`",
            "(proposed) to `hoan_thanh` (completed), which the legal backbone forbids",
            "explanation_and_estimate",
        ],
    );
}

#[test]
fn an_unreachable_state() {
    let text = format!(
        "{VALID}\n[[states]]\nname = \"mo_coi\"\nphase = \"appraisal\"\ntitle = \"Mồ côi\"\nroles = [\"skhcn\"]\n\n[[transitions]]\nname = \"tu_mo_coi\"\ntitle = \"Đi\"\nfrom = \"mo_coi\"\nto = \"rut\"\nroles = [\"ubnd\"]\n"
    );
    let errors = refused(&text);
    let line = block_line(&text, "name = \"mo_coi\"");
    assert_one(
        &errors,
        &[
            &format!(":{line}:"),
            "state `mo_coi`",
            "unreachable from the initial state `du_thao`",
        ],
    );
}

#[test]
fn a_non_terminal_state_with_no_way_out() {
    let text = VALID.replace(
        "[[transitions]]\nname = \"trinh\"\ntitle = \"Trình thẩm định\"\nfrom = [\"thuyet_minh\", \"bo_sung\"]",
        "[[transitions]]\nname = \"trinh\"\ntitle = \"Trình thẩm định\"\nfrom = [\"thuyet_minh\"]",
    );
    let errors = refused(&text);
    assert_one(
        &errors,
        &[
            "state `bo_sung`",
            "is not terminal (phase explanation_and_estimate) but no transition leaves it",
        ],
    );
}

#[test]
fn a_cycle_with_no_path_to_an_end() {
    // tham_dinh ↔ bo_sung only: nothing reaches completed or withdrawn any more.
    let text = VALID
        .replace(
            "from = \"tham_dinh\"\nto = \"rut\"",
            "from = \"tham_dinh\"\nto = \"bo_sung\"",
        )
        .replace(
            "from = \"tham_dinh\"\nto = \"lua_chon\"",
            "from = \"tham_dinh\"\nto = \"bo_sung\"",
        );
    let errors = refused(&text);
    assert_one(
        &errors,
        &[
            "state `tham_dinh`",
            "no sequence of transitions leads from it",
        ],
    );
}

#[test]
fn a_terminal_state_with_a_deadline_or_a_way_out() {
    let text = VALID.replace(
        "title = \"Hoàn thành\"\n",
        "title = \"Hoàn thành\"\n  [states.deadline]\n  days = 5\n",
    );
    let errors = refused(&text);
    assert_one(
        &errors,
        &[
            "state `hoan_thanh`",
            "terminal state (phase completed) cannot have a deadline",
        ],
    );
    let text = format!(
        "{VALID}\n[[transitions]]\nname = \"mo_lai\"\ntitle = \"Mở lại\"\nfrom = \"hoan_thanh\"\nto = \"du_thao\"\nroles = [\"ubnd\"]\n"
    );
    assert_one(
        &refused(&text),
        &["transition `mo_lai`", "completed is terminal"],
    );
}

#[test]
fn duplicate_names() {
    let text = format!(
        "{VALID}\n[[states]]\nname = \"bo_sung\"\nphase = \"proposed\"\ntitle = \"Lặp\"\nroles = [\"don_vi\"]\n"
    );
    let first = block_line(&text, "name = \"bo_sung\"");
    assert_one(
        &refused(&text),
        &[
            "state `bo_sung`",
            &format!("duplicate state name (first declared on line {first})"),
        ],
    );
    let text = format!(
        "{VALID}\n[[transitions]]\nname = \"dat\"\ntitle = \"Lặp\"\nfrom = \"tham_dinh\"\nto = \"rut\"\nroles = [\"ubnd\"]\n"
    );
    assert_one(
        &refused(&text),
        &["transition `dat`", "duplicate transition name"],
    );
}

#[test]
fn a_pause_state_outside_the_workflow() {
    let errors =
        refused(&VALID.replace("pause_in = [\"bo_sung\"]", "pause_in = [\"cho_bo_sung\"]"));
    assert_one(
        &errors,
        &["state `tham_dinh`", "pause_in: unknown state `cho_bo_sung`"],
    );
    let errors = refused(&VALID.replace("pause_in = [\"bo_sung\"]", "pause_in = [\"tham_dinh\"]"));
    assert_one(
        &errors,
        &["state `tham_dinh`", "pause_in cannot name the state itself"],
    );
}

#[test]
fn malformed_durations_and_amounts() {
    let errors = refused(&VALID.replace("working_days = 15", "duration = \"2 giờ\""));
    assert_one(
        &errors,
        &[
            "state `tham_dinh`",
            "deadline: `2 giờ` is not an ISO-8601 duration",
        ],
    );
    let errors = refused(&VALID.replace("working_days = 15", "duration = \"PT\""));
    assert_one(&errors, &["not an ISO-8601 duration"]);
    let errors = refused(&VALID.replace("working_days = 15", "working_days = 15\n  days = 20"));
    assert_one(&errors, &["deadline needs exactly one of", "found 2"]);
    let errors = refused(&VALID.replace("working_days = 15", "working_days = 0"));
    assert_one(&errors, &["deadline must be longer than zero"]);
    let errors = refused(&VALID.replace("working_days = 15", "working_days = -3"));
    assert_one(&errors, &["thu-nghiem.toml:"]);
    let errors = refused(&VALID.replace(
        "pause_in = [\"bo_sung\"]",
        "pause_in = [\"bo_sung\"]\n  repeat_overdue_every = { duration = \"P1X\" }",
    ));
    assert_one(
        &errors,
        &["repeat_overdue_every: `P1X` is not an ISO-8601 duration"],
    );
    let errors = refused(&VALID.replace(
        "pause_in = [\"bo_sung\"]",
        "pause_in = [\"bo_sung\"]\n  remind_at = [0.5, 1.5]",
    ));
    assert_one(&errors, &["remind_at fractions must lie in (0, 1]"]);
}

#[test]
fn unknown_fields_documents_and_expiry_targets() {
    let text = VALID.replace(
        "own_unit = true\ndocuments",
        "own_unit = true\ndeadline_days = 3\ndocuments",
    );
    let errors = refused(&text);
    let line = line_of(&text, "deadline_days");
    assert_one(
        &errors,
        &[
            &format!("thu-nghiem.toml:{line}:"),
            "unknown field `deadline_days`",
        ],
    );
    let errors = refused(&VALID.replace(
        "documents = [\"van_ban_y_kien\"]",
        "documents = [\"cong_van\"]",
    ));
    assert_one(
        &errors,
        &["transition `tra_lai`", "unknown document type `cong_van`"],
    );
    let errors = refused(&VALID.replace(
        "pause_in = [\"bo_sung\"]",
        "pause_in = [\"bo_sung\"]\n  on_expiry = \"lap_thuyet_minh\"",
    ));
    assert_one(
        &errors,
        &["on_expiry transition `lap_thuyet_minh` does not leave this state"],
    );
    let errors = refused(&VALID.replace("calendar = \"vn\"", "calendar = \"lao\""));
    assert_one(&errors, &["unknown calendar `lao`; loaded calendars: vn"]);
}

#[test]
fn every_error_is_reported_at_once() {
    let text = VALID
        .replace("phase = \"appraisal\"", "phase = \"review\"")
        .replace("roles = [\"ubnd\"]", "roles = [\"chu_tich\"]")
        .replace(
            "documents = [\"van_ban_y_kien\"]",
            "documents = [\"cong_van\"]",
        );
    assert!(refused(&text).len() >= 3);
}

#[test]
fn malformed_toml_points_at_the_line() {
    let text = VALID.replace("version = 1", "version = = 1");
    let errors = refused(&text);
    let line = line_of(&text, "version = = 1");
    assert_one(&errors, &[&format!("thu-nghiem.toml:{line}:")]);
}

#[test]
fn every_shipped_workflow_loads_and_renders() {
    let catalog = crate::testing::catalog();
    assert_eq!(
        catalog.names(),
        vec![
            "bao-cao-ktkt",
            "dau-tu-cong",
            "hoat-dong",
            "mua-sam",
            "thue-dich-vu"
        ]
    );
    for w in catalog.workflows() {
        let t = table(w);
        assert!(t.contains(&w.title) && t.contains("CHUYỂN BƯỚC"));
        let m = mermaid(w);
        assert!(m.starts_with("stateDiagram-v2\n"));
        for tr in &w.transitions {
            for f in &tr.from {
                assert!(m.contains(&format!("{f} --> {}", tr.to)));
            }
        }
        // Every workflow has the exits of domain.md: postpone, withdraw, and a way back from
        // postponement.
        let phases_reached: Vec<crate::Phase> = w
            .transitions
            .iter()
            .map(|t| w.state(&t.to).unwrap().phase)
            .collect();
        assert!(
            phases_reached.contains(&crate::Phase::Postponed),
            "{}: no postpone",
            w.name
        );
        assert!(
            phases_reached.contains(&crate::Phase::Withdrawn),
            "{}: no withdraw",
            w.name
        );
        assert!(
            w.transitions.iter().any(|t| t.to != w.initial
                && w.state(&t.to).unwrap().phase == crate::Phase::Withdrawn
                && t.from
                    .iter()
                    .any(|f| w.state(f).unwrap().phase == crate::Phase::Contract)),
            "{}: no early termination of the contract",
            w.name
        );
    }
}

#[test]
fn a_state_whose_every_way_out_is_round_limited() {
    let text = VALID
        .replace(
            "roles = [\"ubnd\"]\n",
            "roles = [\"ubnd\"]\nmax_repeats = 1\n",
        )
        .replace(
            "to = \"lua_chon\"\nroles = [\"so_tai_chinh\"]",
            "to = \"lua_chon\"\nroles = [\"so_tai_chinh\"]\nmax_repeats = 1",
        );
    assert_one(
        &refused(&text),
        &[
            "state `tham_dinh`",
            "every transition leaving it has max_repeats",
        ],
    );
}

#[test]
fn a_deadline_declares_its_kind_and_a_statutory_one_its_source() {
    let statutory = "kind = \"statutory\"\n  source = \"Thông tư 03/2020/TT-BTTTT\"\n";
    let errors = refused(&VALID.replace(statutory, ""));
    assert_one(
        &errors,
        &[
            "state `tham_dinh`",
            "declares its kind",
            "statutory",
            "internal",
        ],
    );
    let errors = refused(&VALID.replace(statutory, "kind = \"statutory\"\n"));
    assert_one(&errors, &["state `tham_dinh`", "needs its legal source"]);
    let errors = refused(&VALID.replace(statutory, "kind = \"luat\"\n"));
    assert_one(
        &errors,
        &["state `tham_dinh`", "\"statutory\" or \"internal\"", "luat"],
    );
    let w = load(&VALID.replace(statutory, "kind = \"internal\"\n")).unwrap();
    let d = w.state("tham_dinh").unwrap().deadline.clone().unwrap();
    assert_eq!(d.kind, DeadlineKind::Internal { source: None });
    assert_eq!(d.kind.describe(), "mục tiêu nội bộ");
    let w = load(VALID).unwrap();
    let d = w.state("tham_dinh").unwrap().deadline.clone().unwrap();
    assert_eq!(
        d.kind.describe(),
        "thời hạn luật định: Thông tư 03/2020/TT-BTTTT"
    );
    assert_eq!(d.on_return, OnReturn::Resume);
    assert!(
        super::render::describe_deadline(&d)
            .contains("thời hạn luật định: Thông tư 03/2020/TT-BTTTT")
    );
}

#[test]
fn on_return_and_request_within_are_checked() {
    let pause = "pause_in = [\"bo_sung\"]";
    let errors =
        refused(&VALID.replace(pause, "pause_in = [\"bo_sung\"]\n  on_return = \"reset\""));
    assert_one(
        &errors,
        &["state `tham_dinh`", "\"resume\" or \"restart\"", "reset"],
    );
    let errors = refused(&VALID.replace(pause, "on_return = \"restart\""));
    assert_one(&errors, &["state `tham_dinh`", "on_return", "pause_in"]);
    let errors = refused(&VALID.replace(pause, "request_within = { working_days = 5 }"));
    assert_one(
        &errors,
        &["state `tham_dinh`", "request_within", "pause_in"],
    );
    let errors = refused(&VALID.replace(
        pause,
        "pause_in = [\"bo_sung\"]\n  request_within = { working_days = 15 }",
    ));
    assert_one(
        &errors,
        &["state `tham_dinh`", "request_within must be shorter"],
    );
    let w = load(&VALID.replace(
        pause,
        "pause_in = [\"bo_sung\"]\n  on_return = \"restart\"\n  request_within = { working_days = 5 }",
    ))
    .unwrap();
    let d = w.state("tham_dinh").unwrap().deadline.clone().unwrap();
    assert_eq!(d.on_return, OnReturn::Restart);
    assert_eq!(d.request_within, Some(Amount::WorkingDays(5)));
    let shown = super::render::describe_deadline(&d);
    assert!(
        shown.contains("tính lại từ đầu")
            && shown.contains("đề nghị bổ sung trong 5 ngày làm việc đầu"),
        "{shown}"
    );
}

// --- Approval authorities ([approvals.NAME]) ---------------------------------------------

fn with_approval(section: &str, transition_edit: &str) -> String {
    VALID
        .replace(
            "[[states]]\nname = \"du_thao\"",
            &format!("{section}\n\n[[states]]\nname = \"du_thao\""),
        )
        .replace(
            "to = \"lua_chon\"\nroles = [\"so_tai_chinh\"]",
            &format!("to = \"lua_chon\"\n{transition_edit}"),
        )
}

#[test]
fn an_approval_resolves_roles_and_is_printed() {
    let text = with_approval(
        "[approvals.thong_qua]\ntitle = \"Thông qua\"\ndefault = { role = \"ubnd\" }\n\n  [[approvals.thong_qua.rules]]\n  own_fund = true\n  role = \"thu_truong_don_vi\"\n  unit = \"own\"\n  source = \"chưa xác nhận\"",
        "approval = \"thong_qua\"",
    );
    let wf = load(&text).unwrap();
    let t = wf.transition("dat").unwrap();
    assert_eq!(t.approval.as_deref(), Some("thong_qua"));
    assert_eq!(t.roles, vec![Role::ThuTruongDonVi, Role::Ubnd]);
    let shown = table(&wf);
    assert!(shown.contains("THẨM QUYỀN PHÊ DUYỆT"), "{shown}");
    assert!(
        shown.contains("thong_qua — Thông qua (áp dụng cho: dat)"),
        "{shown}"
    );
    assert!(
        shown.contains("1. đơn vị tự chủ, chi từ nguồn thu của đơn vị → Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị chủ trì nhiệm vụ [chưa xác nhận]"),
        "{shown}"
    );
    assert!(shown.contains("còn lại → UBND thành phố (ubnd)"), "{shown}");
}

#[test]
fn a_bad_approval_is_refused_with_every_reason() {
    // roles beside approval; an unknown approval; own_unit beside approval.
    let both = refused(&with_approval(
        "[approvals.a]\ntitle = \"A\"\ndefault = { role = \"ubnd\" }",
        "roles = [\"ubnd\"]\napproval = \"a\"",
    ));
    assert_one(&both, &["transition `dat`", "either roles or approval"]);
    let unknown = refused(&with_approval(
        "[approvals.a]\ntitle = \"A\"\ndefault = { role = \"ubnd\" }",
        "approval = \"b\"\nown_unit = true",
    ));
    assert_one(&unknown, &["unknown approval `b`", "declared: a"]);
    assert_one(&unknown, &["own_unit cannot be combined with approval"]);
    // A unit role without a unit; a rule without a condition; a bad funding source and unit.
    let rules = refused(&with_approval(
        "[approvals.a]\ntitle = \"A\"\ndefault = { role = \"thu_truong_don_vi\" }\n\n  [[approvals.a.rules]]\n  role = \"ubnd\"\n\n  [[approvals.a.rules]]\n  funding = [\"ngan_sach\"]\n  role = \"ubnd\"\n  unit = \"Sở Y tế\"",
        "approval = \"a\"",
    ));
    assert_one(
        &rules,
        &["approval `a`", "belongs to a unit", "unit = \"own\""],
    );
    assert_one(&rules, &["approval `a` rule 1", "a rule needs a condition"]);
    assert_one(
        &rules,
        &["approval `a` rule 2", "unknown funding source `ngan_sach`"],
    );
    assert_one(&rules, &["approval `a` rule 2", "must be \"own\""]);
}

/// `[durations.*]` and `[selection_methods.*]`, appended to the fixture.
const DURATIONS: &str = r#"
[selection_methods.dau_thau]
title = "đấu thầu rộng rãi"

[selection_methods.chao_hang]
title = "chào hàng cạnh tranh"
max_value = 10_000_000_000

[durations.lua_chon]
step = "chuẩn bị hồ sơ dự thầu"
minimum = { days = 18, kind = "statutory", source = "Nghị định 214/2025/NĐ-CP Điều 28.2" }
typical = { days = 30, kind = "estimate" }
  [durations.lua_chon.methods.chao_hang]
  minimum = { working_days = 7, kind = "statutory", source = "Nghị định 214/2025/NĐ-CP Điều 81" }
  typical = { working_days = 12, kind = "estimate" }

[durations.tham_dinh]
minimum = { working_days = 5, kind = "estimate" }
typical = { working_days = 15, kind = "statutory", source = "Thông tư 03/2020/TT-BTTTT" }
maximum = { working_days = 15, kind = "statutory", source = "Thông tư 03/2020/TT-BTTTT" }
"#;

#[test]
fn durations_and_selection_methods_are_read() {
    let w = load(&format!("{VALID}{DURATIONS}")).unwrap();
    let d = &w.durations;
    assert_eq!(
        d.methods
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["dau_thau", "chao_hang"],
        "methods keep their declaration order: the first is the default"
    );
    assert_eq!(d.methods[1].max_value, Some(10_000_000_000));
    let lc = &d.states["lua_chon"];
    assert_eq!(lc.base.minimum.amount, Amount::Days(18));
    assert_eq!(lc.base.minimum.kind, FigureKind::Statutory);
    assert_eq!(lc.base.typical.kind, FigureKind::Estimate);
    assert_eq!(
        lc.for_method(Some("chao_hang")).minimum.amount,
        Amount::WorkingDays(7)
    );
    assert_eq!(
        lc.for_method(Some("dau_thau")).minimum.amount,
        Amount::Days(18)
    );
    assert!(d.states["tham_dinh"].base.maximum.is_some());
}

#[test]
fn durations_naming_an_unknown_state_or_method_point_at_their_line() {
    let text = format!(
        "{VALID}{}",
        DURATIONS.replace("[durations.lua_chon]", "[durations.lua_chonn]")
    );
    let errors = refused(&text);
    let line = line_of(&text, "[durations.lua_chonn]");
    assert_one(
        &errors,
        &[
            &format!("thu-nghiem.toml:{line}:"),
            "durations of state `lua_chonn`",
            "unknown state `lua_chonn`",
        ],
    );
    let text = format!(
        "{VALID}{}",
        DURATIONS.replace(
            "lua_chon.methods.chao_hang]",
            "lua_chon.methods.chao_hangg]"
        )
    );
    assert_one(
        &refused(&text),
        &[
            "unknown selection method `chao_hangg`",
            "declared: dau_thau, chao_hang",
        ],
    );
    let text = format!(
        "{VALID}{DURATIONS}[durations.hoan_thanh]\nminimum = {{ days = 1, kind = \"estimate\" }}\ntypical = {{ days = 1, kind = \"estimate\" }}\n"
    );
    assert_one(&refused(&text), &["terminal state", "takes no time"]);
}

#[test]
fn malformed_duration_figures_are_refused() {
    let with = |from: &str, to: &str| refused(&format!("{VALID}{}", DURATIONS.replace(from, to)));
    assert_one(
        &with(
            "days = 18, kind = \"statutory\", source = \"Nghị định 214/2025/NĐ-CP Điều 28.2\"",
            "days = 18, kind = \"statutory\"",
        ),
        &["minimum: a statutory figure needs its legal source"],
    );
    assert_one(
        &with(
            "typical = { days = 30, kind = \"estimate\" }",
            "typical = { days = 30, kind = \"guess\" }",
        ),
        &["kind must be \"statutory\", \"internal\" or \"estimate\""],
    );
    assert_one(
        &with(
            "typical = { days = 30, kind = \"estimate\" }",
            "typical = { days = 10, kind = \"estimate\" }",
        ),
        &["minimum is longer than typical"],
    );
    assert_one(
        &with("typical = { days = 30, kind = \"estimate\" }", ""),
        &["typical is required"],
    );
    assert_one(
        &with(
            "typical = { days = 30, kind = \"estimate\" }",
            "typical = { days = 30, working_days = 2, kind = \"estimate\" }",
        ),
        &["typical needs exactly one of"],
    );
    assert_one(
        &with(
            "title = \"chào hàng cạnh tranh\"",
            "title = \"chào hàng cạnh tranh\"\nvia = \"khong_co\"",
        ),
        &["via names unknown transition `khong_co`"],
    );
}

#[test]
fn a_migration_maps_every_state_of_a_loaded_older_version() {
    use crate::testing::{SMALL_V2_MIGRATION, small_v2, small_versions};
    let catalog = small_versions(&small_v2(SMALL_V2_MIGRATION)).unwrap();
    let v2 = catalog.get("thu-nghiem", 2).unwrap();
    let m = v2.migration_from(1).unwrap();
    assert_eq!(m.states["bo_sung"], "thuyet_minh");
    assert!(
        catalog.get("thu-nghiem", 1).is_some(),
        "the older version stays loadable"
    );

    let errors = |v2: &str| -> Vec<String> {
        small_versions(v2)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    };
    // A state of version 1 left unmapped: refused at the [[migrate_from]] line.
    let text = small_v2(&SMALL_V2_MIGRATION.replace(", rut = \"rut\"", ""));
    let line = line_of(&text, "[[migrate_from]]");
    assert_one(
        &errors(&text),
        &[&format!("thu-nghiem-v2.toml:{line}:"), "unmapped: rut"],
    );
    // A state that version 1 does not have.
    let text =
        small_v2(&SMALL_V2_MIGRATION.replace("rut = \"rut\"", "rut = \"rut\", cu = \"rut\""));
    assert_one(&errors(&text), &["not states of version 1: cu"]);
    // A target that is not a state of this version: refused by the file's own check.
    let text = small_v2(&SMALL_V2_MIGRATION.replace("rut = \"rut\"", "rut = \"da_huy\""));
    assert_one(
        &refused(&text),
        &["migrate_from version 1", "`da_huy`, which is not a state"],
    );
    // From a version that is not older, or not loaded.
    let text = small_v2(&SMALL_V2_MIGRATION.replace("version = 1", "version = 2"));
    assert_one(&refused(&text), &["from an older version: 1 to 1"]);
    let text = small_v2(SMALL_V2_MIGRATION).replace("version = 2", "version = 3");
    let text = text.replace(
        "[[migrate_from]]\nversion = 1",
        "[[migrate_from]]\nversion = 2",
    );
    assert_one(
        &errors(&text),
        &["version 2 of `thu-nghiem` is not loaded: keep its file"],
    );
}

/// A `[[decisions]]` block accepting a carry-over (chuyển nguồn) from the given states.
fn with_decision(extra: &str) -> String {
    format!("{VALID}\n{extra}")
}

const CARRY: &str = r#"
[[decisions]]
name = "chuyen_nguon"
title = "Chấp thuận chuyển nguồn kinh phí sang năm sau"
proposal = "carry_over"
from = ["lua_chon", "hop_dong"]
roles = ["ubnd"]
comment_required = true
"#;

#[test]
fn a_decision_that_leaves_the_task_in_its_step_is_declared_apart_from_transitions() {
    let w = load(&with_decision(CARRY)).unwrap();
    assert_eq!(w.decisions.len(), 1);
    let d = &w.decisions[0];
    assert_eq!(d.proposal, crate::proposal::ProposalKind::CarryOver);
    assert_eq!(d.roles, vec![Role::Ubnd]);
    assert!(d.comment_required);
    assert_eq!(
        w.decision_from("hop_dong", crate::proposal::ProposalKind::CarryOver)
            .map(|d| d.name.as_str()),
        Some("chuyen_nguon")
    );
    assert!(
        w.decision_from("tham_dinh", crate::proposal::ProposalKind::CarryOver)
            .is_none()
    );
    // It is not a transition: nothing leads anywhere by it.
    assert!(w.transition("chuyen_nguon").is_none());
    // Without the block, a workflow declares none.
    assert!(load(VALID).unwrap().decisions.is_empty());
}

#[test]
fn a_decision_is_refused_with_its_line_when_it_moves_names_unknowns_or_repeats() {
    let line = |text: &str| block_line(text, "name = \"chuyen_nguon\"");
    // A postponement moves the task: it must be a transition into a postponed state.
    let text = with_decision(&CARRY.replace("\"carry_over\"", "\"postpone\""));
    assert_one(
        &refused(&text),
        &[
            &format!("thu-nghiem.toml:{}:", line(&text)),
            "decision `chuyen_nguon`",
            "proposal `postpone` moves the task",
        ],
    );
    let text = with_decision(&CARRY.replace("\"carry_over\"", "\"gia_han\""));
    assert_one(
        &refused(&text),
        &["unknown proposal `gia_han`", "carry_over"],
    );
    let text = with_decision(&CARRY.replace("\"lua_chon\", ", "\"khong_co\", "));
    assert_one(&refused(&text), &["`from`: unknown state `khong_co`"]);
    let text = with_decision(&CARRY.replace("\"lua_chon\", ", "\"hoan_thanh\", "));
    assert_one(
        &refused(&text),
        &["`hoan_thanh` is a completed state", "closed task"],
    );
    let text = with_decision(&CARRY.replace("\"lua_chon\", ", "\"hop_dong\", "));
    assert_one(&refused(&text), &["`from` lists `hop_dong` twice"]);
    let text = with_decision(&CARRY.replace("name = \"chuyen_nguon\"", "name = \"dat\""));
    assert_one(
        &refused(&text),
        &["decision `dat`", "a transition has the same name"],
    );
    let text = with_decision(&CARRY.replace("roles = [\"ubnd\"]", "roles = []"));
    assert_one(&refused(&text), &["must name the role(s)"]);
    let text = with_decision(&CARRY.replace(
        "roles = [\"ubnd\"]",
        "roles = [\"ubnd\"]\ndocuments = [\"quyet_dinh\"]",
    ));
    assert_one(&refused(&text), &["unknown document type `quyet_dinh`"]);
    // Two decisions accepting the same proposal from one step: which one UBND takes is unclear.
    let text = with_decision(&format!(
        "{CARRY}\n{}",
        CARRY.replace("name = \"chuyen_nguon\"", "name = \"chuyen_nguon_2\"")
    ));
    assert_one(
        &refused(&text),
        &[
            "decision `chuyen_nguon_2`",
            "decision `chuyen_nguon` already accepts `carry_over` from `lua_chon`",
        ],
    );
    let text = with_decision(&format!("{CARRY}\n{CARRY}"));
    assert_one(&refused(&text), &["duplicate decision name"]);
}

#[test]
fn the_shipped_workflows_declare_the_carry_over_where_the_funds_are_recurrent_spending() {
    let c = crate::testing::catalog();
    for name in ["mua-sam", "thue-dich-vu", "hoat-dong", "bao-cao-ktkt"] {
        let w = c.latest(name).unwrap();
        let d = w
            .decisions
            .iter()
            .find(|d| d.proposal == crate::proposal::ProposalKind::CarryOver)
            .unwrap_or_else(|| panic!("{name}: no carry-over decision"));
        assert_eq!(d.roles, vec![Role::Ubnd], "{name}");
        // Every running step, none closed or postponed.
        for s in &w.states {
            let running = !s.phase.is_terminal() && s.phase != crate::phase::Phase::Postponed;
            assert_eq!(d.from.contains(&s.name), running, "{name}: {}", s.name);
        }
        // `tiendo workflows show` lists it apart from the transitions.
        let shown = table(w);
        let section = shown
            .split("QUYẾT ĐỊNH KHÔNG CHUYỂN BƯỚC")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no decisions section:\n{shown}"));
        assert!(section.contains(&d.name), "{section}");
        // (The table wraps long cells: the first line of the condition.)
        assert!(
            section.contains("chấp thuận đề xuất: chuyển nguồn kinh phí"),
            "{section}"
        );
    }
    // Public investment extends its disbursement under the public investment law instead.
    assert!(c.latest("dau-tu-cong").unwrap().decisions.is_empty());
    assert!(!table(c.latest("dau-tu-cong").unwrap()).contains("QUYẾT ĐỊNH KHÔNG CHUYỂN BƯỚC"));
}
