//! Worked examples on the shipped workflows and the 2025–2026 calendar, computed by hand in the
//! comments, and properties of every forecast.
//!
//! The 2025 calendar has no day off between 03/09/2025 and 31/12/2025 (24/11 is not yet law);
//! 2026 starts with 1–4/01 off (Thu–Sun). A step entered on day D and lasting N working days ends
//! on the N-th working day after D (D not counted); N days end on D + N, moved to the next working
//! day when that is a day off.

use std::sync::Arc;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::calendar::{Calendar, CalendarYear};
use crate::time::{end_of_day, parse_instant};
use crate::workflow::Workflow;

fn wf(name: &str) -> Arc<Workflow> {
    crate::testing::catalog()
        .latest(name)
        .cloned()
        .expect("shipped workflow")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%d/%m/%Y").unwrap()
}

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

fn task<'a>(state: &'a str, entered: &str, value: Option<i64>) -> TaskInput<'a> {
    TaskInput {
        state,
        entered_at: at(entered),
        paused: None,
        value,
        deadline: Some(d("31/12/2025")),
        budget_year: Some(2025),
        allocated: false,
    }
}

fn path<'f>(f: &'f Forecast, method: &str) -> &'f PathForecast {
    f.paths
        .iter()
        .find(|p| p.method.as_deref() == Some(method))
        .unwrap_or_else(|| panic!("no path {method}: {f:#?}"))
}

fn step<'p>(p: &'p PathForecast, state: &str) -> &'p Step {
    p.steps
        .iter()
        .find(|s| s.state == state)
        .unwrap_or_else(|| panic!("no step {state} in {:#?}", p.steps))
}

