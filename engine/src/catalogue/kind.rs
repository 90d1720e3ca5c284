//! Which workflow an imported task runs on.
//!
//! A plan's catalogue has no dossier-type column: the plan lists tasks by funding source, and the
//! dossier type (domain.md, "Task kinds") is independent of it. What a unit wrote in the progress
//! column ("Đang hoàn thiện Báo cáo KTKT", "Đang lập kế hoạch thuê", "đã lập thuyết minh và dự
//! toán") names the dossier the unit is actually preparing, so the rule reads the progress text
//! first and falls back on the funding source, the rental flag and the name. First match wins; a
//! catalogue may carry a `kind` column naming the workflow of a row explicitly, which overrides
//! the rule for that row. `tiendo import plan --help` and README print the same table.
//!
//! Phrases are compared after folding case and diacritics ([`folded_name`]), on word boundaries:
//! "dự toán" alone decides nothing (every task, an event as much as a purchase, has an estimate);
//! "thuyết minh" is the NĐ 98/2025 dossier (Mẫu 02: thuyết minh nhiệm vụ và dự toán).

use std::sync::OnceLock;

use crate::domain::FundingSource;

use super::names::folded_name;

/// What one line of the rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindTest {
    /// The progress text contains one of the phrases.
    Progress(&'static [&'static str]),
    /// The name contains one of the phrases.
    Name(&'static [&'static str]),
    /// The row's funding source is public investment.
    PublicInvestment,
    /// The row is marked as a rental (`is_rental = true`).
    Rental,
    /// Every row.
    Otherwise,
}

/// One line of the rule, as an administrator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRule {
    pub kind: &'static str,
    /// The condition, in Vietnamese.
    pub when: &'static str,
    pub test: KindTest,
}

/// Progress phrases of an economic-technical report.
pub const KTKT_PHRASES: &[&str] = &[
    "báo cáo KTKT",
    "báo cáo kinh tế kỹ thuật",
    "báo cáo kinh tế - kỹ thuật",
    "BCKTKT",
];
/// Progress phrases of a rental plan (NĐ 73/2019 Điều 53–57).
pub const RENTAL_PLAN_PHRASES: &[&str] = &["kế hoạch thuê"];
/// Progress phrases of a public-investment project.
pub const INVESTMENT_PHRASES: &[&str] =
    &["nghiên cứu khả thi", "chủ trương đầu tư", "báo cáo NCKT"];
/// Progress phrases of the NĐ 98/2025 dossier (Mẫu 02).
pub const EXPLANATION_PHRASES: &[&str] = &["thuyết minh"];
/// Activities that are not procurement: training, events, study trips, audits, operating an
/// existing system, communication campaigns.
pub const ACTIVITY_PHRASES: &[&str] = &[
    "tập huấn",
    "bồi dưỡng",
    "lớp đào tạo",
    "khóa đào tạo",
    "học tập kinh nghiệm",
    "đoàn công tác",
    "diễn đàn",
    "hội thảo",
    "sự kiện",
    "tổ chức ngày",
    "tổ chức hội nghị",
    "kiểm toán",
    "quản trị, vận hành",
    "truyền thông",
    "tuyên truyền",
];
/// Names that announce a software build (economic-technical report, one-step design).
pub const SOFTWARE_BUILD_PHRASES: &[&str] = &[
    "xây dựng phần mềm",
    "xây dựng cơ sở dữ liệu",
    "xây dựng CSDL",
    "xây dựng hệ thống",
];

