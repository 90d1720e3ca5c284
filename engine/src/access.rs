//! Who may see what and manage what: the authorization rules outside a task's own transitions.
//!
//! [`decide`](crate::decide) rules on transitions (role, own unit, documents, rounds). Everything
//! else an identity may ask for — reading a task, listing tasks, attaching a document, managing
//! users, units, plans, calendars and workflow versions, issuing API tokens, reading metrics — is
//! ruled on here, by pure functions of the actor and a few facts the store looked up. The store
//! calls these for the command line and the HTTP API alike, so the two cannot disagree, and no
//! HTTP handler decides anything about access on its own.
//!
//! The rules (domain.md, "Who uses it"; issue 5):
//! - a unit's users (`don_vi`, `thu_truong_don_vi`) see their unit's tasks, including the tasks
//!   of units merged into it;
//! - `so_tai_chinh` sees the tasks in its queue (the current step is theirs) and the tasks its
//!   department has acted on (an audit entry in that role), so a returned dossier stays in sight
//!   while it is back with the unit; `skhcn`, which coordinates the plans and writes their
//!   progress report, reads every task (its write rights are its steps' only);
//! - `ubnd` reads everything; so does `lanh_dao_so` (the leadership of SKHCN and Sở Tài chính),
//!   which hears of its department's late steps and must be able to open them; it moves nothing
//!   a workflow does not give it;
//! - `admin` manages users, units, calendars and workflow versions but reads no dossier and, as
//!   `decide` already ensures (no transition names the role), moves none;
//! - plans are entered, and their catalogues imported, by `skhcn`, `ubnd` and `admin`;
//! - plan reports ([`report_scope`]) cover the whole city for `skhcn` and `ubnd`, a unit's own
//!   tasks for its users, and nothing for the other roles.
//!
//! - the pages' navigation asks here too: who handles dossiers ([`handles_dossiers`]), whose home
//!   is the administration ([`administers_only`]), who is offered the proposal form
//!   ([`offers_proposal`]); and who sees every API token ([`sees_all_tokens`]).
//!
//! A user holding several roles gets the union of what each allows.

use std::fmt;

use crate::decide::Actor;
use crate::role::Role;

/// A refusal that is about who the actor is. `Display` is Vietnamese, for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// A stable machine-readable name of the rule that refused (`admin_only`, …).
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Denied {}

/// What the store knows about one task when deciding whether an actor may see it.
#[derive(Debug, Clone, Copy)]
pub struct TaskFacts<'a> {
    /// The owning unit.
    pub unit: &'a str,
    /// Whose turn it is in the task's current state (the state's `roles`).
    pub turn: &'a [Role],
    /// The roles someone has acted in on this task (from its audit log).
    pub acted_in: &'a [Role],
}

/// The visibility rule as a scope a query can apply to many tasks at once: a task is visible
/// when `all`, or its unit is in `units`, or its current state's roles meet `queue_roles`, or
/// someone acted on it in one of `acted_roles`. [`may_see_task`] is [`TaskScope::admits`] of
/// [`task_scope`], so the single-task check and the list filter are one rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskScope {
    pub all: bool,
    pub units: Vec<String>,
    pub queue_roles: Vec<Role>,
    pub acted_roles: Vec<Role>,
}

impl TaskScope {
    pub fn admits(&self, t: &TaskFacts<'_>) -> bool {
        self.all
            || self.units.iter().any(|u| u == t.unit)
            || self.queue_roles.iter().any(|r| t.turn.contains(r))
            || self.acted_roles.iter().any(|r| t.acted_in.contains(r))
    }

    /// Whether this scope can admit anything at all.
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.units.is_empty()
            && self.queue_roles.is_empty()
            && self.acted_roles.is_empty()
    }
}

/// The tasks `actor` may see. See the module documentation.
pub fn task_scope(actor: &Actor) -> TaskScope {
    let mut scope = TaskScope::default();
    for &r in &actor.roles {
        match r {
            Role::Ubnd | Role::LanhDaoSo => scope.all = true,
            Role::DonVi | Role::ThuTruongDonVi => {
                for u in actor.units.iter().chain(&actor.read_units) {
                    if !scope.units.contains(u) {
                        scope.units.push(u.clone());
                    }
                }
            }
            // SKHCN coordinates the city's IT plans and writes their progress report: it reads
            // every task, as UBND does (issue 15, item 7); its write rights stay those of its
            // steps.
            Role::Skhcn => scope.all = true,
            Role::SoTaiChinh => {
                scope.queue_roles.push(r);
                scope.acted_roles.push(r);
            }
            Role::Admin => {}
        }
    }
    scope
}

/// Whether `actor` may read a task (its details, history and documents).
pub fn may_see_task(actor: &Actor, t: &TaskFacts<'_>) -> bool {
    task_scope(actor).admits(t)
}

/// Whether the store must look up who acted on a task before it can answer
/// [`may_see_task`]: only an appraiser outside their queue needs the audit log.
pub fn needs_acted_roles(actor: &Actor, unit: &str, turn: &[Role]) -> bool {
    let scope = task_scope(actor);
    let without_audit = TaskFacts {
        unit,
        turn,
        acted_in: &[],
    };
    !scope.admits(&without_audit) && !scope.acted_roles.is_empty()
}

/// Attaching a document to a task: whoever may read the task and acts in a role that handles
/// dossiers (every role but `admin`, which reads no dossier anyway).
pub fn may_attach_document(actor: &Actor, t: &TaskFacts<'_>) -> Result<(), Denied> {
    // What is only read (a merged unit's tasks, for its former users) takes no document.
    let acting = Actor {
        read_units: Vec::new(),
        ..actor.clone()
    };
    if may_see_task(&acting, t) && actor.roles.iter().any(|r| *r != Role::Admin) {
        Ok(())
    } else {
        Err(Denied {
            rule: "attach_not_allowed",
            message: "Bạn không có quyền đính kèm tài liệu vào nhiệm vụ này: chỉ người dùng được xem nhiệm vụ (đơn vị chủ trì, cơ quan thẩm định đang xử lý hoặc đã xử lý, UBND thành phố) được đính kèm.".into(),
        })
    }
}