/// The Côn Sơn parking case (Sở VHTTDL, 1.341 million VND): the dossier enters SKHCN's second
/// review round on Wednesday 05/11/2025; forecast as of that evening.
///
/// Minimums, open bidding (đấu thầu rộng rãi trong nước):
///   skhcn_cho_y_kien 3 wd: 06, 07, 10/11 → 10/11; gui_tham_dinh 1 wd → 11/11;
///   stc_tham_dinh 5 wd: 12, 13, 14, 17, 18 → 18/11; phe_duyet 1 wd → 19/11;
///   lap_khlcnt 2 wd: 20, 21 → 21/11 (Fri);
///   to_chuc_lcnt 18 days: 21/11 + 18 = 09/12 (Tue, worked) → 09/12;
///   phe_duyet_ket_qua_lcnt 5 wd: 10, 11, 12, 15, 16 → 16/12; thong_bao_ket_qua 1 → 17/12;
///   cho_nha_thau_xac_nhan 1 → 18/12; hoan_thien_hop_dong 1 → 19/12 (Fri);
///   thuc_hien_hop_dong 10 wd: 22, 23, 24, 25, 26, 29, 30, 31/12, (1–4/01/2026 off) 05, 06/01 → 06/01/2026;
///   nghiem_thu 1 → 07/01; quyet_toan 1 → 08/01/2026. After 31/12/2025: cannot finish.
///
/// Minimums, competitive quotation (chào hàng cạnh tranh), same until lap_khlcnt (21/11):
///   to_chuc_lcnt 7 wd: 24, 25, 26, 27, 28/11, 01, 02/12 → 02/12;
///   phe_duyet_ket_qua_lcnt 1 wd (no appraisal of the result) → 03/12; thong_bao 1 → 04/12;
///   xac_nhan 1 → 05/12 (Fri); hoan_thien 1 → 08/12;
///   thuc_hien_hop_dong 10 wd: 09, 10, 11, 12, 15, 16, 17, 18, 19, 22 → 22/12;
///   nghiem_thu 1 → 23/12; quyet_toan 1 → 24/12/2025: in time, at the minimums only.
///
/// Typical, quotation: skhcn 10 wd: 06/11 … 19/11 → 19/11; gui 3 wd: 20, 21, 24 → 24/11;
///   stc 15 wd: 25/11 … 15/12 → 15/12; phe_duyet 3 wd → 18/12; lap_khlcnt 5 wd: 19, 22, 23, 24,
///   25 → 25/12; to_chuc 12 wd: 26, 29, 30, 31/12, (1–4/01 off) 05, 06, 07, 08, 09, Saturday 10/01
///   (worked in exchange for 02/01), 12, 13/01 → 13/01/2026; phe_duyet_ket_qua 3 wd: 14, 15, 16 →
///   16/01; thong_bao 3: 19, 20, 21 → 21/01; xac_nhan 2: 22, 23 → 23/01; hoan_thien 5: 26 … 30/01
///   → 30/01; thuc_hien 30 days (more than its 10 wd minimum, which ends 13/02): 30/01 + 30 =
///   01/03 (Sun) → 02/03; nghiem_thu 5 wd: 03, 04, 05, 06, 09 → 09/03; quyet_toan 10 wd: 10/03 …
///   23/03 → 23/03/2026.
#[test]
fn con_son_at_skhcn_round_two_cannot_finish_by_open_bidding_but_can_by_quotation_at_minimums() {
    let w = wf("mua-sam");
    let t = task("skhcn_cho_y_kien", "2025-11-05T09:00", Some(1_341_000_000));
    let f = forecast(&w, &t, end_of_day(d("05/11/2025"))).unwrap();

    let open = path(&f, "dau_thau_rong_rai");
    assert_eq!(step(open, "skhcn_cho_y_kien").end, d("10/11/2025"));
    assert_eq!(step(open, "lap_khlcnt").end, d("21/11/2025"));
    assert_eq!(step(open, "to_chuc_lcnt").end, d("09/12/2025"));
    assert_eq!(step(open, "hoan_thien_hop_dong").end, d("19/12/2025"));
    assert_eq!(step(open, "thuc_hien_hop_dong").end, d("06/01/2026"));
    assert_eq!(open.earliest, d("08/01/2026"));
    assert_eq!(
        open.binding.as_ref().unwrap().text,
        "lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu"
    );
    assert_eq!(
        open.binding.as_ref().unwrap().source.as_deref(),
        Some("Nghị định 214/2025/NĐ-CP Điều 28.2")
    );

    let quote = path(&f, "chao_hang_canh_tranh");
    assert!(quote.allowed);
    assert_eq!(step(quote, "to_chuc_lcnt").end, d("02/12/2025"));
    assert_eq!(step(quote, "thuc_hien_hop_dong").end, d("22/12/2025"));
    assert_eq!(quote.earliest, d("24/12/2025"));
    assert_eq!(quote.typical, d("23/03/2026"));

    // Direct appointment is for packages up to 500 million: not this one.
    assert!(!path(&f, "chi_dinh_thau").allowed);
    assert!(!path(&f, "quyet_dinh_truc_tiep").allowed);

    // The best path is the quotation: in time only if every step takes its minimum.
    assert_eq!(f.earliest.date, d("24/12/2025"));
    assert_eq!(
        f.path_of(f.earliest).method.as_deref(),
        Some("chao_hang_canh_tranh")
    );
    assert_eq!(f.verdict, Verdict::AtRisk);
    assert_eq!(f.verdict.label(), "có nguy cơ");
    assert!(f.earliest.date <= f.typical.date && f.typical.date <= f.latest.date);
    let note = f.shorter_path_note().unwrap();
    assert!(
        note.starts_with("Có đường ngắn hơn: chào hàng cạnh tranh"),
        "{note}"
    );
    let lines = f.path_lines();
    assert!(
        lines.iter().any(
            |l| l.starts_with("đấu thầu rộng rãi trong nước: sớm nhất 08/01/2026")
                && l.ends_with("không thể hoàn thành đúng hạn")
        ),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("chào hàng cạnh tranh: sớm nhất 24/12/2025")
                && l.ends_with("kịp chỉ khi mọi bước ở mức tối thiểu")
        ),
        "{lines:#?}"
    );
}

/// The same dossier for a package over 10 billion VND: only open bidding is allowed (the
/// small-package and quotation thresholds are 10 billion), so the earliest is 08/01/2026 (above)
/// and the task cannot finish by 31/12/2025, bound by the 18 days of bid preparation.
#[test]
fn a_package_over_ten_billion_has_only_open_bidding_and_cannot_finish() {
    let w = wf("mua-sam");
    let t = task("skhcn_cho_y_kien", "2025-11-05T09:00", Some(12_000_000_000));
    let f = forecast(&w, &t, end_of_day(d("05/11/2025"))).unwrap();
    assert_eq!(f.earliest.date, d("08/01/2026"));
    assert_eq!(f.verdict, Verdict::CannotFinish);
    assert_eq!(f.verdict.label(), "không thể hoàn thành đúng hạn");
    assert_eq!(
        f.binding.as_ref().unwrap().text,
        "lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu"
    );
    assert_eq!(f.shorter_path, None);
    assert!(
        f.summary()
            .starts_with("không thể hoàn thành đúng hạn: sớm nhất 08/01/2026")
    );
}

