//! The official progress report UBND signs, as DOCX (issue 16), on SQLite and PostgreSQL by the
//! same test code: the NĐ 30/2020 form's parts in order (header, motto, place and date, title,
//! basis, body, 5. Khó khăn, vướng mắc, 6. Đề xuất, kiến nghị, closing, Nơi nhận, signature,
//! appendices), page size and margins, a round's number, difficulties and proposals, SKHCN's
//! drafts, figures as of the date, deterministic bytes; and the document converted to PDF by
//! LibreOffice headless. The DOCX is read back with the zip crate and its XML.

mod common;

use std::io::Read as _;

use adapters::report::{self, Format, ProgressParams};
use common::plans::{PLAN, at, data, import_command, imported, report_command, task_named};
use common::{TestDb, actor, ok};
use engine::Role;
use engine::domain::UnitId;
use engine::plan::budget::YearBudget;
use engine::round::{
    Difficulty, DifficultyKind, DraftSection, Entry, Proposal, RoundReport, RoundSpec, Signer,
};

on_both_backends!(
    the_official_report_has_the_forms_parts_in_order,
    the_official_report_prints_a_rounds_difficulties_and_proposals,
    the_official_report_as_of_a_date_ignores_a_later_budget_change,
);

fn day(s: &str) -> chrono::NaiveDate {
    engine::time::parse_date(s).unwrap()
}

fn params(as_of: &str) -> ProgressParams {
    ProgressParams {
        plan: PLAN.into(),
        year: None,
        as_of: day(as_of),
        units: None,
    }
}

/// A part of the DOCX archive as text.
fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip archive");
    let mut f = zip.by_name(name).unwrap_or_else(|_| panic!("no {name}"));
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every paragraph of the document in order: its text and its XML.
fn paragraphs(bytes: &[u8]) -> Vec<(String, String)> {
    let xml = part(bytes, "word/document.xml");
    xml.split("</w:p>")
        .map(|chunk| {
            let start = chunk.rfind("<w:p ").or_else(|| chunk.rfind("<w:p>"));
            let p = start.map_or(chunk, |s| &chunk[s..]);
            let mut text = String::new();
            let mut rest = p;
            while let Some(i) = rest.find("<w:t") {
                let after = &rest[i..];
                // <w:t>, <w:t xml:space="preserve">, but not <w:tbl…>, <w:tc…>, <w:tr…>.
                let Some(close) = after.find('>') else { break };
                let tag = &after[..close];
                if tag == "<w:t" || tag.starts_with("<w:t ") {
                    let body = &after[close + 1..];
                    let end = body.find("</w:t>").unwrap_or(body.len());
                    text.push_str(&unescape(&body[..end]));
                    rest = &body[end..];
                } else {
                    rest = &after[close..];
                }
            }
            (text, p.to_string())
        })
        .collect()
}

fn texts(bytes: &[u8]) -> Vec<String> {
    paragraphs(bytes).into_iter().map(|(t, _)| t).collect()
}

/// The index of the first paragraph at or after `from` that `pred` accepts.
fn find(texts: &[String], from: usize, what: &str, pred: impl Fn(&str) -> bool) -> usize {
    texts[from..]
        .iter()
        .position(|t| pred(t))
        .map(|i| i + from)
        .unwrap_or_else(|| {
            panic!(
                "no paragraph {what} after paragraph {from}; paragraphs:\n{}",
                texts.join("\n")
            )
        })
}

/// Asserts the paragraphs appear in this order, each exactly (`=text`) or as a prefix.
fn in_order(texts: &[String], expected: &[&str]) -> Vec<usize> {
    let mut at = 0;
    let mut found = Vec::new();
    for e in expected {
        let i = match e.strip_prefix('=') {
            Some(exact) => find(texts, at, e, |t| t == exact),
            None => find(texts, at, e, |t| t.starts_with(e)),
        };
        found.push(i);
        at = i + 1;
    }
    found
}