/// Whether it is `actor`'s turn on a task whose current state belongs to `turn`: they hold
/// one of those roles, and when every role they match there is a unit role, the task is their
/// unit's (an appraiser's or UBND's turn is city-wide).
pub fn is_my_turn(actor: &Actor, unit: &str, turn: &[Role]) -> bool {
    let matched: Vec<Role> = actor
        .roles
        .iter()
        .copied()
        .filter(|r| turn.contains(r))
        .collect();
    if matched.is_empty() {
        return false;
    }
    matched.iter().any(|r| !r.is_unit_role()) || actor.units.iter().any(|u| u == unit)
}

/// Whose turn it is on a task when its current state's turn was resolved by an approval
/// authority ([`crate::workflow::Workflow::turn`]): with `turn_unit`, the actor must hold one of
/// `turn` in that unit; without, [`is_my_turn`].
pub fn is_my_turn_in(actor: &Actor, unit: &str, turn: &[Role], turn_unit: Option<&str>) -> bool {
    match turn_unit {
        Some(u) => actor.roles.iter().any(|r| turn.contains(r)) && actor.belongs_to(u),
        None => is_my_turn(actor, unit, turn),
    }
}

/// Why an actor is not the approval authority resolved for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAuthority {
    /// They do not hold the approving role.
    Role,
    /// They hold it, but in another unit than the one the authority names.
    Unit,
}

/// Whether `actor` is the approval authority resolved for a task (issue 15, item 1): they hold
/// its role and, when it names a unit (the task's own, or a named department), belong to that
/// unit. `decide` applies it to every transition that names an `approval`.
pub fn authority_admits(
    actor: &Actor,
    authority: &crate::workflow::Resolved,
) -> Result<(), NotAuthority> {
    if !actor.roles.contains(&authority.role) {
        return Err(NotAuthority::Role);
    }
    match &authority.unit {
        Some(u) if !actor.belongs_to(u) => Err(NotAuthority::Unit),
        _ => Ok(()),
    }
}

/// Transferring a task to another owning unit (issue 15, item 9): a decision of UBND, which
/// assigns the plan's tasks to units and decides their withdrawal (domain.md, "Who uses it"),
/// recorded with its deciding document. Not the administrator's: an administrator records unit
/// merges (every task of a unit follows it, [`Area::Units`]) but reads no dossier, and a transfer
/// moves one task between units that both go on existing.
pub fn may_transfer(actor: &Actor) -> Result<(), Denied> {
    if actor.roles.contains(&Role::Ubnd) {
        Ok(())
    } else {
        Err(Denied {
            rule: "transfer_ubnd_only",
            message: format!(
                "Chỉ UBND thành phố (ubnd) được quyết định chuyển nhiệm vụ sang đơn vị chủ trì khác; vai trò của bạn: {}. (Sáp nhập đơn vị do quản trị hệ thống ghi nhận trong quản lý đơn vị.)",
                roles_text(&actor.roles)
            ),
        })
    }
}

/// What the administration covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Users,
    Units,
    Calendars,
    WorkflowVersions,
    /// Adding plans (kế hoạch).
    Plans,
    /// The notification outbox.
    Outbox,
    /// Operational metrics.
    Metrics,
}

impl Area {
    fn title(self) -> &'static str {
        match self {
            Area::Users => "quản lý người dùng",
            Area::Units => "quản lý đơn vị",
            Area::Calendars => "quản lý lịch làm việc",
            Area::WorkflowVersions => "quản lý phiên bản quy trình",
            Area::Plans => "thêm kế hoạch",
            Area::Outbox => "xem hàng đợi thông báo",
            Area::Metrics => "xem số liệu giám sát",
        }
    }

    /// The roles allowed in this area. Plans are entered by whoever compiles or issues them:
    /// SKHCN compiles the city's plan, UBND issues it, and the administrator may load it.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Area::Plans => &[Role::Admin, Role::Skhcn, Role::Ubnd],
            _ => &[Role::Admin],
        }
    }
}

fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "không có".into();
    }
    roles
        .iter()
        .map(|r| format!("{} ({})", r.title(), r.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `actor` may administer `area`.
pub fn may_manage(actor: &Actor, area: Area) -> Result<(), Denied> {
    let allowed = area.roles();
    if actor.roles.iter().any(|r| allowed.contains(r)) {
        return Ok(());
    }
    Err(Denied {
        rule: if allowed == [Role::Admin] {
            "admin_only"
        } else {
            "role_not_allowed"
        },
        message: format!(
            "Bạn không có quyền {}: chỉ vai trò {} được thực hiện; vai trò của bạn: {}.",
            area.title(),
            roles_text(allowed),
            roles_text(&actor.roles)
        ),
    })
}

/// The city-wide overview (counts by phase and unit, the Government Office's four statuses,
/// stalled and overdue tasks): UBND, which receives it, SKHCN, which compiles the city's
/// progress reports (domain.md, "Who uses it"), and the appraising departments' leadership.
pub fn may_read_overview(actor: &Actor) -> Result<(), Denied> {
    if actor
        .roles
        .iter()
        .any(|r| matches!(r, Role::Ubnd | Role::Skhcn | Role::LanhDaoSo))
    {
        Ok(())
    } else {
        Err(Denied {
            rule: "overview_roles",
            message: format!(
                "Trang tổng quan dành cho UBND thành phố, Sở Khoa học và Công nghệ và lãnh đạo các Sở thẩm định; vai trò của bạn: {}.",
                roles_text(&actor.roles)
            ),
        })
    }
}

/// Whether `actor` works on dossiers at all: any role but `admin` (an administrator reads no
/// dossier). The pages offer "my turn" and the task list to such users only.
pub fn handles_dossiers(actor: &Actor) -> bool {
    actor.roles.iter().any(|r| *r != Role::Admin)
}

/// Whether `actor` holds roles and every one of them is `admin`: their work is in the
/// administration pages, where the home page sends them. A user with no role is neither this nor
/// [`handles_dossiers`].
pub fn administers_only(actor: &Actor) -> bool {
    !actor.roles.is_empty() && !handles_dossiers(actor)
}

/// Whether `actor` compiles the city's plan (SKHCN, which coordinates it, and UBND, which issues
/// it): they may propose a task on any unit's behalf ([`crate::decide::may_propose`]).
pub fn compiles_plan(actor: &Actor) -> bool {
    actor
        .roles
        .iter()
        .any(|r| matches!(r, Role::Skhcn | Role::Ubnd))
}

/// Whether the pages offer `actor` the proposal form ("Đề xuất nhiệm vụ"): a unit's users, who
/// draft their own unit's proposals, and whoever [`compiles_plan`]. Which units and kinds the form
/// then offers is [`crate::decide::may_propose`]'s to say, per workflow.
pub fn offers_proposal(actor: &Actor) -> bool {
    actor.roles.iter().any(|r| r.is_unit_role()) || compiles_plan(actor)
}

/// Whether a token listing shows everyone's tokens: an administrator signed in with a full
/// credential. Everybody else (and any metrics token) sees only the identity's own tokens.
pub fn sees_all_tokens(actor: &Actor, credential: Scope) -> bool {
    credential == Scope::Full && actor.roles.contains(&Role::Admin)
}

/// The roles that may import a plan's catalogue, in the order the role recorded in the audit log
/// is chosen: the same roles as [`Area::Plans`] (SKHCN compiles the city's plan, UBND issues it,
/// the administrator may load it).
pub const IMPORTERS: [Role; 3] = [Role::Skhcn, Role::Ubnd, Role::Admin];

/// Importing a plan's catalogue (creating the plan, its units and its tasks): the role the
/// import is recorded in, the first of [`IMPORTERS`] the actor holds.
pub fn may_import(actor: &Actor) -> Result<Role, Denied> {
    IMPORTERS
        .into_iter()
        .find(|r| actor.roles.contains(r))
        .ok_or_else(|| Denied {
            rule: "role_not_allowed",
            message: crate::decide::Rejection::WrongRole {
                transition: crate::catalogue::IMPORT_TRANSITION.into(),
                allowed: IMPORTERS.to_vec(),
                yours: actor.roles.clone(),
            }
            .to_string(),
        })
}

/// The roles that may set or change a task's assigned deadline (thời hạn giao), in the order the
/// role recorded in the audit log is chosen: UBND assigns deadlines (a leader's decision or
/// notice), SKHCN keeps the plan's expected completions (it compiles the plan and imports its
/// catalogue). A unit cannot move its own deadline; the administrator reads no dossier.
pub const DEADLINE_SETTERS: [Role; 2] = [Role::Ubnd, Role::Skhcn];

/// Setting, changing or clearing a task's assigned deadline (issue 15, item 6): who may see the
/// task and holds one of [`DEADLINE_SETTERS`]; the role recorded in the audit log.
pub fn may_set_deadline(actor: &Actor, t: &TaskFacts<'_>) -> Result<Role, Denied> {
    let role = DEADLINE_SETTERS
        .into_iter()
        .find(|r| actor.roles.contains(r));
    match role {
        Some(r) if may_see_task(actor, t) => Ok(r),
        _ => Err(Denied {
            rule: "deadline_not_allowed",
            message: "Chỉ UBND thành phố (ubnd) hoặc Sở Khoa học và Công nghệ (skhcn) được đặt, thay đổi thời hạn giao của nhiệm vụ.".into(),
        }),
    }
}

/// Reading a user's record (roles, unit, e-mail): the user themself, or an administrator.
pub fn may_read_user(actor: &Actor, username: &str) -> Result<(), Denied> {
    if actor.user == username || actor.roles.contains(&Role::Admin) {
        Ok(())
    } else {
        Err(Denied {
            rule: "self_or_admin",
            message: "Chỉ chính người dùng đó hoặc quản trị hệ thống (admin) được xem thông tin tài khoản.".into(),
        })
    }
}

/// An administrator's change to their own account that would lock them out: disabling it, or
/// giving up the administrator role (someone must be left who can undo it). It refuses the
/// request, not the requester, so the store answers it as invalid input rather than as a
/// denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnAccount {
    Disable,
    DropAdmin,
}

impl fmt::Display for OwnAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OwnAccount::Disable => {
                "Không thể tự khóa tài khoản của chính mình; hãy nhờ một quản trị viên khác."
            }
            OwnAccount::DropAdmin => {
                "Không thể tự bỏ vai trò quản trị của chính mình; hãy nhờ một quản trị viên khác."
            }
        })
    }
}

impl std::error::Error for OwnAccount {}

/// Refuses disabling one's own account ([`OwnAccount::Disable`]); who may disable at all is
/// [`may_manage`] of [`Area::Users`].
pub fn may_disable_user(actor: &Actor, username: &str) -> Result<(), OwnAccount> {
    if actor.user == username {
        Err(OwnAccount::Disable)
    } else {
        Ok(())
    }
}

/// Refuses giving `username` the roles `roles` when that takes the administrator role from the
/// actor themself ([`OwnAccount::DropAdmin`]); who may change roles at all is [`may_manage`] of
/// [`Area::Users`].
pub fn may_change_roles(actor: &Actor, username: &str, roles: &[Role]) -> Result<(), OwnAccount> {
    if actor.user == username && !roles.contains(&Role::Admin) {
        Err(OwnAccount::DropAdmin)
    } else {
        Ok(())
    }
}

/// What a credential lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything the user may do (a signed-in session, or a full API token).
    Full,
    /// Only reading the metrics: a token for a Prometheus scraper.
    Metrics,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::Metrics => "metrics",
        }
    }

    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "full" => Ok(Scope::Full),
            "metrics" => Ok(Scope::Metrics),
            _ => Err(format!(
                "phạm vi token `{s}` không hợp lệ; các giá trị cho phép: full, metrics"
            )),
        }
    }
}