/// A rental (thue-dich-vu) whose rental plan enters appraisal on Monday 01/12/2025, forecast as
/// of that evening. Its plan year closes when the year's period is accepted and paid
/// (`closes_year` on thanh_toan_ky).
///
/// Minimums, quotation (the shortest allowed for 2 billion VND):
///   tham_dinh_ke_hoach_thue 3 wd: 02, 03, 04 → 04/12; phe_duyet_ke_hoach_thue 1 wd → 05/12 (Fri);
///   lap_khlcnt 2 wd: 08, 09 → 09/12; to_chuc_lcnt 7 wd: 10, 11, 12, 15, 16, 17, 18 → 18/12;
///   phe_duyet_ket_qua_lcnt 1 → 19/12; thong_bao 1 → 22/12; xac_nhan 1 → 23/12; hoan_thien 1 →
///   24/12; thuc_hien_dich_vu 5 wd: 25, 26, 29, 30, 31 → 31/12; nghiem_thu_ky 1 wd (1–4/01/2026
///   off) → 05/01/2026; thanh_toan_ky 1 → 06/01/2026. After 31/12/2025: cannot finish even at
///   minimums; the longest minimum is the quotation's 7 working days (09/12 → 18/12, 9 days).
///
/// Latest lawful, the appraisal alone: 20 days from 01/12 → 21/12 (Sun) → 22/12 (Mon).
#[test]
fn rental_at_plan_appraisal_on_first_december_cannot_close_the_year() {
    let w = wf("thue-dich-vu");
    let t = task(
        "tham_dinh_ke_hoach_thue",
        "2025-12-01T10:00",
        Some(2_000_000_000),
    );
    let f = forecast(&w, &t, end_of_day(d("01/12/2025"))).unwrap();
    let quote = path(&f, "chao_hang_canh_tranh");
    assert_eq!(step(quote, "phe_duyet_ke_hoach_thue").end, d("05/12/2025"));
    assert_eq!(step(quote, "to_chuc_lcnt").end, d("18/12/2025"));
    assert_eq!(step(quote, "thuc_hien_dich_vu").end, d("31/12/2025"));
    assert_eq!(step(quote, "nghiem_thu_ky").end, d("05/01/2026"));
    assert_eq!(quote.steps.last().unwrap().state, "thanh_toan_ky");
    assert_eq!(quote.earliest, d("06/01/2026"));
    assert_eq!(f.earliest.date, d("06/01/2026"));
    assert_eq!(f.verdict, Verdict::CannotFinish);
    assert_eq!(
        f.binding.as_ref().unwrap().text,
        "lựa chọn nhà thầu: tối thiểu 7 ngày làm việc chuẩn bị hồ sơ đề xuất (chào hàng cạnh tranh)"
    );

    // The latest lawful run takes the appraisal's statutory 20 days.
    let latest = Search::new(
        &w,
        &t,
        end_of_day(d("01/12/2025")),
        Some("chao_hang_canh_tranh"),
        Figure::Maximum,
    )
    .run()
    .unwrap();
    assert_eq!(latest.1[0].end, d("22/12/2025"));
}

