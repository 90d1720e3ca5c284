//! The roles of domain.md ("Who uses it"). A user holds one or more; workflow states say whose
//! turn it is and transitions say who may take them, by these ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Officer of a submitting unit.
    DonVi,
    /// Head of that unit.
    ThuTruongDonVi,
    /// Department of Science & Technology reviewer.
    Skhcn,
    /// Department of Finance appraiser.
    SoTaiChinh,
    /// City People's Committee leadership and office.
    Ubnd,
    /// Leadership of an appraising department (director and deputies of SKHCN or Sở Tài chính):
    /// hears first when their department misses one of the city's own (internal) deadlines.
    LanhDaoSo,
    /// System administrator.
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::DonVi,
        Role::ThuTruongDonVi,
        Role::Skhcn,
        Role::SoTaiChinh,
        Role::LanhDaoSo,
        Role::Ubnd,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DonVi => "don_vi",
            Role::ThuTruongDonVi => "thu_truong_don_vi",
            Role::Skhcn => "skhcn",
            Role::SoTaiChinh => "so_tai_chinh",
            Role::LanhDaoSo => "lanh_dao_so",
            Role::Ubnd => "ubnd",
            Role::Admin => "admin",
        }
    }

    /// The Vietnamese name shown to users.
    pub fn title(self) -> &'static str {
        match self {
            Role::DonVi => "Cán bộ đơn vị",
            Role::ThuTruongDonVi => "Thủ trưởng đơn vị",
            Role::Skhcn => "Sở Khoa học và Công nghệ",
            Role::SoTaiChinh => "Sở Tài chính",
            Role::LanhDaoSo => "Lãnh đạo Sở (KH&CN, Tài chính)",
            Role::Ubnd => "UBND thành phố",
            Role::Admin => "Quản trị hệ thống",
        }
    }

    /// Roles that belong to a submitting unit: a transition marked `own_unit` is taken by them
    /// only on their own unit's tasks.
    pub fn is_unit_role(self) -> bool {
        matches!(self, Role::DonVi | Role::ThuTruongDonVi)
    }

    /// Roles that lead a department and are reached within it: a `lanh_dao_so` user hears of
    /// the steps of their own department (the unit they belong to), not of every department's.
    pub fn is_department_lead(self) -> bool {
        matches!(self, Role::LanhDaoSo)
    }

    /// The appraising departments' reviewer roles, whose steps a department's leadership oversees.
    pub fn is_appraiser(self) -> bool {
        matches!(self, Role::Skhcn | Role::SoTaiChinh)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role `{0}`; the roles are: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, lanh_dao_so, ubnd, admin"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_roles_list_the_allowed_ones() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        let err = "ubnd_tp".parse::<Role>().unwrap_err().to_string();
        assert!(err.contains("ubnd_tp") && err.contains("so_tai_chinh"));
    }
}
