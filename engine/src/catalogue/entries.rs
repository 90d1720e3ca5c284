//! The audit entries an import writes, and who they name.
//!
//! A new task's first entry is of kind `import` (transition [`IMPORT_TRANSITION`]): it records
//! the state the row placed the task in, with the row's progress text as its comment. A changed
//! row writes an `import_update` entry (transition [`IMPORT_UPDATE_TRANSITION`]) whose comment
//! says what changed, in Vietnamese. The store chains and hashes them like any other entry.

use super::place::Replacement;
use super::row::CatalogueRow;
use crate::Phase;
use crate::Role;
use crate::decide::AuditEntry;
use crate::time::Instant;
use crate::workflow::Workflow;

/// The import's entry names: what the audit log shows as the "transition".
pub const IMPORT_TRANSITION: &str = "nhap_tu_ke_hoach";
pub const IMPORT_UPDATE_TRANSITION: &str = "cap_nhat_tu_ke_hoach";

/// The entries' kinds in the audit log.
pub const IMPORT_KIND: &str = "import";
pub const IMPORT_UPDATE_KIND: &str = "import_update";

/// Who imports, as the audit log records it: a user and the role they imported in (see
/// [`crate::access::may_import`]), or the operator at the shell (`cli:LOGIN`, no role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importer {
    pub user: String,
    pub role: Option<Role>,
}

impl Importer {
    /// `actor`, in the role [`crate::access::may_import`] finds them allowed to import in.
    pub fn acting(actor: &crate::decide::Actor) -> Result<Importer, crate::access::Denied> {
        let role = crate::access::may_import(actor)?;
        Ok(Importer {
            user: actor.user.clone(),
            role: Some(role),
        })
    }

    /// The operator at the shell (`cli:LOGIN`), who holds the database and needs no account.
    pub fn operator(login: &str) -> Importer {
        Importer {
            user: login.to_string(),
            role: None,
        }
    }
}

/// The first entry of a task created from `row`.
pub fn new_task_entry(row: &CatalogueRow, importer: &Importer, at: Instant) -> AuditEntry {
    AuditEntry {
        transition: IMPORT_TRANSITION.into(),
        actor_user: importer.user.clone(),
        actor_role: importer.role,
        from_state: None,
        to_state: row.state.clone(),
        from_phase: None,
        to_phase: row.stage,
        comment: row.progress_text.clone(),
        documents: Vec::new(),
        workflow: row.kind.clone(),
        workflow_version: row.workflow_version,
        at,
    }
}

/// The entry of a task of `wf`, in `state` of `phase`, updated by a changed row: `changes` as
/// listed by [`super::reimport::ImportedValues::changes`], and where the task goes.
pub fn update_entry(
    wf: &Workflow,
    (state, phase): (&str, Phase),
    to: &Replacement,
    changes: &[String],
    importer: &Importer,
    at: Instant,
) -> AuditEntry {
    let mut comment = format!("Cập nhật theo tệp kế hoạch: {}", changes.join("; "));
    if let Some(n) = &to.note {
        comment.push_str(&format!(" ({n})"));
    }
    AuditEntry {
        transition: IMPORT_UPDATE_TRANSITION.into(),
        actor_user: importer.user.clone(),
        actor_role: importer.role,
        from_state: Some(state.to_string()),
        to_state: to.state.clone(),
        from_phase: Some(phase),
        to_phase: to.phase,
        comment: Some(comment),
        documents: Vec::new(),
        workflow: wf.name.clone(),
        workflow_version: wf.version,
        at,
    }
}