/// The roles a credential acts with: all of the user's for a full credential, none for a
/// metrics token, which therefore passes no rule that needs a role.
pub fn effective_roles(roles: &[Role], scope: Scope) -> Vec<Role> {
    match scope {
        Scope::Full => roles.to_vec(),
        Scope::Metrics => Vec::new(),
    }
}

/// How long after signing in with the password a session may still issue API tokens: a token
/// is a credential of its own, so issuing one asks for a recent proof of the password (a stolen
/// cookie or token cannot mint itself a lasting successor).
pub const TOKEN_REAUTH_WINDOW_MINUTES: i64 = 10;
/// The lifetime of a token issued without one (days).
pub const DEFAULT_TOKEN_DAYS: u32 = 90;

/// How the caller proved who they are, for the rules that need a recent password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A session, signed in with the password this long ago.
    Session { signed_in_ago: chrono::TimeDelta },
    /// An API token (no password was typed).
    Token,
}

/// Whether a token being issued expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Expires,
    /// No expiry: for an integration an administrator sets up.
    Never,
}

/// Issuing an API token for oneself. It needs a full credential that is a session signed in
/// with the password within [`TOKEN_REAUTH_WINDOW_MINUTES`] (not a token, not an old session);
/// a metrics token, and a token without expiry, only for an administrator.
pub fn may_issue_token(
    actor: &Actor,
    credential: Scope,
    proof: Proof,
    wanted: Scope,
    lifetime: Lifetime,
) -> Result<(), Denied> {
    if credential != Scope::Full {
        return Err(Denied {
            rule: "full_credential_required",
            message:
                "Token chỉ dùng để đọc số liệu giám sát không được tạo token mới; hãy đăng nhập."
                    .into(),
        });
    }
    match proof {
        Proof::Token => {
            return Err(Denied {
                rule: "password_required",
                message: "Không thể dùng token API để tạo token mới; hãy đăng nhập bằng mật khẩu rồi tạo token.".into(),
            });
        }
        Proof::Session { signed_in_ago }
            if signed_in_ago > chrono::TimeDelta::minutes(TOKEN_REAUTH_WINDOW_MINUTES) =>
        {
            return Err(Denied {
                rule: "recent_sign_in_required",
                message: format!(
                    "Tạo token cần xác nhận lại mật khẩu: phiên này đăng nhập đã quá {TOKEN_REAUTH_WINDOW_MINUTES} phút; hãy đăng xuất, đăng nhập lại rồi tạo token."
                ),
            });
        }
        Proof::Session { .. } => {}
    }
    if lifetime == Lifetime::Never && !actor.roles.contains(&Role::Admin) {
        return Err(Denied {
            rule: "admin_only",
            message: format!(
                "Chỉ quản trị hệ thống (admin) được tạo token không hết hạn; hãy ghi số ngày hiệu lực (mặc định {DEFAULT_TOKEN_DAYS} ngày)."
            ),
        });
    }
    if wanted == Scope::Metrics {
        return may_manage(actor, Area::Metrics);
    }
    Ok(())
}