/// A mua-sam dossier sent back to the unit by Sở Tài chính: the appraisal clock (15 wd, resumes
/// on return) started Monday 03/11/2025 and stopped Thursday 06/11 after 3 working days (04, 05,
/// 06). Only 2 working days of its 5-wd minimum remain, however long the dossier stays with the
/// unit: the clock is stopped.
///
/// As of 06/11: stc_bo_sung_ho_so 1 wd → 07/11; stc_tham_dinh 5 − 3 = 2 wd: 10, 11 → 11/11;
///   bo_tri_kinh_phi (UBND allocation, issue 15: the unit approved before the appraisal; no
///   duration declared) → 11/11; lap_khlcnt 2: 12, 13 → 13/11; quotation 7 wd: 14, 17, 18, 19,
///   20, 21, 24 → 24/11; phe_duyet_ket_qua 1 → 25/11; thong_bao 1 → 26/11; xac_nhan 1 → 27/11;
///   hoan_thien 1 → 28/11; thuc_hien 10 wd: 01 … 12/12 → 12/12; nghiem_thu → 15/12;
///   quyet_toan → 16/12/2025.
/// As of 20/11, still with the unit: stc_bo_sung_ho_so ends today 20/11; the appraisal's 2 wd:
///   21, 24 → 24/11: the same two working days, nine working days later.
#[test]
fn a_paused_appraisal_keeps_what_was_left_of_its_clock() {
    let w = wf("mua-sam");
    let clock = Clock {
        state: "stc_tham_dinh".into(),
        started_at: at("2025-11-03T09:00"),
        due_at: end_of_day(d("24/11/2025")),
        paused_at: Some(at("2025-11-06T15:00")),
    };
    let mut t = task("stc_bo_sung_ho_so", "2025-11-06T15:00", Some(1_000_000_000));
    t.paused = Some(&clock);

    let f = forecast(&w, &t, end_of_day(d("06/11/2025"))).unwrap();
    let q = path(&f, "chao_hang_canh_tranh");
    assert_eq!(step(q, "stc_bo_sung_ho_so").end, d("07/11/2025"));
    let appraisal = step(q, "stc_tham_dinh");
    assert_eq!(
        (appraisal.start, appraisal.end),
        (d("07/11/2025"), d("11/11/2025"))
    );
    assert_eq!(f.earliest.date, d("16/12/2025"));

    let later = forecast(&w, &t, end_of_day(d("20/11/2025"))).unwrap();
    let q = path(&later, "chao_hang_canh_tranh");
    assert_eq!(step(q, "stc_bo_sung_ho_so").end, d("20/11/2025"));
    let appraisal = step(q, "stc_tham_dinh");
    assert_eq!(
        (appraisal.start, appraisal.end),
        (d("20/11/2025"), d("24/11/2025"))
    );

    // Without the paused clock the appraisal would take its whole 5-wd minimum again.
    t.paused = None;
    let fresh = forecast(&w, &t, end_of_day(d("06/11/2025"))).unwrap();
    assert_eq!(
        step(path(&fresh, "chao_hang_canh_tranh"), "stc_tham_dinh").end,
        d("14/11/2025")
    );
}

#[test]
fn finished_tasks_and_unknown_states_have_no_forecast() {
    let w = wf("mua-sam");
    let t = task("hoan_thanh", "2025-11-05T09:00", None);
    assert!(matches!(
        forecast(&w, &t, end_of_day(d("05/11/2025"))),
        Err(ForecastError::Finished(Phase::Completed))
    ));
    let t = task("khong_co", "2025-11-05T09:00", None);
    assert!(matches!(
        forecast(&w, &t, end_of_day(d("05/11/2025"))),
        Err(ForecastError::UnknownState(_))
    ));
}

/// Past contractor selection every method gives the same path: one path, no method named.
#[test]
fn past_selection_the_methods_collapse_to_one_path() {
    let w = wf("mua-sam");
    let t = task("thuc_hien_hop_dong", "2025-11-05T09:00", None);
    let f = forecast(&w, &t, end_of_day(d("05/11/2025"))).unwrap();
    assert_eq!(f.paths.len(), 1);
    assert_eq!(f.paths[0].method, None);
    // 10 wd: 06/11 … 19/11; nghiem_thu → 20/11; quyet_toan → 21/11.
    assert_eq!(f.earliest.date, d("21/11/2025"));
    assert_eq!(f.verdict, Verdict::OnTrack);
}

/// The shipped calendar with one more day off.
fn with_day_off(cal: &Calendar, day: NaiveDate) -> Calendar {
    let years = cal
        .years()
        .map(|y| {
            let mut y: CalendarYear = y.clone();
            if y.year == chrono::Datelike::year(&day) {
                y.working_days.remove(&day);
                y.days_off.insert(day, "ngày nghỉ thêm".into());
            }
            y
        })
        .collect();
    Calendar::new(cal.name(), years).unwrap()
}

fn any_case() -> impl Strategy<Value = (usize, usize, u32, u32, Option<i64>, u32)> {
    (
        0usize..64,
        0usize..40,
        0u32..300,
        0u32..30,
        prop_oneof![Just(None), (1i64..20_000).prop_map(|m| Some(m * 1_000_000))],
        0u32..420,
    )
}

