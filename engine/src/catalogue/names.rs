//! Names as a re-import matches them: folded task names, the key that finds a row's task again,
//! and the spellings of a unit across a file.
//!
//! **Matching key.** A row is the same task as an earlier import when plan, appendix, unit id
//! ([`UnitId::from_name`], so "Ủy"/"Uỷ" and "hóa"/"hoá" agree) and the normalised task name
//! (diacritics, case, punctuation and spacing folded) agree. A renamed task is therefore a new
//! task; the old one stays in the plan, untouched, for a person to withdraw or merge.
//!
//! **Unit names.** A new unit is named with the spelling most rows of the file use (ties: the
//! first one seen); every row keeps its own spelling (`tasks.unit_printed`) and the import
//! summary lists the variants. An existing unit keeps its name.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::row::CatalogueRow;
use crate::domain::UnitId;

/// A task name folded for matching: case, diacritics, punctuation and spacing removed
/// ("Kỳ họp số HĐND" and "kỳ họp  số HDND" agree). The same fold as [`UnitId::from_name`] (so
/// task and unit names fold alike) without the unit id's 100-character limit: ASCII is folded
/// here directly, and each other character as `from_name` folds it (looked up once per run).
pub fn folded_name(name: &str) -> String {
    use std::collections::HashMap as Map;
    use std::sync::{Mutex, OnceLock};
    /// How `from_name` treats a non-ASCII character: letters it becomes, a separator, or nothing
    /// (a combining accent).
    #[derive(Clone)]
    enum Fold {
        Letters(String),
        Separator,
        Skip,
    }
    static FOLDS: OnceLock<Mutex<Map<char, Fold>>> = OnceLock::new();
    let fold_of = |c: char| -> Fold {
        let folds = FOLDS.get_or_init(|| Mutex::new(Map::new()));
        let mut folds = folds.lock().unwrap_or_else(|e| e.into_inner());
        folds
            .entry(c)
            .or_insert_with(|| {
                // Between two letters, from_name shows what it does with `c`.
                let probe = UnitId::from_name(&format!("a{c}a"));
                let middle = &probe.as_str()[1..probe.as_str().len() - 1];
                match middle {
                    "" => Fold::Skip,
                    "-" => Fold::Separator,
                    m => Fold::Letters(m.to_string()),
                }
            })
            .clone()
    };
    let mut out = String::with_capacity(name.len());
    let separator = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    };
    for c in name.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else {
                separator(&mut out);
            }
        } else {
            match fold_of(c) {
                Fold::Letters(l) => out.push_str(&l),
                Fold::Separator => separator(&mut out),
                Fold::Skip => {}
            }
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The key that finds a row's task again on a later import: sha256 of the appendix, the unit's
/// canonical id and the folded task name, in hex. The plan is the other half of the stored
/// unique key.
pub fn task_key(appendix: u8, unit_id: &UnitId, name: &str) -> String {
    key_of_folded(appendix, unit_id, &folded_name(name))
}

/// [`task_key`] for a name already folded with [`folded_name`].
pub(super) fn key_of_folded(appendix: u8, unit_id: &UnitId, folded: &str) -> String {
    let digest = Sha256::digest(format!("{appendix}\n{unit_id}\n{folded}").as_bytes());
    hex::encode(digest)
}

/// The spellings of each unit in a catalogue, most used first (ties: first seen): the first is
/// the name a new unit gets.
pub fn unit_spellings(rows: &[CatalogueRow]) -> Vec<(UnitId, Vec<(String, usize)>)> {
    let mut order: Vec<UnitId> = Vec::new();
    let mut spellings: HashMap<UnitId, Vec<(String, usize)>> = HashMap::new();
    for r in rows {
        let list = spellings.entry(r.unit_id.clone()).or_insert_with(|| {
            order.push(r.unit_id.clone());
            Vec::new()
        });
        match list.iter_mut().find(|(s, _)| *s == r.unit) {
            Some((_, n)) => *n += 1,
            None => list.push((r.unit.clone(), 1)),
        }
    }
    order
        .into_iter()
        .map(|id| {
            let mut list = spellings.remove(&id).unwrap_or_default();
            // Stable: equal counts keep first-seen order.
            list.sort_by_key(|s| std::cmp::Reverse(s.1));
            (id, list)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_for_matching() {
        assert_eq!(
            folded_name("Kỳ họp số di động HDND  thành phố"),
            folded_name("kỳ họp số di động HĐND thành phố")
        );
        assert_eq!(folded_name("(AI) 2022-2025"), "ai-2022-2025");
        // Long names fold completely, exactly as a whole-string fold would.
        let long = "Quản trị, vận hành các Hệ thống: Hệ thống thông tin giải quyết thủ tục hành chính thành phố; Chuyên trang Chuyển đổi số thành phố Hải Phòng; Cổng Thông tin điện tử";
        let folded = folded_name(long);
        assert!(folded.ends_with("cong-thong-tin-dien-tu"), "{folded}");
        assert!(
            folded.starts_with("quan-tri-van-hanh-cac-he-thong-he-thong"),
            "{folded}"
        );
        assert!(!folded.contains("--"));
        for short in [
            "Sở Văn hoá, Thể thao và Du lịch",
            "Văn phòng Đoàn ĐBQH&HĐND thành phố",
            "Triển khai bản đồ số “Thanh niên Hải Phòng vì một Việt Nam xanh”",
            "Sở Y te\u{301} – Đà Nẵng",
            "  --Ủy ban__nhân dân (AI)--  ",
        ] {
            assert_eq!(
                folded_name(short),
                UnitId::from_name(short).as_str(),
                "{short}"
            );
        }
        assert_eq!(folded_name(&"x".repeat(250)).len(), 250);
        assert_ne!(
            task_key(1, &UnitId::from_name("Sở Y tế"), "A"),
            task_key(2, &UnitId::from_name("Sở Y tế"), "A")
        );
    }

    #[test]
    fn keys_are_the_stored_ones() {
        // Keys are stored in `tasks.source_key`: a change of the key would duplicate every task
        // of an earlier import on the next one. sha256("1\nso-y-te\nmua-may-chu").
        assert_eq!(
            task_key(1, &UnitId::from_name("Sở Y tế"), "Mua máy chủ"),
            "eaf50ad01860f131f3c5cc06d568ff599f634a5dc4f49fb4a692f0e6d5cdafa6"
        );
    }
}