/// The form's parts on a plain import (no round), through the command line exactly as the
/// README gives it; the same document twice is the same bytes.
async fn the_official_report_has_the_forms_parts_in_order(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    ok(&import_command(&db, dir.path(), &data("tasks.csv"), &[]));
    let out_path = dir.path().join("bao-cao.docx");
    let o = out_path.display().to_string();
    let args = ["--format", "docx", "-o", &o];
    let out = ok(&report_command(
        &db,
        dir.path(),
        "progress",
        "2025-11-05",
        &args,
    ));
    assert!(out.contains("Đã ghi báo cáo tiến độ (docx"), "{out}");
    let bytes = std::fs::read(&out_path).unwrap();
    let t = texts(&bytes);
    in_order(
        &t,
        &[
            "=UBND THÀNH PHỐ HẢI PHÒNG",
            "=SỞ KHOA HỌC VÀ CÔNG NGHỆ",
            "=Số: ……/BC-SKHCN",
            "=CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "=Độc lập - Tự do - Hạnh phúc",
            "=Hải Phòng, ngày 05 tháng 11 năm 2025",
            "=BÁO CÁO",
            "=Tiến độ thực hiện Kế hoạch số 215/KH-UBND của UBND thành phố",
            "Sở Khoa học và Công nghệ báo cáo tiến độ thực hiện Kế hoạch số 215/KH-UBND của UBND thành phố, số liệu tính đến ngày 05/11/2025",
            "=Kế hoạch được phê duyệt có tổng số 64 nhiệm vụ trong 4 phụ lục, với tổng nhu cầu kinh phí năm 2025 là: 348,548 tỷ đồng.",
            "=1. Phụ lục 1: DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN",
            "- Tổng số ",
            "2. Phụ lục 2: ",
            "=3. Phụ lục 3: DANH MỤC NHIỆM VỤ SỬ DỤNG KINH PHÍ SỰ NGHIỆP CÔNG NGHỆ THÔNG TIN",
            "=4. Phụ lục 4: DANH MỤC DỰ ÁN ĐẦU TƯ CÔNG",
            "=5. Khó khăn, vướng mắc",
            "=Không có đơn vị nào báo cáo khó khăn, vướng mắc.",
            "=6. Đề xuất, kiến nghị",
            // The import's pending proposal (a unit's letter waiting for UBND), no round's.
            "=- Đề nghị UBND thành phố xem xét, quyết định 1 đề xuất tạm hoãn, rút khỏi kế hoạch của các đơn vị nêu tại các mục trên (chi tiết tại phụ lục «Đề xuất chờ quyết định»).",
            "=Sở Khoa học và Công nghệ kính báo cáo UBND thành phố./.",
            "=Nơi nhận:",
            "=- UBND thành phố (để báo cáo);",
            "=GIÁM ĐỐC",
            "=PHỤ LỤC 1",
            "=DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN",
            "=(Kèm theo Báo cáo tiến độ thực hiện Kế hoạch số 215/KH-UBND; số liệu tính đến ngày 05/11/2025)",
            "=Đơn vị tính: Triệu đồng",
            "=Tiến độ tính đến 05/11/2025",
            "=Sở Khoa học và Công nghệ",
            "=Mua bản quyền phần mềm MS Office cho các cơ quan nhà nước thành phố",
            "=TỔNG",
            "=PHỤ LỤC 2",
            "=PHỤ LỤC 3",
            "=PHỤ LỤC 4",
            "Đề xuất của đơn vị chờ UBND thành phố quyết định: 1 nhiệm vụ",
        ],
    );
    assert!(
        !t.iter()
            .any(|p| p.starts_with("Tiến độ thực hiện") && p.contains("lần ")),
        "no round, no «lần»"
    );
    // The pending proposal is named with its letter in its appendix's account.
    assert!(
        t.iter()
            .any(|p| p.starts_with("- Đề xuất ") && p.contains("chờ UBND thành phố quyết định")),
        "{t:#?}"
    );

    // The form: A4 portrait with NĐ 30's margins, the appendices landscape; Times New Roman;
    // bold issuer, bold underlined motto, italic place and date.
    let xml = part(&bytes, "word/document.xml");
    assert!(
        xml.contains(r#"<w:pgSz w:w="11906" w:h="16838""#),
        "A4 portrait"
    );
    assert!(
        xml.contains(r#"<w:pgMar w:top="1134" w:right="850" w:bottom="1134" w:left="1701""#),
        "NĐ 30 margins"
    );
    assert!(xml.contains(r#"<w:pgSz w:w="16838" w:h="11906" w:orient="landscape""#));
    assert!(part(&bytes, "word/styles.xml").contains(r#"w:ascii="Times New Roman""#));
    let ps = paragraphs(&bytes);
    let xml_of = |text: &str| {
        ps.iter()
            .find(|(t, _)| t == text)
            .map(|(_, x)| x.clone())
            .unwrap()
    };
    assert!(xml_of("SỞ KHOA HỌC VÀ CÔNG NGHỆ").contains("<w:b />"));
    let motto = xml_of("Độc lập - Tự do - Hạnh phúc");
    assert!(motto.contains("<w:b />") && motto.contains(r#"<w:u w:val="single" />"#));
    assert!(xml_of("Hải Phòng, ngày 05 tháng 11 năm 2025").contains("<w:i />"));
    let title = xml_of("BÁO CÁO");
    assert!(title.contains("<w:b />") && title.contains(r#"<w:sz w:val="28" />"#));
    let nhan = xml_of("Nơi nhận:");
    assert!(nhan.contains("<w:b />") && nhan.contains("<w:i />"));
    assert!(nhan.contains(r#"<w:sz w:val="24" />"#));

    // Made again: the same bytes.
    ok(&report_command(
        &db,
        dir.path(),
        "progress",
        "2025-11-05",
        &args,
    ));
    assert_eq!(std::fs::read(&out_path).unwrap(), bytes);

    // docx is for the progress report only, and needs a file.
    let refused = report_command(
        &db,
        dir.path(),
        "status",
        "2025-11-05",
        &["--format", "docx", "-o", &o],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("chỉ dành cho báo cáo tiến độ"));
    let no_file = report_command(
        &db,
        dir.path(),
        "progress",
        "2025-11-05",
        &["--format", "docx"],
    );
    assert!(!no_file.status.success());
    assert!(String::from_utf8_lossy(&no_file.stderr).contains("-o TỆP.docx"));
}

fn unit(s: &str) -> UnitId {
    UnitId::parse(s).unwrap()
}

/// A round's number, instruction, number, signer, every unit's difficulty grouped by kind then
/// unit, proposals with their letters; a draft replaces its section.
async fn the_official_report_prints_a_rounds_difficulties_and_proposals(db: TestDb) {
    let store = db.store().await;
    imported(&store, false).await;
    let plan = store.directory().plan(PLAN).await.unwrap();
    let rows = store
        .reports()
        .report_rows(Some(&plan.id), engine::time::end_of_day(day("2025-11-05")))
        .await
        .unwrap();
    let names = store
        .reports()
        .unit_names_on(day("2025-11-05"))
        .await
        .unwrap();
    // One task of each of three units.
    let mut picked: Vec<(String, String, String)> = Vec::new();
    for r in &rows {
        if picked.iter().all(|p| p.1 != r.unit_id) {
            picked.push((r.task_id.clone(), r.unit_id.clone(), r.name.clone()));
        }
        if picked.len() == 3 {
            break;
        }
    }
    let entry =
        |i: usize, kind: DifficultyKind, text: &str, proposal: Option<(&str, &str)>| Entry {
            task_id: picked[i].0.clone(),
            unit: unit(&picked[i].1),
            progress: "Đang hoàn thiện hồ sơ".into(),
            difficulties: vec![Difficulty {
                kind,
                text: text.into(),
            }],
            proposals: proposal
                .map(|(text, letter)| Proposal {
                    text: text.into(),
                    letter: Some(letter.into()),
                })
                .into_iter()
                .collect(),
        };
    let mut round = RoundReport {
        spec: Some(RoundSpec {
            number: 2,
            cut_off: day("2025-11-05"),
            instruction: "Thông báo số 620/TB-VP ngày 20/10/2025 của Văn phòng UBND thành phố"
                .into(),
            units_due: day("2025-11-03"),
        }),
        doc_number: Some("512".into()),
        signer: Some(Signer {
            on_behalf: "KT. GIÁM ĐỐC".into(),
            title: "PHÓ GIÁM ĐỐC".into(),
            name: "Nguyễn Văn Thử".into(),
        }),
        entries: vec![
            entry(
                0,
                DifficultyKind::KinhPhi,
                "Chưa được bố trí vốn năm 2025.",
                Some((
                    "Đề nghị bố trí vốn đợt 2",
                    "Công văn số 123/SKHCN-KHTC ngày 01/11/2025",
                )),
            ),
            entry(
                1,
                DifficultyKind::ThuTuc,
                "Hồ sơ thuyết minh phải hoàn thiện lần 2, đơn vị còn lúng túng với Mẫu 02",
                None,
            ),
            entry(
                2,
                DifficultyKind::KinhPhi,
                "Dự toán vượt nhu cầu đã đăng ký",
                Some((
                    "Đề xuất rút khỏi Kế hoạch 215",
                    "Văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025",
                )),
            ),
        ],
        drafts: Default::default(),
    };
    let r = report::official(&store, &params("2025-11-05"), &round)
        .await
        .unwrap();
    assert_eq!(
        r.content_type,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert_eq!(r.file_name, "bao-cao-tien-do-215-KH-UBND-2025-11-05.docx");
    let t = texts(&r.bytes);
    let name_of = |i: usize| names.get(&picked[i].1).cloned().unwrap();
    let at = in_order(
        &t,
        &[
            "=Số: 512/BC-SKHCN",
            "=Tiến độ thực hiện Kế hoạch số 215/KH-UBND của UBND thành phố (lần 2)",
            "=Thực hiện Thông báo số 620/TB-VP ngày 20/10/2025 của Văn phòng UBND thành phố, Sở Khoa học và Công nghệ báo cáo tiến độ thực hiện Kế hoạch số 215/KH-UBND của UBND thành phố, số liệu tính đến ngày 05/11/2025, như sau:",
            "=5. Khó khăn, vướng mắc",
            "=a) Về thủ tục, hồ sơ và thẩm định:",
            &format!(
                "=- {}: Hồ sơ thuyết minh phải hoàn thiện lần 2, đơn vị còn lúng túng với Mẫu 02 (nhiệm vụ «{}»).",
                name_of(1),
                picked[1].2
            ),
            "=b) Về kinh phí:",
            "=6. Đề xuất, kiến nghị",
            "=Sở Khoa học và Công nghệ kính báo cáo UBND thành phố./.",
            "=Nơi nhận:",
            "=KT. GIÁM ĐỐC",
            "=PHÓ GIÁM ĐỐC",
            "=Nguyễn Văn Thử",
            "=PHỤ LỤC 1",
        ],
    );
    // Both units of «Về kinh phí», between b) and 6., by unit id.
    let (b, six) = (at[6], at[7]);
    let kinh_phi: Vec<&String> = t[b + 1..six].iter().collect();
    let mut expected = [
        (
            picked[0].1.clone(),
            format!(
                "- {}: Chưa được bố trí vốn năm 2025 (nhiệm vụ «{}»).",
                name_of(0),
                picked[0].2
            ),
        ),
        (
            picked[2].1.clone(),
            format!(
                "- {}: Dự toán vượt nhu cầu đã đăng ký (nhiệm vụ «{}»).",
                name_of(2),
                picked[2].2
            ),
        ),
    ];
    expected.sort();
    assert_eq!(
        kinh_phi,
        expected.iter().map(|e| &e.1).collect::<Vec<_>>(),
        "{t:#?}"
    );
    // Proposals with their letters, in section 6.
    let six_end = at[8];
    let props = &t[six + 1..six_end];
    assert!(props.contains(&format!(
        "- {}: Đề nghị bố trí vốn đợt 2 (nhiệm vụ «{}»; Công văn số 123/SKHCN-KHTC ngày 01/11/2025).",
        name_of(0),
        picked[0].2
    )), "{props:#?}");
    assert!(
        props
            .iter()
            .any(|p| p.contains("Văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025"))
    );

    // SKHCN's draft replaces the generated section; the others stay generated.
    round.drafts.insert(
        DraftSection::KhoKhan,
        "Các đơn vị còn lúng túng với hồ sơ theo Nghị định 98/2025/NĐ-CP.\nMột số nhiệm vụ chưa được bố trí vốn.".into(),
    );
    let r = report::official(&store, &params("2025-11-05"), &round)
        .await
        .unwrap();
    let t = texts(&r.bytes);
    in_order(
        &t,
        &[
            "=5. Khó khăn, vướng mắc",
            "=Các đơn vị còn lúng túng với hồ sơ theo Nghị định 98/2025/NĐ-CP.",
            "=Một số nhiệm vụ chưa được bố trí vốn.",
            "=6. Đề xuất, kiến nghị",
            "- ",
        ],
    );
    assert!(!t.iter().any(|p| p.contains("Dự toán vượt nhu cầu")));

    // The same through the progress door: docx without a round.
    let plain = report::progress(&store, &params("2025-11-05"), Format::Docx)
        .await
        .unwrap();
    assert!(
        texts(&plain.bytes)
            .contains(&"Không có đơn vị nào báo cáo khó khăn, vướng mắc.".to_string())
    );
}

/// Regenerated as of 05/11/2025 after a budget change dated later (known from 20/11/2025,
/// recorded on 01/12/2025), the document is the same, byte for byte; as of 02/12/2025 it shows
/// the change.
async fn the_official_report_as_of_a_date_ignores_a_later_budget_change(db: TestDb) {
    let store = db.store().await;
    imported(&store, false).await;
    let before = report::official(&store, &params("2025-11-05"), &RoundReport::default())
        .await
        .unwrap()
        .bytes;
    let task = task_named(&store, "Mua bản quyền phần mềm MS Office").await;
    let skhcn = actor("chuyenvien.skhcn", Role::Skhcn, &[]);
    store
        .plans()
        .set_budget_as(
            &skhcn,
            &task,
            2025,
            YearBudget {
                need_total_vnd: Some(9_876_500_000),
                need_year_vnd: Some(9_876_500_000),
                ..YearBudget::default()
            },
            Some(day("2025-11-20")),
            at("2025-12-01T09:00:00+07:00"),
        )
        .await
        .unwrap();
    let again = report::official(&store, &params("2025-11-05"), &RoundReport::default())
        .await
        .unwrap()
        .bytes;
    assert_eq!(texts(&again), texts(&before));
    assert_eq!(again, before, "the same bytes");
    let later = report::official(&store, &params("2025-12-02"), &RoundReport::default())
        .await
        .unwrap()
        .bytes;
    assert!(
        texts(&later).contains(&"9.876,5".to_string()),
        "the change shows later"
    );
    assert!(!texts(&before).contains(&"9.876,5".to_string()));
}

/// LibreOffice opens the document and prints it: a PDF with pages. Without `soffice` the test
/// is skipped on a workstation and fails in CI (`CI=true`, where `.ci/run` installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn libreoffice_converts_the_official_report_to_a_pdf_with_pages() {
    let soffice = ["soffice", "libreoffice"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(soffice) = soffice else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "LibreOffice (soffice) is missing in CI: .ci/run installs libreoffice-writer-nogui"
            );
        }
        eprintln!("skipped: LibreOffice (soffice) is not installed");
        return;
    };
    let db = TestDb::sqlite().await;
    let store = db.store().await;
    imported(&store, false).await;
    let r = report::official(&store, &params("2025-11-05"), &RoundReport::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("bao-cao.docx");
    std::fs::write(&docx, &r.bytes).unwrap();
    let profile = format!("-env:UserInstallation=file://{}/lo", dir.path().display());
    let out = std::process::Command::new(soffice)
        .args([
            &profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            &dir.path().display().to_string(),
            &docx.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "soffice failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pdf = std::fs::read(dir.path().join("bao-cao.pdf")).expect("a PDF came out");
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let pages = count(&pdf, b"/Type/Page") + count(&pdf, b"/Type /Page")
        - count(&pdf, b"/Type/Pages")
        - count(&pdf, b"/Type /Pages");
    // The letter (at least two portrait pages for Plan 215) and the four appendices.
    assert!(pages >= 6, "{pages} pages");
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