/// Uploading a document of a type whose workflow declares who issues it (`issued_by`): the actor
/// must hold one of those roles (a unit does not upload an appraisal result in SKHCN's name).
/// `issuers: None`: the type is anyone's who may attach to the task.
pub fn may_issue_document(
    actor: &Actor,
    doc_type: &str,
    title: &str,
    issuers: Option<&[Role]>,
) -> Result<(), Denied> {
    match issuers {
        Some(roles) if !roles.iter().any(|r| actor.roles.contains(r)) => Err(Denied {
            rule: "document_issuer",
            message: format!(
                "Tài liệu loại «{title}» (`{doc_type}`) chỉ do {} ban hành và tải lên.",
                roles
                    .iter()
                    .map(|r| format!("{} ({})", r.title(), r.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        _ => Ok(()),
    }
}

/// Revoking a token: its owner, or an administrator. A metrics token revokes nothing.
pub fn may_revoke_token(actor: &Actor, credential: Scope, owner: &str) -> Result<(), Denied> {
    if credential == Scope::Full && (actor.user == owner || actor.roles.contains(&Role::Admin)) {
        Ok(())
    } else {
        Err(Denied {
            rule: "owner_or_admin",
            message: "Chỉ người sở hữu token hoặc quản trị hệ thống (admin) được thu hồi token."
                .into(),
        })
    }
}

/// Changing one's own password needs a full credential (a leaked metrics token must not be
/// enough to take over the account).
pub fn may_change_own_password(credential: Scope) -> Result<(), Denied> {
    match credential {
        Scope::Full => Ok(()),
        Scope::Metrics => Err(Denied {
            rule: "full_credential_required",
            message:
                "Token chỉ dùng để đọc số liệu giám sát không được đổi mật khẩu; hãy đăng nhập."
                    .into(),
        }),
    }
}

/// Reading the metrics: an administrator, or a metrics token (issued by one).
pub fn may_read_metrics(actor: &Actor, credential: Scope) -> Result<(), Denied> {
    match credential {
        Scope::Metrics => Ok(()),
        Scope::Full => may_manage(actor, Area::Metrics),
    }
}

/// The units whose tasks a plan report read by `actor` covers: `None` (the whole plan) for SKHCN,
/// which compiles the city-wide progress report (domain.md, "Who uses it"), and for UBND, which
/// receives it and reads everything, and for the appraising departments' leadership; a unit's officers and heads get their own units (and those
/// merged into them). Other roles (the Department of Finance's appraisers see their queue, the
/// administrator reads no dossier) are refused.
pub fn report_scope(actor: &Actor) -> Result<Option<Vec<String>>, Denied> {
    if actor
        .roles
        .iter()
        .any(|r| matches!(r, Role::Skhcn | Role::Ubnd | Role::LanhDaoSo))
    {
        Ok(None)
    } else if actor.roles.iter().any(|r| r.is_unit_role()) {
        Ok(Some(
            actor
                .units
                .iter()
                .chain(&actor.read_units)
                .cloned()
                .collect(),
        ))
    } else {
        Err(Denied {
            rule: "report_scope",
            message: format!(
                "Tài khoản `{}` không xem được báo cáo kế hoạch: báo cáo dành cho Sở Khoa học và Công nghệ, UBND thành phố và các đơn vị (phần việc của đơn vị mình).",
                actor.user
            ),
        })
    }
}

/// The roles that run reporting rounds (issue 16): open a round for a plan, write the draft
/// sections and the signer of the official report, reopen a unit's submission, export. SKHCN
/// coordinates the plans and writes their progress report; UBND receives it.
pub const ROUND_COORDINATORS: [Role; 1] = [Role::Skhcn];

/// Opening and running a reporting round (and every other coordinator's act on it): the role
/// recorded, the first of [`ROUND_COORDINATORS`] the actor holds.
pub fn may_open_round(actor: &Actor) -> Result<Role, Denied> {
    ROUND_COORDINATORS
        .into_iter()
        .find(|r| actor.roles.contains(r))
        .ok_or_else(|| Denied {
            rule: "round_coordinator_only",
            message: "Chỉ Sở Khoa học và Công nghệ (skhcn) được mở, sửa và xuất đợt báo cáo của kế hoạch.".into(),
        })
}

/// Entering a unit's progress, difficulties and proposals for one of its tasks in a round: a
/// unit's officer or head acting for the task's unit (not a unit only read since a merger). The
/// task must also be visible ([`may_see_task`]); the role recorded is the first unit role held.
pub fn may_enter_round(actor: &Actor, t: &TaskFacts<'_>) -> Result<Role, Denied> {
    let role = actor.roles.iter().copied().find(|r| r.is_unit_role());
    match role {
        Some(r) if actor.units.iter().any(|u| u == t.unit) && may_see_task(actor, t) => Ok(r),
        _ => Err(Denied {
            rule: "round_entry_not_allowed",
            message: "Chỉ cán bộ hoặc thủ trưởng của đơn vị chủ trì nhiệm vụ được nhập báo cáo của nhiệm vụ trong đợt báo cáo.".into(),
        }),
    }
}

/// Submitting a unit's entries for a round: the head of that unit (thủ trưởng đơn vị).
pub fn may_submit_round(actor: &Actor, unit: &str) -> Result<Role, Denied> {
    if actor.roles.contains(&Role::ThuTruongDonVi) && actor.units.iter().any(|u| u == unit) {
        Ok(Role::ThuTruongDonVi)
    } else {
        Err(Denied {
            rule: "round_submit_not_allowed",
            message: format!(
                "Chỉ thủ trưởng đơn vị `{unit}` (thu_truong_don_vi) được gửi báo cáo của đơn vị trong đợt báo cáo."
            ),
        })
    }
}

/// The units whose entries `actor` may read in a round: every unit for those who read the plan
/// reports city-wide (`None`), their own units for a unit's users; the rule is [`report_scope`].
pub fn round_scope(actor: &Actor) -> Result<Option<Vec<String>>, Denied> {
    report_scope(actor)
}

/// A unit's stored documents would pass its storage quota (`http.unit_quota_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// Bytes the unit's documents take now.
    pub used: u64,
    /// Bytes the upload would add.
    pub adding: u64,
    pub quota: u64,
}

impl QuotaExceeded {
    /// The refusal in Vietnamese.
    pub fn message(&self) -> String {
        let mib = |n: u64| format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)).replace('.', ",");
        format!(
            "Đơn vị đã dùng {} trên hạn mức lưu trữ tài liệu {}; tệp này ({}) vượt hạn mức. Báo quản trị viên nếu cần nâng hạn mức.",
            mib(self.used),
            mib(self.quota),
            mib(self.adding)
        )
    }
}

/// Whether a unit that stores `used` bytes of documents may add `adding` more under `quota`.
/// Checked before an upload is read (`adding` 0: is there any room left?) and once its size
/// is known.
pub fn within_quota(used: u64, adding: u64, quota: u64) -> Result<(), QuotaExceeded> {
    let full = if adding == 0 {
        used >= quota
    } else {
        used.saturating_add(adding) > quota
    };
    if full {
        Err(QuotaExceeded {
            used,
            adding,
            quota,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn rounds_are_skhcns_entries_the_units_and_submission_the_heads() {
        let a = |roles: Vec<Role>, units: Vec<&str>| Actor {
            user: "u".into(),
            roles,
            units: units.into_iter().map(String::from).collect(),
            read_units: vec![],
        };
        let facts = TaskFacts {
            unit: "so-y-te",
            turn: &[],
            acted_in: &[],
        };
        assert_eq!(
            may_open_round(&a(vec![Role::Skhcn], vec![])),
            Ok(Role::Skhcn)
        );
        for r in [Role::Ubnd, Role::Admin, Role::DonVi, Role::SoTaiChinh] {
            assert!(may_open_round(&a(vec![r], vec!["so-y-te"])).is_err());
        }
        assert_eq!(
            may_enter_round(&a(vec![Role::DonVi], vec!["so-y-te"]), &facts),
            Ok(Role::DonVi)
        );
        assert!(may_enter_round(&a(vec![Role::DonVi], vec!["so-tai-chinh"]), &facts).is_err());
        assert!(may_enter_round(&a(vec![Role::Skhcn], vec!["so-y-te"]), &facts).is_err());
        let mut merged = a(vec![Role::DonVi], vec![]);
        merged.read_units = vec!["so-y-te".into()];
        assert!(may_enter_round(&merged, &facts).is_err());
        assert!(
            may_submit_round(&a(vec![Role::ThuTruongDonVi], vec!["so-y-te"]), "so-y-te").is_ok()
        );
        assert!(may_submit_round(&a(vec![Role::DonVi], vec!["so-y-te"]), "so-y-te").is_err());
        assert!(
            may_submit_round(&a(vec![Role::ThuTruongDonVi], vec!["so-y-te"]), "so-gd").is_err()
        );
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reports_cover_the_city_for_skhcn_and_ubnd_and_a_units_own_tasks_for_it() {
        let units = ["so-tai-chinh", "so-ke-hoach-va-dau-tu"];
        for r in [Role::Skhcn, Role::Ubnd, Role::LanhDaoSo] {
            assert_eq!(report_scope(&actor(&[r], &["x"])), Ok(None), "{r:?}");
        }
        for r in [Role::DonVi, Role::ThuTruongDonVi] {
            assert_eq!(
                report_scope(&actor(&[r], &units)),
                Ok(Some(units.iter().map(|u| u.to_string()).collect())),
                "{r:?}"
            );
        }
        // The city's view wins over a unit role held beside it.
        assert_eq!(
            report_scope(&actor(&[Role::DonVi, Role::Ubnd], &units)),
            Ok(None)
        );
        for r in [Role::SoTaiChinh, Role::Admin] {
            let d = report_scope(&actor(&[r], &units)).unwrap_err();
            assert_eq!(d.rule, "report_scope");
            assert!(d.message.contains("không xem được báo cáo"), "{d}");
        }
    }

    #[test]
    fn dossiers_are_for_every_role_but_admin_and_admins_alone_go_to_administration() {
        for r in Role::ALL {
            let a = actor(&[r], &["u"]);
            assert_eq!(handles_dossiers(&a), r != Role::Admin, "{r:?}");
            assert_eq!(administers_only(&a), r == Role::Admin, "{r:?}");
        }
        // An administrator who also holds another role handles dossiers too.
        let both = actor(&[Role::Admin, Role::Skhcn], &[]);
        assert!(handles_dossiers(&both));
        assert!(!administers_only(&both));
        // No role: neither.
        let none = actor(&[], &[]);
        assert!(!handles_dossiers(&none));
        assert!(!administers_only(&none));
    }

    #[test]
    fn the_proposal_form_is_offered_to_units_and_to_those_who_compile_the_plan() {
        for r in Role::ALL {
            let offered = matches!(
                r,
                Role::DonVi | Role::ThuTruongDonVi | Role::Skhcn | Role::Ubnd
            );
            assert_eq!(offers_proposal(&actor(&[r], &["u"])), offered, "{r:?}");
            assert_eq!(
                compiles_plan(&actor(&[r], &[])),
                matches!(r, Role::Skhcn | Role::Ubnd),
                "{r:?}"
            );
        }
        assert!(offers_proposal(&actor(&[Role::Admin, Role::DonVi], &["u"])));
        assert!(!offers_proposal(&actor(&[], &[])));
    }

    #[test]
    fn only_an_administrator_with_a_full_credential_sees_all_tokens() {
        for r in Role::ALL {
            let a = actor(&[r], &[]);
            assert_eq!(sees_all_tokens(&a, Scope::Full), r == Role::Admin, "{r:?}");
            assert!(!sees_all_tokens(&a, Scope::Metrics), "{r:?}");
        }
    }

    #[test]
    fn ubnd_and_skhcn_set_the_assigned_deadline_a_unit_does_not() {
        let t = facts("so-y-te", &[Role::DonVi], &[]);
        assert_eq!(
            may_set_deadline(&actor(&[Role::Ubnd], &[]), &t),
            Ok(Role::Ubnd)
        );
        assert_eq!(
            may_set_deadline(&actor(&[Role::Skhcn], &["so-khcn"]), &t),
            Ok(Role::Skhcn)
        );
        for roles in [
            &[Role::DonVi][..],
            &[Role::ThuTruongDonVi],
            &[Role::SoTaiChinh],
            &[Role::LanhDaoSo],
            &[Role::Admin],
        ] {
            let e = may_set_deadline(&actor(roles, &["so-y-te"]), &t).unwrap_err();
            assert_eq!(e.rule, "deadline_not_allowed", "{roles:?}");
        }
    }

    fn actor(roles: &[Role], units: &[&str]) -> Actor {
        Actor {
            user: "nguoi.dung".into(),
            roles: roles.to_vec(),
            units: units.iter().map(|u| u.to_string()).collect(),
            read_units: Vec::new(),
        }
    }

    fn facts<'a>(unit: &'a str, turn: &'a [Role], acted_in: &'a [Role]) -> TaskFacts<'a> {
        TaskFacts {
            unit,
            turn,
            acted_in,
        }
    }

    #[test]
    fn an_administrator_may_not_disable_themself() {
        let admin = actor(&[Role::Admin], &[]);
        assert_eq!(
            may_disable_user(&admin, "nguoi.dung"),
            Err(OwnAccount::Disable)
        );
        assert!(OwnAccount::Disable.to_string().contains("chính mình"));
        assert_eq!(may_disable_user(&admin, "giam.doc"), Ok(()));
        assert_eq!(
            may_change_roles(&admin, "nguoi.dung", &[Role::Skhcn]),
            Err(OwnAccount::DropAdmin)
        );
        assert_eq!(
            may_change_roles(&admin, "nguoi.dung", &[Role::Admin, Role::Skhcn]),
            Ok(())
        );
        assert_eq!(may_change_roles(&admin, "giam.doc", &[Role::Skhcn]), Ok(()));
    }

    #[test]
    fn unit_users_see_their_units_tasks_including_merged_ones() {
        let officer = actor(&[Role::DonVi], &["so-tai-chinh", "so-ke-hoach-va-dau-tu"]);
        assert!(may_see_task(
            &officer,
            &facts("so-ke-hoach-va-dau-tu", &[Role::Skhcn], &[])
        ));
        assert!(!may_see_task(
            &officer,
            &facts("so-y-te", &[Role::DonVi], &[Role::DonVi])
        ));
    }

    #[test]
    fn the_finance_appraisers_see_their_queue_and_what_they_acted_on_only() {
        let stc = actor(&[Role::SoTaiChinh], &["so-tai-chinh"]);
        assert!(may_see_task(
            &stc,
            &facts("so-y-te", &[Role::SoTaiChinh], &[])
        ));
        assert!(may_see_task(
            &stc,
            &facts("so-y-te", &[Role::DonVi], &[Role::DonVi, Role::SoTaiChinh])
        ));
        assert!(!may_see_task(
            &stc,
            &facts("so-y-te", &[Role::Skhcn], &[Role::DonVi])
        ));
        assert!(needs_acted_roles(&stc, "so-y-te", &[Role::DonVi]));
        assert!(!needs_acted_roles(&stc, "so-y-te", &[Role::SoTaiChinh]));
        let officer = actor(&[Role::DonVi], &["so-y-te"]);
        assert!(!needs_acted_roles(&officer, "so-noi-vu", &[Role::DonVi]));
    }

    #[test]
    fn skhcn_coordinates_the_plans_and_reads_every_task_but_moves_only_its_steps() {
        let skhcn = actor(&[Role::Skhcn], &["so-khoa-hoc-va-cong-nghe"]);
        // A task it never handled, waiting for Sở Tài chính.
        let f = facts("so-y-te", &[Role::SoTaiChinh], &[Role::DonVi]);
        assert!(may_see_task(&skhcn, &f));
        assert!(task_scope(&skhcn).all);
        assert!(!needs_acted_roles(&skhcn, "so-y-te", &[Role::DonVi]));
        // Reading is not acting: it is not SKHCN's turn there.
        assert!(!is_my_turn(&skhcn, "so-y-te", &[Role::SoTaiChinh]));
    }

    #[test]
    fn ubnd_reads_everything_and_admin_reads_no_dossier() {
        let ubnd = actor(&[Role::Ubnd], &[]);
        let admin = actor(&[Role::Admin], &[]);
        let f = facts("so-y-te", &[Role::DonVi], &[Role::DonVi]);
        assert!(may_see_task(&ubnd, &f));
        assert!(!may_see_task(&admin, &f));
        assert!(task_scope(&admin).is_empty());
        assert_eq!(
            may_attach_document(&admin, &f).unwrap_err().rule,
            "attach_not_allowed"
        );
        assert!(may_attach_document(&ubnd, &f).is_ok());
    }

    #[test]
    fn administration_is_the_admins_and_plans_also_skhcns_and_ubnds() {
        let admin = actor(&[Role::Admin], &[]);
        let head = actor(&[Role::ThuTruongDonVi], &["so-y-te"]);
        for area in [
            Area::Users,
            Area::Units,
            Area::Calendars,
            Area::WorkflowVersions,
            Area::Outbox,
            Area::Metrics,
        ] {
            assert!(may_manage(&admin, area).is_ok());
            let d = may_manage(&head, area).unwrap_err();
            assert_eq!(d.rule, "admin_only");
            assert!(d.message.contains("Thủ trưởng đơn vị"), "{}", d.message);
        }
        assert!(may_manage(&actor(&[Role::Skhcn], &[]), Area::Plans).is_ok());
        assert_eq!(
            may_manage(&head, Area::Plans).unwrap_err().rule,
            "role_not_allowed"
        );
    }

    #[test]
    fn plans_are_imported_by_those_who_enter_plans() {
        let mut importers = IMPORTERS.to_vec();
        let mut plans = Area::Plans.roles().to_vec();
        importers.sort();
        plans.sort();
        assert_eq!(importers, plans);
        // The recorded role: SKHCN before UBND before admin.
        assert_eq!(
            may_import(&actor(&[Role::Admin, Role::Skhcn], &[])),
            Ok(Role::Skhcn)
        );
        assert_eq!(may_import(&actor(&[Role::Ubnd], &[])), Ok(Role::Ubnd));
        let officer = actor(&[Role::DonVi], &["so-khoa-hoc-va-cong-nghe"]);
        let d = may_import(&officer).unwrap_err();
        assert_eq!(d.rule, "role_not_allowed");
        assert!(d.message.contains("nhap_tu_ke_hoach"), "{}", d.message);
        assert!(d.message.contains("(skhcn)"), "{}", d.message);
    }

    #[test]
    fn tokens_and_metrics() {
        let admin = actor(&[Role::Admin], &[]);
        let officer = actor(&[Role::DonVi], &["so-y-te"]);
        let fresh = Proof::Session {
            signed_in_ago: chrono::TimeDelta::minutes(2),
        };
        let stale = Proof::Session {
            signed_in_ago: chrono::TimeDelta::minutes(11),
        };
        let issue = |a: &Actor, c, p, w, l| may_issue_token(a, c, p, w, l).map_err(|d| d.rule);
        let (full, metrics) = (Scope::Full, Scope::Metrics);
        let (exp, never) = (Lifetime::Expires, Lifetime::Never);
        assert_eq!(issue(&officer, full, fresh, full, exp), Ok(()));
        assert!(issue(&officer, full, fresh, metrics, exp).is_err());
        assert_eq!(issue(&admin, full, fresh, metrics, exp), Ok(()));
        assert!(issue(&admin, metrics, fresh, metrics, exp).is_err());
        assert_eq!(
            issue(&officer, full, Proof::Token, full, exp),
            Err("password_required")
        );
        assert_eq!(
            issue(&admin, full, stale, full, exp),
            Err("recent_sign_in_required")
        );
        assert_eq!(issue(&officer, full, fresh, full, never), Err("admin_only"));
        assert_eq!(issue(&admin, full, fresh, metrics, never), Ok(()));
        assert!(may_read_metrics(&officer, Scope::Full).is_err());
        assert!(may_read_metrics(&actor(&[], &[]), Scope::Metrics).is_ok());
        assert!(effective_roles(&[Role::Admin], Scope::Metrics).is_empty());
        assert!(may_revoke_token(&officer, Scope::Full, "nguoi.dung").is_ok());
        assert!(may_revoke_token(&officer, Scope::Full, "nguoi.khac").is_err());
        assert!(may_revoke_token(&admin, Scope::Full, "nguoi.khac").is_ok());
        assert!(may_change_own_password(Scope::Metrics).is_err());
        assert_eq!(Scope::parse("metrics"), Ok(Scope::Metrics));
        assert!(Scope::parse("root").unwrap_err().contains("full, metrics"));
    }

    #[test]
    fn documents_are_uploaded_by_their_issuers() {
        let officer = actor(&[Role::DonVi], &["so-y-te"]);
        let skhcn = actor(&[Role::Skhcn], &["so-khoa-hoc-va-cong-nghe"]);
        let issuers = [Role::Skhcn, Role::SoTaiChinh];
        let d = may_issue_document(
            &officer,
            "ket_qua_tham_dinh",
            "Kết quả thẩm định",
            Some(&issuers),
        )
        .unwrap_err();
        assert_eq!(d.rule, "document_issuer");
        assert!(
            d.message.contains("(skhcn)") && d.message.contains("Kết quả thẩm định"),
            "{}",
            d.message
        );
        assert!(may_issue_document(&skhcn, "ket_qua_tham_dinh", "x", Some(&issuers)).is_ok());
        assert!(may_issue_document(&officer, "thuyet_minh", "x", None).is_ok());
    }

    #[test]
    fn only_ubnd_transfers_a_task_to_another_unit() {
        for r in Role::ALL {
            let a = actor(&[r], &["so-y-te"]);
            assert_eq!(may_transfer(&a).is_ok(), r == Role::Ubnd, "{r:?}");
        }
        let d = may_transfer(&actor(&[Role::Admin], &[])).unwrap_err();
        assert_eq!(d.rule, "transfer_ubnd_only");
        assert!(d.message.contains("Sáp nhập đơn vị"), "{}", d.message);
    }

    #[test]
    fn the_approval_authority_admits_its_role_in_its_unit() {
        let authority = |unit: Option<&str>| crate::workflow::Resolved {
            approval: "a".into(),
            role: Role::ThuTruongDonVi,
            unit: unit.map(str::to_string),
            rule: None,
            source: None,
        };
        let head = actor(&[Role::ThuTruongDonVi], &["so-y-te"]);
        assert_eq!(authority_admits(&head, &authority(Some("so-y-te"))), Ok(()));
        assert_eq!(
            authority_admits(&head, &authority(Some("so-noi-vu"))),
            Err(NotAuthority::Unit)
        );
        assert_eq!(authority_admits(&head, &authority(None)), Ok(()));
        assert_eq!(
            authority_admits(&actor(&[Role::Ubnd], &[]), &authority(None)),
            Err(NotAuthority::Role)
        );
    }

    #[test]
    fn my_turn_binds_unit_roles_to_their_unit() {
        let officer = actor(&[Role::DonVi], &["so-y-te"]);
        assert!(is_my_turn(&officer, "so-y-te", &[Role::DonVi]));
        assert!(!is_my_turn(&officer, "so-noi-vu", &[Role::DonVi]));
        assert!(!is_my_turn(&officer, "so-y-te", &[Role::Skhcn]));
        let skhcn = actor(&[Role::Skhcn], &["so-khoa-hoc-va-cong-nghe"]);
        assert!(is_my_turn(&skhcn, "so-y-te", &[Role::Skhcn]));
    }

    fn any_roles() -> impl Strategy<Value = Vec<Role>> {
        proptest::sample::subsequence(Role::ALL.to_vec(), 0..=Role::ALL.len())
    }

    proptest! {
        /// Several roles give the union of what each gives: a task is visible to a multi-role
        /// user exactly when one of the single-role users would see it.
        #[test]
        fn visibility_is_the_union_over_roles(
            roles in any_roles(),
            turn in any_roles(),
            acted in any_roles(),
            own in proptest::bool::ANY,
        ) {
            let units: &[&str] = &["so-y-te"];
            let unit = if own { "so-y-te" } else { "so-noi-vu" };
            let f = facts(unit, &turn, &acted);
            let multi = may_see_task(&actor(&roles, units), &f);
            let any_single = roles.iter().any(|r| may_see_task(&actor(&[*r], units), &f));
            prop_assert_eq!(multi, any_single);
            // Skipping the audit lookup never changes the answer.
            if !needs_acted_roles(&actor(&roles, units), unit, &turn) {
                prop_assert_eq!(multi, may_see_task(&actor(&roles, units), &facts(unit, &turn, &[])));
            }
        }
    }

    #[test]
    fn uploads_stay_within_the_units_quota() {
        assert!(within_quota(0, 100, 100).is_ok());
        assert!(within_quota(50, 50, 100).is_ok());
        let e = within_quota(60, 50, 100).unwrap_err();
        assert_eq!((e.used, e.adding, e.quota), (60, 50, 100));
        assert!(e.message().contains("hạn mức"), "{}", e.message());
        assert!(within_quota(99, 0, 100).is_ok());
        assert!(within_quota(100, 0, 100).is_err(), "no room left at all");
    }

    #[test]
    fn users_of_a_merged_unit_read_what_they_had_and_act_on_nothing() {
        // Issue 13, security 7: so-y-te was merged into another unit; its officer keeps
        // reading its tasks but may no longer attach, take its steps or propose for it.
        let mut officer = actor(&[Role::DonVi, Role::ThuTruongDonVi], &[]);
        officer.read_units = vec!["so-y-te".into()];
        let f = facts("so-y-te", &[Role::DonVi], &[]);
        assert!(may_see_task(&officer, &f));
        assert!(may_attach_document(&officer, &f).is_err());
        assert!(!is_my_turn(&officer, "so-y-te", &[Role::DonVi]));
        assert_eq!(
            report_scope(&officer),
            Ok(Some(vec!["so-y-te".to_string()]))
        );
        let mut current = officer.clone();
        current.units = vec!["so-y-te".into()];
        current.read_units = Vec::new();
        assert!(may_attach_document(&current, &f).is_ok());
        assert!(is_my_turn(&current, "so-y-te", &[Role::DonVi]));
    }
}