/// The rule, in the order it is applied.
pub const KIND_RULES: &[KindRule] = &[
    KindRule {
        kind: "bao-cao-ktkt",
        when: "tiến độ nhắc «báo cáo KTKT», «báo cáo kinh tế kỹ thuật» hoặc «BCKTKT»",
        test: KindTest::Progress(KTKT_PHRASES),
    },
    KindRule {
        kind: "thue-dich-vu",
        when: "tiến độ nhắc «kế hoạch thuê» (NĐ 73/2019)",
        test: KindTest::Progress(RENTAL_PLAN_PHRASES),
    },
    KindRule {
        kind: "dau-tu-cong",
        when: "tiến độ nhắc «nghiên cứu khả thi», «chủ trương đầu tư» hoặc «báo cáo NCKT»",
        test: KindTest::Progress(INVESTMENT_PHRASES),
    },
    KindRule {
        kind: "mua-sam",
        when: "tiến độ nhắc «thuyết minh» (thuyết minh nhiệm vụ và dự toán theo NĐ 98/2025; «dự toán» đơn thuần không quyết định)",
        test: KindTest::Progress(EXPLANATION_PHRASES),
    },
    KindRule {
        kind: "hoat-dong",
        when: "tiến độ nhắc tập huấn, bồi dưỡng, đoàn công tác, học tập kinh nghiệm, diễn đàn, hội thảo, sự kiện, «tổ chức ngày», kiểm toán, «quản trị, vận hành», truyền thông, tuyên truyền",
        test: KindTest::Progress(ACTIVITY_PHRASES),
    },
    KindRule {
        kind: "dau-tu-cong",
        when: "nguồn kinh phí đầu tư công (dau_tu_cong)",
        test: KindTest::PublicInvestment,
    },
    KindRule {
        kind: "thue-dich-vu",
        when: "nhiệm vụ thuê dịch vụ (is_rental = true)",
        test: KindTest::Rental,
    },
    KindRule {
        kind: "hoat-dong",
        when: "tên nhiệm vụ nhắc các hoạt động ở dòng 5 (tập huấn, sự kiện, đoàn công tác, kiểm toán, vận hành, truyền thông…)",
        test: KindTest::Name(ACTIVITY_PHRASES),
    },
    KindRule {
        kind: "bao-cao-ktkt",
        when: "tên nhiệm vụ có «xây dựng phần mềm», «xây dựng cơ sở dữ liệu», «xây dựng CSDL» hoặc «xây dựng hệ thống»",
        test: KindTest::Name(SOFTWARE_BUILD_PHRASES),
    },
    KindRule {
        kind: "mua-sam",
        when: "các nhiệm vụ còn lại (mua sắm, nâng cấp, triển khai…)",
        test: KindTest::Otherwise,
    },
];

/// The workflow for a row without an explicit `kind`, and the index of the rule that chose it.
pub fn choose_kind(
    funding: FundingSource,
    is_rental: bool,
    name: &str,
    progress: &str,
) -> (&'static str, usize) {
    choose_kind_folded(
        funding,
        is_rental,
        &folded_name(name),
        &folded_name(progress),
    )
}

/// `-a-b-c-` for a folded text, so that a phrase matches on word boundaries only.
fn bounded(folded: &str) -> String {
    format!("-{folded}-")
}

