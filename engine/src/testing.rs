//! Fixtures for the engine's tests: the shipped calendars and workflows, read at compile time.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calendar::Calendar;
use crate::workflow::{Catalog, Source};

/// Every calendar and workflow in the shipped `workflows/` folder, read when the tests run: a
/// workflow added there later (`hoat-dong.toml`, …) is walked by every test that walks the
/// catalogue, without a list to keep up to date.
pub fn shipped_sources() -> Vec<Source> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut sources = Vec::new();
    for dir in ["calendars", ""] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("the workflows folder is readable")
            .map(|e| e.expect("a readable entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            sources.push(Source {
                path: if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                },
                text: std::fs::read_to_string(&f).expect("a readable workflow file"),
            });
        }
    }
    sources
}

pub fn calendars() -> BTreeMap<String, Arc<Calendar>> {
    Catalog::load_calendars(&shipped_sources()).expect("shipped calendars are valid")
}

pub fn catalog() -> Catalog {
    match Catalog::load(&shipped_sources()) {
        Ok(c) => c,
        Err(errors) => panic!(
            "shipped workflows are invalid:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A small valid workflow: draft, explanation, appraisal with a paused clock, and both ends.
pub const SMALL: &str = r#"
name = "thu-nghiem"
title = "Quy trình thử nghiệm"
version = 1
legal_basis = ["Nghị định 98/2025/NĐ-CP"]
applies_from = 2025-05-06
calendar = "vn"
initial = "du_thao"

[document_types]
thuyet_minh_du_toan = "Thuyết minh nhiệm vụ và dự toán"
van_ban_y_kien = "Văn bản cho ý kiến"

[[states]]
name = "du_thao"
phase = "proposed"
title = "Đơn vị dự thảo"
roles = ["don_vi"]

[[states]]
name = "thuyet_minh"
phase = "explanation_and_estimate"
title = "Lập thuyết minh"
roles = ["don_vi"]

[[states]]
name = "tham_dinh"
phase = "appraisal"
title = "Thẩm định"
roles = ["so_tai_chinh"]
  [states.deadline]
  working_days = 15
  kind = "statutory"
  source = "Thông tư 03/2020/TT-BTTTT"
  pause_in = ["bo_sung"]

[[states]]
name = "bo_sung"
phase = "explanation_and_estimate"
title = "Bổ sung hồ sơ"
roles = ["don_vi"]

[[states]]
name = "lua_chon"
phase = "contractor_selection"
title = "Lựa chọn nhà thầu"
roles = ["don_vi"]

[[states]]
name = "hop_dong"
phase = "contract"
title = "Thực hiện hợp đồng"
roles = ["don_vi"]

[[states]]
name = "nghiem_thu"
phase = "acceptance"
title = "Nghiệm thu"
roles = ["thu_truong_don_vi"]

[[states]]
name = "hoan_thanh"
phase = "completed"
title = "Hoàn thành"

[[states]]
name = "rut"
phase = "withdrawn"
title = "Rút khỏi kế hoạch"

[[transitions]]
name = "lap_thuyet_minh"
title = "Lập thuyết minh"
from = "du_thao"
to = "thuyet_minh"
roles = ["don_vi"]
own_unit = true

[[transitions]]
name = "trinh"
title = "Trình thẩm định"
from = ["thuyet_minh", "bo_sung"]
to = "tham_dinh"
roles = ["don_vi"]
own_unit = true
documents = ["thuyet_minh_du_toan"]

[[transitions]]
name = "tra_lai"
title = "Trả lại bổ sung"
from = "tham_dinh"
to = "bo_sung"
roles = ["so_tai_chinh"]
documents = ["van_ban_y_kien"]
comment_required = true
max_repeats = 2

[[transitions]]
name = "ket_thuc"
title = "Kết thúc"
from = "tham_dinh"
to = "rut"
roles = ["ubnd"]

[[transitions]]
name = "dat"
title = "Thông qua"
from = "tham_dinh"
to = "lua_chon"
roles = ["so_tai_chinh"]

[[transitions]]
name = "ky_hop_dong"
title = "Ký hợp đồng"
from = "lua_chon"
to = "hop_dong"
roles = ["don_vi"]
own_unit = true

[[transitions]]
name = "ban_giao"
title = "Bàn giao, đề nghị nghiệm thu"
from = "hop_dong"
to = "nghiem_thu"
roles = ["don_vi"]
own_unit = true

[[transitions]]
name = "nghiem_thu_xong"
title = "Nghiệm thu hoàn thành"
from = "nghiem_thu"
to = "hoan_thanh"
roles = ["thu_truong_don_vi"]
own_unit = true
"#;

/// [`SMALL`], parsed; `edit` rewrites the text first.
pub fn small_with(edit: impl Fn(&str) -> String) -> crate::workflow::Workflow {
    crate::workflow::parse_workflow("thu-nghiem.toml", &edit(SMALL), &calendars())
        .expect("fixture is valid")
}

/// The mapping of every state of [`SMALL`] version 1 onto version 2: the same names, except that
/// a dossier waiting for more documents goes back to the explanation.
pub const SMALL_V2_MIGRATION: &str = r#"
[[migrate_from]]
version = 1
states = { du_thao = "du_thao", thuyet_minh = "thuyet_minh", tham_dinh = "tham_dinh", bo_sung = "thuyet_minh", lua_chon = "lua_chon", hop_dong = "hop_dong", nghiem_thu = "nghiem_thu", hoan_thanh = "hoan_thanh", rut = "rut" }
"#;

/// [`SMALL`] as version 2 with `migration` appended.
pub fn small_v2(migration: &str) -> String {
    format!("{}{migration}", SMALL.replace("version = 1", "version = 2"))
}

/// A catalog of [`SMALL`] version 1 and `v2` (with the shipped calendars).
pub fn small_versions(v2: &str) -> Result<Catalog, Vec<crate::workflow::LoadError>> {
    let mut sources: Vec<Source> = shipped_sources()
        .into_iter()
        .filter(|s| s.is_calendar())
        .collect();
    sources.push(Source {
        path: "thu-nghiem.toml".into(),
        text: SMALL.to_string(),
    });
    sources.push(Source {
        path: "thu-nghiem-v2.toml".into(),
        text: v2.to_string(),
    });
    Catalog::load(&sources)
}