/// Every shipped workflow (the files in `workflows/`, read when the tests run: one added later
/// is covered without a list to keep up to date).
fn shipped_workflow(i: usize) -> Arc<Workflow> {
    let catalog = crate::testing::catalog();
    let mut names: Vec<String> = catalog.workflows().map(|w| w.name.clone()).collect();
    names.sort();
    names.dedup();
    wf(&names[i % names.len()])
}

#[test]
fn the_property_tests_walk_every_shipped_workflow() {
    let walked: std::collections::BTreeSet<String> =
        (0..64).map(|i| shipped_workflow(i).name.clone()).collect();
    for w in crate::testing::catalog().workflows() {
        assert!(walked.contains(&w.name), "{} is not walked", w.name);
    }
    assert!(walked.contains("hoat-dong"), "{walked:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Earliest ≤ typical ≤ latest, on every path and for the best ones.
    #[test]
    fn earliest_is_never_after_typical_nor_typical_after_latest(
        (wi, si, entered, waited, value, _) in any_case()
    ) {
        let w = shipped_workflow(wi);
        let open: Vec<&str> = w.states.iter().filter(|s| !s.phase.is_terminal() && s.phase != Phase::Postponed).map(|s| s.name.as_str()).collect();
        let state = open[si % open.len()];
        let entered_day = d("01/01/2025") + chrono::Days::new(u64::from(entered));
        let t = TaskInput {
            state,
            entered_at: end_of_day(entered_day),
            paused: None,
            value,
            deadline: Some(d("31/12/2025")),
            budget_year: Some(2025),
            allocated: false,
        };
        let as_of = end_of_day(entered_day + chrono::Days::new(u64::from(waited)));
        let f = forecast(&w, &t, as_of).unwrap();
        for p in f.paths.iter() {
            prop_assert!(p.earliest <= p.typical && p.typical <= p.latest, "{p:#?}");
            prop_assert!(p.earliest >= local_date(as_of));
        }
        prop_assert!(f.earliest.date <= f.typical.date && f.typical.date <= f.latest.date);
    }

    /// Adding a day off never makes a forecast earlier.
    #[test]
    fn a_day_off_never_makes_a_forecast_earlier(
        (wi, si, entered, waited, value, off) in any_case()
    ) {
        let w = shipped_workflow(wi);
        let open: Vec<&str> = w.states.iter().filter(|s| !s.phase.is_terminal() && s.phase != Phase::Postponed).map(|s| s.name.as_str()).collect();
        let state = open[si % open.len()];
        let entered_day = d("01/01/2025") + chrono::Days::new(u64::from(entered));
        let t = TaskInput {
            state,
            entered_at: end_of_day(entered_day),
            paused: None,
            value,
            deadline: Some(d("31/12/2025")),
            budget_year: Some(2025),
            allocated: false,
        };
        let as_of = end_of_day(entered_day + chrono::Days::new(u64::from(waited)));
        let day = entered_day + chrono::Days::new(u64::from(off));
        let mut more = (*w).clone();
        more.calendar = Arc::new(with_day_off(&w.calendar, day));
        let (a, b) = (forecast(&w, &t, as_of).unwrap(), forecast(&more, &t, as_of).unwrap());
        // Methods whose figures give the same dates are shown as one path, so a day off can
        // split a path in two (methods that coincided no longer do): compare path by path when
        // both forecasts show the same paths, and the best dates always.
        if a.paths.len() == b.paths.len() {
            for (p, q) in a.paths.iter().zip(b.paths.iter()) {
                prop_assert!(q.earliest >= p.earliest && q.typical >= p.typical && q.latest >= p.latest,
                    "day off {day}: {p:#?} vs {q:#?}");
            }
        } else {
            prop_assert!(a.paths.len() == 1 || b.paths.len() == 1, "{} vs {} paths", a.paths.len(), b.paths.len());
        }
        prop_assert!(b.earliest.date >= a.earliest.date);
        prop_assert!(b.typical.date >= a.typical.date);
        prop_assert!(b.latest.date >= a.latest.date);
    }
}

/// Many tasks share their paths: the cache gives the same forecasts as one by one.
#[test]
fn many_forecasts_match_single_ones() {
    let w = wf("mua-sam");
    let mut many = Many::new();
    let as_of = end_of_day(d("05/11/2025"));
    for (state, value) in [
        ("skhcn_cho_y_kien", Some(1_341_000_000)),
        ("skhcn_cho_y_kien", Some(12_000_000_000)),
        ("skhcn_cho_y_kien", Some(1_341_000_000)),
        ("lap_thuyet_minh", None),
    ] {
        let t = task(state, "2025-11-05T09:00", value);
        assert_eq!(
            many.forecast(&w, &t, as_of).unwrap(),
            forecast(&w, &t, as_of).unwrap()
        );
    }
    assert_eq!(many.distinct(), 3);
}

/// Each flag is raised once, and again only when it changes; a task no longer flagged is
/// cleared (so that a later flag is raised again), one never flagged is left alone.
#[test]
fn a_flag_is_raised_once_and_again_only_when_it_changes() {
    use Verdict::*;
    assert_eq!(
        flag_change(None, CannotFinish),
        FlagChange::Raise(CannotFinish)
    );
    assert_eq!(flag_change(None, AtRisk), FlagChange::Raise(AtRisk));
    assert_eq!(
        flag_change(Some(CannotFinish), CannotFinish),
        FlagChange::Keep
    );
    assert_eq!(flag_change(Some(AtRisk), AtRisk), FlagChange::Keep);
    assert_eq!(
        flag_change(Some(AtRisk), CannotFinish),
        FlagChange::Raise(CannotFinish)
    );
    assert_eq!(
        flag_change(Some(CannotFinish), AtRisk),
        FlagChange::Raise(AtRisk)
    );
    assert_eq!(flag_change(Some(AtRisk), OnTrack), FlagChange::Clear);
    assert_eq!(
        flag_change(Some(CannotFinish), NoDeadline),
        FlagChange::Clear
    );
    assert_eq!(flag_change(None, OnTrack), FlagChange::Keep);
    assert_eq!(flag_change(None, NoDeadline), FlagChange::Keep);
    for v in [CannotFinish, AtRisk, OnTrack, NoDeadline] {
        assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
    }
    assert!("late".parse::<Verdict>().is_err());
}

/// The decisions a flagged task leads to: carrying the funds over first when the task has an
/// allocation this year, then postponement — each only where the workflow declares it from the
/// step; nothing for a task on track.
#[test]
fn a_flagged_task_is_offered_carry_over_then_postponement_where_the_workflow_declares_them() {
    let kinds = |o: Vec<DecisionOption>| -> Vec<(&'static str, String)> {
        o.into_iter().map(|o| (o.kind, o.transition)).collect()
    };
    let w = wf("mua-sam");
    // The Côn Sơn case (at risk, above), with and without an allocation in 2025.
    let mut t = task("skhcn_cho_y_kien", "2025-11-05T09:00", Some(1_341_000_000));
    t.allocated = true;
    let f = forecast(&w, &t, end_of_day(d("05/11/2025"))).unwrap();
    assert_eq!(f.verdict, Verdict::AtRisk);
    assert_eq!(
        kinds(f.options.clone()),
        vec![
            ("carry_over", "chap_thuan_chuyen_nguon".to_string()),
            ("postpone", "tam_hoan".to_string())
        ]
    );
    assert!(
        f.options[0]
            .title
            .starts_with("đề nghị chuyển nguồn kinh phí sang năm sau")
    );
    t.allocated = false;
    let f = forecast(&w, &t, end_of_day(d("05/11/2025"))).unwrap();
    assert_eq!(kinds(f.options), vec![("postpone", "tam_hoan".to_string())]);
    // Under contract: no postponement any more; the carry-over still.
    assert_eq!(
        kinds(decision_options(
            &w,
            "thuc_hien_hop_dong",
            Verdict::CannotFinish,
            true
        )),
        vec![("carry_over", "chap_thuan_chuyen_nguon".to_string())]
    );
    // Not flagged: nothing.
    for v in [Verdict::OnTrack, Verdict::NoDeadline] {
        assert!(decision_options(&w, "skhcn_cho_y_kien", v, true).is_empty());
    }
    // Public investment declares no carry-over: postponement only.
    let dtc = wf("dau-tu-cong");
    let open = dtc
        .states
        .iter()
        .find(|s| {
            crate::proposal::exit_transition(&dtc, &s.name, crate::proposal::ProposalKind::Postpone)
                .is_some()
        })
        .unwrap();
    assert_eq!(
        kinds(decision_options(
            &dtc,
            &open.name,
            Verdict::CannotFinish,
            true
        ))
        .into_iter()
        .map(|(k, _)| k)
        .collect::<Vec<_>>(),
        vec!["postpone"]
    );
}