/// The folded, bounded phrases of each rule (empty for a rule that reads no text).
fn folded_rules() -> &'static [Vec<String>] {
    static FOLDED: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    FOLDED.get_or_init(|| {
        KIND_RULES
            .iter()
            .map(|r| match r.test {
                KindTest::Progress(p) | KindTest::Name(p) => {
                    p.iter().map(|p| bounded(&folded_name(p))).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    })
}

/// [`choose_kind`] for a name and a progress text already folded with [`folded_name`].
pub fn choose_kind_folded(
    funding: FundingSource,
    is_rental: bool,
    folded_name: &str,
    folded_progress: &str,
) -> (&'static str, usize) {
    let name = bounded(folded_name);
    let progress = bounded(folded_progress);
    let folded = folded_rules();
    for (i, rule) in KIND_RULES.iter().enumerate() {
        let any_in = |text: &str| folded[i].iter().any(|p| text.contains(p.as_str()));
        let hit = match rule.test {
            KindTest::Progress(_) => any_in(&progress),
            KindTest::Name(_) => any_in(&name),
            KindTest::PublicInvestment => funding == FundingSource::DauTuCong,
            KindTest::Rental => is_rental,
            KindTest::Otherwise => true,
        };
        if hit {
            return (rule.kind, i);
        }
    }
    unreachable!("the last rule matches every row")
}

/// The rule as text, for `--help` and summaries.
pub fn describe_rules() -> String {
    KIND_RULES
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {} → {}", i + 1, r.when, r.kind))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real rows of Plan 215 (data/plan-215-2025/tasks.csv): appendix-seq, funding, rental, name,
    /// progress text, and the workflow the rule must give.
    const PLAN_215: &[(&str, FundingSource, bool, &str, &str, &str)] = {
        use FundingSource::*;
        &[
            (
                "2-7",
                HoanThanh2025Cntt,
                false,
                "Số hóa và quản lý giám sát hoạt động khai thác tài nguyên khoáng sản",
                "Đang hoàn thiện Báo cáo KTKT, ngày 9/10/2025, Sở KHCN gửi văn bản đề nghị hoàn thiện",
                "bao-cao-ktkt",
            ),
            (
                "2-18",
                HoanThanh2025Cntt,
                false,
                "Nâng cấp, mở rộng tính năng và ứng dụng triển khai trợ lý ảo (AI) phục vụ công tác điều hành",
                "Đang lập báo cáo kinh tế-kỹ thuật",
                "bao-cao-ktkt",
            ),
            (
                "1-14",
                ThuongXuyen,
                true,
                "Thuê dịch vụ triển khai hồ sơ bệnh án điện tử và Đầu tư hạ tầng công nghệ thông tin",
                "Đang lập kế hoạch thuê, phê duyệt nhiệm vụ mua sắm.",
                "thue-dich-vu",
            ),
            (
                "1-5",
                ThuongXuyen,
                true,
                "Thuê hệ thống Hội nghị truyền hình cho UBND cấp xã, phường và đặc khu (phòng hội trường)",
                "Hoàn thành khảo sát hiện trạng, đã lập thuyết minh và dự toán",
                "mua-sam",
            ),
            (
                "3-3",
                SuNghiepCntt,
                true,
                "Thuê dịch vụ công nghệ thông tin Ứng dụng AI nâng cao hiệu quả công tác giải quyết phản ánh",
                "Đang lập thuyết minh dự toán của nhiệm vụ",
                "mua-sam",
            ),
            (
                "3-2",
                SuNghiepCntt,
                false,
                "Tập huấn cho cán bộ, công chức, viên chức, tổ công nghệ số cộng đồng về chuyển đổi số",
                "Hoàn thành tập huấn cho CBCCVC, Tổ CNS cộng đông về chuyển đổi số",
                "hoat-dong",
            ),
            (
                "1-4",
                ThuongXuyen,
                false,
                "Tổ chức Đoàn công tác của Ban chỉ đạo chuyển đổi số thành phố đi học tập kinh nghiệm tại một số đơn vị, địa phương",
                "Đã lập dự toán",
                "hoat-dong",
            ),
            (
                "2-4",
                HoanThanh2025Cntt,
                false,
                "Kiểm toán các nhiệm vụ chuyển đổi số",
                "Đang lập dự toán",
                "hoat-dong",
            ),
            (
                "3-6",
                SuNghiepCntt,
                false,
                "Quản trị, vận hành Dự án chính quyền số thành phố",
                "Hoàn thành, đã thanh toán đợt 1",
                "hoat-dong",
            ),
            (
                "3-20",
                SuNghiepCntt,
                false,
                "Tổ chức ngày Chuyển đổi số của thành phố (26/3) và hưởng ứng ngày chuyển đổi số Quốc gia (10/10)",
                "Đã ký hợp đồng, thực hiện phát động hưởng ứng ngày CĐS quốc gia",
                "hoat-dong",
            ),
            // A rental whose name mentions training stays a rental: the flag outranks the name.
            (
                "3-7",
                SuNghiepCntt,
                true,
                "Thuê dịch vụ công nghệ thông tin “Triển khai hệ thống thông tin giải quyết thủ tục hành chính” và tập huấn khai thác, quản trị vận hành",
                "Hoàn thành",
                "thue-dich-vu",
            ),
            (
                "3-19",
                SuNghiepCntt,
                true,
                "Duy trì, vận hành Trung tâm dữ liệu của tỉnh tại Trung tâm Văn hóa Xứ Đông",
                "Đã được giao nhiệm vụ từ tháng 1/2025. Thực hiện theo tiến độ thường xuyên",
                "thue-dich-vu",
            ),
            (
                "4-1",
                DauTuCong,
                false,
                "Triển khai nâng cấp hạ tầng công nghệ thông tin trong các cơ quan Đảng, Mặt trận Tổ quốc",
                "Đã ký hợp đồng gói thầu chính, đang triển khai thực hiện hợp đồng",
                "dau-tu-cong",
            ),
            (
                "2-14",
                HoanThanh2025Cntt,
                false,
                "Xây dựng phần mềm tuyển chọn, gọi công dân nhập ngũ",
                "Đã hoàn thành nhiệm vụ theo KH của Tây Hải Phòng",
                "bao-cao-ktkt",
            ),
            // "Dự toán" alone does not decide; a strategy is not software.
            (
                "2-3",
                HoanThanh2025Cntt,
                false,
                "Xây dựng chiến lược dữ liệu thành phố Hải Phòng",
                "Đã phê duyệt Dự toán và Kế hoạch lựa chọn nhà thầu",
                "mua-sam",
            ),
            // "Giáo dục và Đào tạo" in a name is not a training.
            (
                "1-9",
                ThuongXuyen,
                true,
                "Triển khai hệ thống Cổng thông tin điện tử ngành Giáo dục và Đào tạo thành phố",
                "Thanh toán theo hợp đồng đã ký kết và khối lượng thực tế",
                "thue-dich-vu",
            ),
            (
                "1-1",
                ThuongXuyen,
                false,
                "Mua bản quyền phần mềm MS Office cho các cơ quan nhà nước thành phố",
                "Đang triển lựa chọn nhà thầu",
                "mua-sam",
            ),
        ]
    };

    #[test]
    fn plan_215_rows_get_the_workflow_their_progress_names() {
        for (row, funding, rental, name, progress, kind) in PLAN_215 {
            assert_eq!(
                choose_kind(*funding, *rental, name, progress).0,
                *kind,
                "row {row}"
            );
        }
    }

    #[test]
    fn the_progress_text_outranks_the_funding_and_the_name() {
        use FundingSource::*;
        // A public-investment task preparing an economic-technical report runs on bao-cao-ktkt.
        assert_eq!(
            choose_kind(
                DauTuCong,
                false,
                "Xây dựng phần mềm",
                "Đang lập báo cáo KTKT"
            ),
            ("bao-cao-ktkt", 0)
        );
        assert_eq!(
            choose_kind(
                ThuongXuyen,
                false,
                "Nâng cấp cổng",
                "Trình chủ trương đầu tư"
            ),
            ("dau-tu-cong", 2)
        );
        // Without a telling progress text, the old order: funding, rental flag, name.
        assert_eq!(
            choose_kind(DauTuCong, true, "Xây dựng phần mềm", "").0,
            "dau-tu-cong"
        );
        assert_eq!(
            choose_kind(
                ThuongXuyen,
                true,
                "Xây dựng cơ sở dữ liệu kinh tế - xã hội",
                ""
            )
            .0,
            "thue-dich-vu"
        );
        assert_eq!(
            choose_kind(HoanThanh2025Cntt, false, "XÂY DỰNG CSDL công chứng", "").0,
            "bao-cao-ktkt"
        );
        // Word boundaries: "hệ thống" must follow "xây dựng" directly.
        assert_eq!(
            choose_kind(ThuongXuyen, false, "Mua bản quyền phần mềm MS Office", "").0,
            "mua-sam"
        );
    }

    #[test]
    fn every_rule_is_described_and_reachable() {
        let text = describe_rules();
        assert!(text.starts_with("1. tiến độ nhắc «báo cáo KTKT»"));
        assert!(text.contains(&format!("{}. các nhiệm vụ còn lại", KIND_RULES.len())));
        let mut reached = vec![false; KIND_RULES.len()];
        for (_, funding, rental, name, progress, _) in PLAN_215 {
            reached[choose_kind(*funding, *rental, name, progress).1] = true;
        }
        // Rule 3 (a feasibility study in the progress text) has no Plan 215 row.
        reached[2] = true;
        assert!(reached.iter().all(|r| *r), "{reached:?}");
    }
}
