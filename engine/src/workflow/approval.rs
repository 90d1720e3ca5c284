//! Who approves: an approval authority declared as data (`[approvals.NAME]` in a workflow file)
//! and resolved per task.
//!
//! Under NĐ 98/2025 and NQ 11/2025/NQ-HĐND a unit approves its own task and estimate (Mẫu 02)
//! before Sở Tài chính appraises it; a department has approved a rental plan itself (416/QĐ-STTTT);
//! a unit spending its own revenue approves its own economic-technical report. Which role — and in
//! which unit — must take an approval transition therefore depends on the task: its funding source,
//! its amount and whether it spends the unit's own fund. A rule list says so; the first rule whose
//! conditions all hold names the authority, else the default does. The thresholds are not
//! confirmed: they are data an administrator changes in the file.

use crate::domain::FundingSource;
use crate::role::Role;

/// One declared approval authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub name: String,
    pub title: String,
    /// Tried in order; the first whose conditions all hold decides.
    pub rules: Vec<ApprovalRule>,
    /// Who approves when no rule matches.
    pub default: Authority,
    /// Where the default comes from (a legal source, or "chưa xác nhận").
    pub default_source: Option<String>,
}

/// A rule: conditions on the task, and the authority when they all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    /// The task's funding source is one of these (empty: any).
    pub funding: Vec<FundingSource>,
    /// The task's own-fund flag equals this (absent: either).
    pub own_fund: Option<bool>,
    /// The task's amount (its total need, in đồng) is at least this. A task without an amount
    /// matches no amount condition.
    pub amount_at_least: Option<i64>,
    /// The task's amount is below this.
    pub amount_below: Option<i64>,
    pub authority: Authority,
    /// The legal source of the rule, or why it is only data ("chưa xác nhận").
    pub source: Option<String>,
}

/// A role, in a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub role: Role,
    pub unit: AuthorityUnit,
}

/// Which unit the approving role must belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityUnit {
    /// Any: a city-wide role (UBND, a department acting for the city).
    Any,
    /// The task's own unit (`unit = "own"`).
    Own,
    /// A named unit (`unit = "so-tai-chinh"`).
    Named(String),
}

/// What a rule looks at on one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalFacts<'a> {
    /// The owning unit.
    pub unit: &'a str,
    pub funding: Option<FundingSource>,
    pub own_fund: bool,
    /// The task's total need in đồng, if known.
    pub amount_vnd: Option<i64>,
}

/// The authority resolved for one task: the role, and the unit it must act in (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub approval: String,
    pub role: Role,
    pub unit: Option<String>,
    /// The index of the rule that matched; `None` for the default.
    pub rule: Option<usize>,
    pub source: Option<String>,
}

impl ApprovalRule {
    pub fn matches(&self, f: &ApprovalFacts<'_>) -> bool {
        let funding_ok =
            self.funding.is_empty() || f.funding.is_some_and(|s| self.funding.contains(&s));
        let own_ok = self.own_fund.is_none_or(|o| o == f.own_fund);
        let at_least_ok = self
            .amount_at_least
            .is_none_or(|min| f.amount_vnd.is_some_and(|a| a >= min));
        let below_ok = self
            .amount_below
            .is_none_or(|max| f.amount_vnd.is_some_and(|a| a < max));
        funding_ok && own_ok && at_least_ok && below_ok
    }

    /// The conditions in Vietnamese ("nguồn Đầu tư công; từ 20.000 triệu đồng"), or
    /// "mọi nhiệm vụ".
    pub fn describe_conditions(&self) -> String {
        let mut parts = Vec::new();
        if !self.funding.is_empty() {
            parts.push(format!(
                "nguồn {}",
                self.funding
                    .iter()
                    .map(|f| f.title())
                    .collect::<Vec<_>>()
                    .join(" hoặc ")
            ));
        }
        match self.own_fund {
            Some(true) => parts.push("đơn vị tự chủ, chi từ nguồn thu của đơn vị".into()),
            Some(false) => parts.push("không chi từ nguồn thu của đơn vị".into()),
            None => {}
        }
        if let Some(min) = self.amount_at_least {
            parts.push(format!(
                "từ {} triệu đồng",
                crate::money::format_million_vnd(min, 3)
            ));
        }
        if let Some(max) = self.amount_below {
            parts.push(format!(
                "dưới {} triệu đồng",
                crate::money::format_million_vnd(max, 3)
            ));
        }
        if parts.is_empty() {
            "mọi nhiệm vụ".into()
        } else {
            parts.join("; ")
        }
    }
}

impl Authority {
    /// "Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị chủ trì", "UBND thành phố (ubnd)".
    pub fn describe(&self) -> String {
        let role = format!("{} ({})", self.role.title(), self.role.as_str());
        match &self.unit {
            AuthorityUnit::Any => role,
            AuthorityUnit::Own => format!("{role} của đơn vị chủ trì nhiệm vụ"),
            AuthorityUnit::Named(u) => format!("{role} của đơn vị `{u}`"),
        }
    }

    fn unit_for(&self, task_unit: &str) -> Option<String> {
        match &self.unit {
            AuthorityUnit::Any => None,
            AuthorityUnit::Own => Some(task_unit.to_string()),
            AuthorityUnit::Named(u) => Some(u.clone()),
        }
    }
}

impl Approval {
    /// The authority for a task with these facts: the first matching rule, else the default.
    pub fn resolve(&self, f: &ApprovalFacts<'_>) -> Resolved {
        let (rule, authority, source) = match self.rules.iter().position(|r| r.matches(f)) {
            Some(i) => (
                Some(i),
                &self.rules[i].authority,
                self.rules[i].source.clone(),
            ),
            None => (None, &self.default, self.default_source.clone()),
        };
        Resolved {
            approval: self.name.clone(),
            role: authority.role,
            unit: authority.unit_for(f.unit),
            rule,
            source,
        }
    }

    /// Every role a rule or the default can name, each once, in declaration order: whose turn
    /// it may be, when the task is not known.
    pub fn roles(&self) -> Vec<Role> {
        let mut out = Vec::new();
        for r in self
            .rules
            .iter()
            .map(|r| r.authority.role)
            .chain([self.default.role])
        {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// The rules as lines for `tiendo workflows show`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            lines.push(format!(
                "{}. {} → {}{}",
                i + 1,
                r.describe_conditions(),
                r.authority.describe(),
                r.source
                    .as_deref()
                    .map(|s| format!(" [{s}]"))
                    .unwrap_or_default()
            ));
        }
        lines.push(format!(
            "còn lại → {}{}",
            self.default.describe(),
            self.default_source
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default()
        ));
        lines
    }
}

impl Resolved {
    /// "Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị `so-y-te`".
    pub fn describe(&self) -> String {
        let role = format!("{} ({})", self.role.title(), self.role.as_str());
        match &self.unit {
            None => role,
            Some(u) => format!("{role} của đơn vị `{u}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Approval {
        Approval {
            name: "nhiem_vu".into(),
            title: "Phê duyệt nhiệm vụ".into(),
            rules: vec![
                ApprovalRule {
                    funding: vec![],
                    own_fund: Some(true),
                    amount_at_least: None,
                    amount_below: None,
                    authority: Authority {
                        role: Role::ThuTruongDonVi,
                        unit: AuthorityUnit::Own,
                    },
                    source: None,
                },
                ApprovalRule {
                    funding: vec![FundingSource::DauTuCong],
                    own_fund: None,
                    amount_at_least: Some(20_000_000_000),
                    amount_below: None,
                    authority: Authority {
                        role: Role::Ubnd,
                        unit: AuthorityUnit::Any,
                    },
                    source: Some("chưa xác nhận".into()),
                },
            ],
            default: Authority {
                role: Role::SoTaiChinh,
                unit: AuthorityUnit::Named("so-tai-chinh".into()),
            },
            default_source: None,
        }
    }

    fn facts(
        funding: FundingSource,
        own_fund: bool,
        amount: Option<i64>,
    ) -> ApprovalFacts<'static> {
        ApprovalFacts {
            unit: "so-y-te",
            funding: Some(funding),
            own_fund,
            amount_vnd: amount,
        }
    }

    #[test]
    fn the_first_matching_rule_decides_else_the_default() {
        let a = approval();
        let own = a.resolve(&facts(FundingSource::DauTuCong, true, Some(1)));
        assert_eq!(
            (own.role, own.unit.as_deref()),
            (Role::ThuTruongDonVi, Some("so-y-te"))
        );
        assert_eq!(own.rule, Some(0));
        let big = a.resolve(&facts(
            FundingSource::DauTuCong,
            false,
            Some(20_000_000_000),
        ));
        assert_eq!((big.role, big.unit), (Role::Ubnd, None));
        let small = a.resolve(&facts(
            FundingSource::DauTuCong,
            false,
            Some(19_999_999_999),
        ));
        assert_eq!(small.role, Role::SoTaiChinh);
        assert_eq!(small.unit.as_deref(), Some("so-tai-chinh"));
        // Without an amount, no threshold holds.
        assert_eq!(
            a.resolve(&facts(FundingSource::DauTuCong, false, None))
                .rule,
            None
        );
        assert_eq!(
            a.roles(),
            vec![Role::ThuTruongDonVi, Role::Ubnd, Role::SoTaiChinh]
        );
        let lines = a.describe();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("từ 20.000 triệu đồng"), "{lines:?}");
        assert!(lines[2].starts_with("còn lại"), "{lines:?}");
    }
}
