//! The store on behalf of an actor: every read and every administrative change asks
//! [`engine::access`] first, so the command line and the HTTP API apply the same rules.
//!
//! - Task visibility: [`Store::task_visible`] looks up the facts `access::may_see_task` needs (the
//!   current state's roles from the workflow, and — only for an appraiser outside their queue —
//!   the roles that acted on the task), and [`Store::search_tasks`] turns the same rule
//!   ([`access::task_scope`]) into SQL, so that a page of results is a page of visible tasks.
//! - Search: by plan, year, unit (with the units merged into it), funding source, kind, phase,
//!   state, "my turn", overdue, stalled, due before/after, a text in the name; sorted and paged.
//! - Administration: units, plans, the outbox and workflow checks, each behind
//!   `access::may_manage`.

use std::collections::BTreeMap;

use chrono::{Days, NaiveTime};
use engine::Phase;
use engine::Role;
use engine::access::{self, Area, TaskFacts};
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::time::{Instant, at_local, local_date};
use engine::workflow::{LoadError, Workflow, parse_workflow};
use sqlx::Row;

use super::directory::micros;
use super::{
    AuditRecord, Document, OutboxEntry, Plan, Store, StoreError, Task, TaskFilter, Unit, with_db,
};

/// How a task list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSort {
    #[default]
    Created,
    Updated,
    Due,
    Name,
    StateEntered,
}

impl TaskSort {
    pub const NAMES: &'static str = "created, updated, due, name, state_entered";

    /// `created`, `-due` (a leading '-' sorts descending).
    pub fn parse(s: &str) -> Result<(TaskSort, bool), String> {
        let (desc, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let sort = match name {
            "created" => TaskSort::Created,
            "updated" => TaskSort::Updated,
            "due" => TaskSort::Due,
            "name" => TaskSort::Name,
            "state_entered" => TaskSort::StateEntered,
            _ => {
                return Err(format!(
                    "cách sắp xếp `{s}` không hợp lệ; dùng một trong: {} (thêm '-' phía trước để sắp xếp giảm dần)",
                    TaskSort::NAMES
                ));
            }
        };
        Ok((sort, desc))
    }
}

/// A task search. Every condition narrows; all are optional.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// The plan's number or id.
    pub plan: Option<String>,
    /// The plan's year.
    pub year: Option<i32>,
    /// The owning unit, with the units merged into it.
    pub unit: Option<String>,
    pub funding_source: Option<FundingSource>,
    /// The workflow name (kind of task).
    pub kind: Option<String>,
    pub phase: Option<Phase>,
    pub state: Option<String>,
    /// Only tasks whose current step is the actor's to take.
    pub my_turn: bool,
    /// Only tasks whose current deadline has passed.
    pub overdue: bool,
    /// Only running tasks that have not moved for their workflow's `stall_after_working_days`.
    pub stalled: bool,
    pub due_before: Option<Instant>,
    pub due_after: Option<Instant>,
    /// Words of the task's name, in order, with or without diacritics and in any case.
    pub text: Option<String>,
    pub sort: TaskSort,
    pub descending: bool,
    /// Page size; at most [`MAX_PAGE`].
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

/// One page of a search, with the number of matching tasks on every page.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

enum Param {
    Text(String),
    Int(i64),
    Time(Instant),
}

/// A WHERE clause under construction: `$?` in each piece becomes the next placeholder.
#[derive(Default)]
struct Where {
    parts: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn placeholder(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn list(&mut self, values: impl IntoIterator<Item = Param>) -> String {
        let items: Vec<String> = values.into_iter().map(|p| self.placeholder(p)).collect();
        items.join(", ")
    }

    fn and(&mut self, clause: String) {
        self.parts.push(clause);
    }

    fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".into()
        } else {
            self.parts.join(" AND ")
        }
    }
}

fn text(s: &str) -> Param {
    Param::Text(s.to_string())
}

/// `(t.workflow = $ AND t.workflow_version = $ AND t.state IN (…))` for one workflow version.
fn states_clause(w: &mut Where, wf: &Workflow, states: &[&str]) -> String {
    let name = w.placeholder(text(&wf.name));
    let version = w.placeholder(Param::Int(i64::from(wf.version)));
    let list = w.list(states.iter().map(|s| text(s)));
    format!("(t.workflow = {name} AND t.workflow_version = {version} AND t.state IN ({list}))")
}

fn any_of(ors: Vec<String>) -> String {
    if ors.is_empty() {
        "1 = 0".into()
    } else {
        format!("({})", ors.join(" OR "))
    }
}

/// The latest local date D such that a task that entered its state on D or before has been
/// still for at least `n` working days at `now` (`working_days_between(entered, now) >= n`).
fn stall_cutoff(wf: &Workflow, n: u32, now: Instant) -> Result<Instant, StoreError> {
    let mut day = local_date(now);
    let mut counted = 0;
    while counted < n {
        if wf.calendar.is_working_day(day).map_err(|e| {
            StoreError::Invalid(format!(
                "Không xác định được nhiệm vụ đình trệ: {}",
                engine::wording::calendar_error(&e)
            ))
        })? {
            counted += 1;
        }
        day = day
            .pred_opt()
            .ok_or_else(|| StoreError::Invalid("ngày ngoài phạm vi".into()))?;
    }
    // Entered strictly before the start of the day after D.
    let next = day
        .checked_add_days(Days::new(1))
        .ok_or_else(|| StoreError::Invalid("ngày ngoài phạm vi".into()))?;
    Ok(at_local(next, NaiveTime::MIN))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Whose turn it is in the task's current state; none if its workflow is not loaded.
    fn turn_roles(&self, task: &Task) -> Vec<Role> {
        self.catalog()
            .get(&task.workflow, task.workflow_version)
            .and_then(|w| w.state(&task.state).map(|s| s.roles.clone()))
            .unwrap_or_default()
    }

    /// The roles someone has acted in on a task, from its audit log.
    async fn acted_roles(&self, task_id: &str) -> Result<Vec<Role>, StoreError> {
        let roles: Vec<String> = with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT actor_role FROM audit_log WHERE task_id = $1 AND actor_role IS NOT NULL",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?
        });
        Ok(roles.iter().filter_map(|r| r.parse().ok()).collect())
    }

    /// The facts of a task that the access rules read, looking up the audit log only when the
    /// answer depends on it.
    async fn task_facts_for(
        &self,
        task: &Task,
        actor: &Actor,
    ) -> Result<(Vec<Role>, Vec<Role>), StoreError> {
        let turn = self.turn_roles(task);
        let acted = if access::needs_acted_roles(actor, &task.unit_id, &turn) {
            self.acted_roles(&task.id).await?
        } else {
            Vec::new()
        };
        Ok((turn, acted))
    }

    /// Whether `actor` may see `task` ([`access::may_see_task`]).
    pub async fn task_visible(&self, task: &Task, actor: &Actor) -> Result<bool, StoreError> {
        let (turn, acted) = self.task_facts_for(task, actor).await?;
        Ok(access::may_see_task(
            actor,
            &TaskFacts {
                unit: &task.unit_id,
                turn: &turn,
                acted_in: &acted,
            },
        ))
    }

    /// Refuses unless `actor` may attach documents to `task` ([`access::may_attach_document`]).
    pub async fn check_attach(&self, task: &Task, actor: &Actor) -> Result<(), StoreError> {
        let (turn, acted) = self.task_facts_for(task, actor).await?;
        access::may_attach_document(
            actor,
            &TaskFacts {
                unit: &task.unit_id,
                turn: &turn,
                acted_in: &acted,
            },
        )?;
        Ok(())
    }

    /// Whether the task's current step is `actor`'s to take ([`access::is_my_turn`]).
    pub fn is_my_turn(&self, task: &Task, actor: &Actor) -> bool {
        access::is_my_turn(actor, &task.unit_id, &self.turn_roles(task))
    }

    /// Whether a running task has not moved for its workflow's stall period at `now`.
    pub fn is_stalled(&self, task: &Task, now: Instant) -> bool {
        let Some(wf) = self.catalog().get(&task.workflow, task.workflow_version) else {
            return false;
        };
        match wf.stall_after_working_days {
            Some(n) if !task.phase.is_terminal() && task.phase != Phase::Postponed => wf
                .calendar
                .working_days_between(task.state_entered_at, now)
                .is_ok_and(|d| d >= i64::from(n)),
            _ => false,
        }
    }

    /// A task's audit history, for someone who may see the task.
    pub async fn history_for(
        &self,
        task_id: &str,
        actor: &Actor,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.task_for(task_id, actor).await?;
        self.history(task_id).await
    }

    /// A task's documents, for someone who may see the task.
    pub async fn documents_for(
        &self,
        task_id: &str,
        actor: &Actor,
    ) -> Result<Vec<Document>, StoreError> {
        self.task_for(task_id, actor).await?;
        self.documents(task_id).await
    }

    /// One document, for someone who may see its task; otherwise not found.
    pub async fn document_for(&self, id: &str, actor: &Actor) -> Result<Document, StoreError> {
        let task_id: Option<String> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT task_id FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let not_found = || StoreError::NotFound {
            what: "tài liệu",
            id: id.to_string(),
        };
        let task_id = task_id.ok_or_else(not_found)?;
        let task = self.task(&task_id).await?;
        if !self.task_visible(&task, actor).await? {
            return Err(not_found());
        }
        self.documents(&task_id)
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(not_found)
    }

    /// The tasks `actor` may see that match `q`, one page of them.
    pub async fn search_tasks(
        &self,
        q: &TaskQuery,
        actor: &Actor,
        now: Instant,
    ) -> Result<TaskPage, StoreError> {
        let now = micros(now);
        let mut w = Where::default();
        // Visibility first: the same rule as `task_visible`, as SQL.
        let scope = access::task_scope(actor);
        if !scope.all {
            let mut ors = Vec::new();
            if !scope.units.is_empty() {
                let list = w.list(scope.units.iter().map(|u| text(u)));
                ors.push(format!("t.unit_id IN ({list})"));
            }
            if !scope.queue_roles.is_empty() {
                for wf in self.catalog().workflows() {
                    let states: Vec<&str> = wf
                        .states
                        .iter()
                        .filter(|s| scope.queue_roles.iter().any(|r| s.roles.contains(r)))
                        .map(|s| s.name.as_str())
                        .collect();
                    if !states.is_empty() {
                        ors.push(states_clause(&mut w, wf, &states));
                    }
                }
            }
            if !scope.acted_roles.is_empty() {
                let list = w.list(scope.acted_roles.iter().map(|r| text(r.as_str())));
                ors.push(format!(
                    "EXISTS (SELECT 1 FROM audit_log a WHERE a.task_id = t.id AND a.actor_role IN ({list}))"
                ));
            }
            w.and(any_of(ors));
        }
        if let Some(plan) = &q.plan {
            let p = w.placeholder(text(plan));
            w.and(format!("(p.number = {p} OR p.id = {p})"));
        }
        if let Some(year) = q.year {
            let p = w.placeholder(Param::Int(i64::from(year)));
            w.and(format!("p.year = {p}"));
        }
        if let Some(unit) = &q.unit {
            let units = match self.merged_units(unit).await {
                Ok(u) => u,
                Err(StoreError::NotFound { .. }) => vec![unit.clone()],
                Err(e) => return Err(e),
            };
            let list = w.list(units.iter().map(|u| text(u)));
            w.and(format!("t.unit_id IN ({list})"));
        }
        if let Some(f) = q.funding_source {
            let p = w.placeholder(text(f.as_str()));
            w.and(format!("t.funding_source = {p}"));
        }
        if let Some(kind) = &q.kind {
            let p = w.placeholder(text(kind));
            w.and(format!("t.kind = {p}"));
        }
        if let Some(phase) = q.phase {
            let p = w.placeholder(text(phase.as_str()));
            w.and(format!("t.phase = {p}"));
        }
        if let Some(state) = &q.state {
            let p = w.placeholder(text(state));
            w.and(format!("t.state = {p}"));
        }
        if q.my_turn {
            let mut ors = Vec::new();
            for wf in self.catalog().workflows() {
                let mut city = Vec::new();
                let mut unit_bound = Vec::new();
                for s in &wf.states {
                    if access::is_my_turn(actor, "", &s.roles) {
                        city.push(s.name.as_str());
                    } else if actor
                        .units
                        .first()
                        .is_some_and(|u| access::is_my_turn(actor, u, &s.roles))
                    {
                        unit_bound.push(s.name.as_str());
                    }
                }
                if !city.is_empty() {
                    ors.push(states_clause(&mut w, wf, &city));
                }
                if !unit_bound.is_empty() {
                    let states = states_clause(&mut w, wf, &unit_bound);
                    let units = w.list(actor.units.iter().map(|u| text(u)));
                    ors.push(format!("({states} AND t.unit_id IN ({units}))"));
                }
            }
            w.and(any_of(ors));
        }
        if q.overdue {
            let p = w.placeholder(Param::Time(now));
            w.and(format!("t.due_at IS NOT NULL AND t.due_at < {p}"));
        }
        if q.stalled {
            let mut ors = Vec::new();
            for wf in self.catalog().workflows() {
                if let Some(n) = wf.stall_after_working_days {
                    let cutoff = stall_cutoff(wf, n, now)?;
                    let name = w.placeholder(text(&wf.name));
                    let version = w.placeholder(Param::Int(i64::from(wf.version)));
                    let c = w.placeholder(Param::Time(cutoff));
                    ors.push(format!(
                        "(t.workflow = {name} AND t.workflow_version = {version} AND t.state_entered_at < {c})"
                    ));
                }
            }
            w.and(any_of(ors));
            let still: Vec<Param> = Phase::ALL
                .into_iter()
                .filter(|p| p.is_terminal() || *p == Phase::Postponed)
                .map(|p| text(p.as_str()))
                .collect();
            let list = w.list(still);
            w.and(format!("t.phase NOT IN ({list})"));
        }
        if let Some(before) = q.due_before {
            let p = w.placeholder(Param::Time(micros(before)));
            w.and(format!("t.due_at IS NOT NULL AND t.due_at < {p}"));
        }
        if let Some(after) = q.due_after {
            let p = w.placeholder(Param::Time(micros(after)));
            w.and(format!("t.due_at IS NOT NULL AND t.due_at > {p}"));
        }
        // Folded on both sides (engine::domain::search_key): "benh an" finds "bệnh án".
        let folded = q.text.as_deref().map(engine::domain::search_key);
        if let Some(t) = folded.as_deref().filter(|t| !t.is_empty()) {
            let p = w.placeholder(Param::Text(escape_like(t)));
            w.and(format!("t.name_search LIKE {p} ESCAPE '\\'"));
        }

        let dir = if q.descending { "DESC" } else { "ASC" };
        let order = match q.sort {
            TaskSort::Created => format!("t.created_at {dir}, t.id {dir}"),
            TaskSort::Updated => format!("t.updated_at {dir}, t.id {dir}"),
            TaskSort::StateEntered => format!("t.state_entered_at {dir}, t.id {dir}"),
            TaskSort::Name => format!("t.name {dir}, t.id {dir}"),
            // Tasks without a deadline last, whichever the direction and the backend.
            TaskSort::Due => {
                format!("CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at {dir}, t.id {dir}")
            }
        };
        let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let offset = q.offset.unwrap_or(0).max(0);
        let from = "FROM tasks t JOIN plans p ON p.id = t.plan_id";
        let filter = w.sql();
        let count_sql = format!("SELECT COUNT(*) {from} WHERE {filter}");
        let page_sql = format!(
            "SELECT t.id {from} WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        );
        let (total, ids): (i64, Vec<String>) = with_db!(self, |pool| {
            // Built from constant clauses and numbers only; every value is a bound parameter.
            let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.clone()));
            let mut page = sqlx::query(sqlx::AssertSqlSafe(page_sql.clone()));
            for p in &w.params {
                (count, page) = match p {
                    Param::Text(s) => (count.bind(s), page.bind(s)),
                    Param::Int(i) => (count.bind(*i), page.bind(*i)),
                    Param::Time(t) => (count.bind(*t), page.bind(*t)),
                };
            }
            let total = count.fetch_one(pool).await?;
            let rows = page.fetch_all(pool).await?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                ids.push(r.try_get::<String, _>("id")?);
            }
            (total, ids)
        });
        let mut tasks = Vec::with_capacity(ids.len());
        for id in ids {
            tasks.push(self.task(&id).await?);
        }
        Ok(TaskPage {
            tasks,
            total,
            limit,
            offset,
        })
    }

    /// The command line's task list: [`Store::search_tasks`] with the CLI's filters, every
    /// matching visible task.
    pub async fn list_tasks_for(
        &self,
        f: &TaskFilter,
        actor: &Actor,
        now: Instant,
    ) -> Result<Vec<Task>, StoreError> {
        let mut q = TaskQuery {
            plan: f.plan.clone(),
            unit: f.unit.clone(),
            phase: f.phase,
            state: f.state.clone(),
            due_before: f.overdue_at,
            limit: Some(MAX_PAGE),
            offset: f.offset,
            ..TaskQuery::default()
        };
        let mut out = Vec::new();
        loop {
            let page = self.search_tasks(&q, actor, now).await?;
            let n = page.tasks.len() as i64;
            out.extend(page.tasks);
            if n < page.limit || f.limit.is_some_and(|l| out.len() as i64 >= l) {
                break;
            }
            q.offset = Some(page.offset + n);
        }
        if let Some(l) = f.limit {
            out.truncate(usize::try_from(l.max(0)).unwrap_or(0));
        }
        Ok(out)
    }

    /// Every plan, newest year first.
    pub async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, number, year, title, issued_on FROM plans ORDER BY year DESC, number",
            )
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(Plan {
                    id: r.try_get("id")?,
                    number: r.try_get("number")?,
                    year: i32::try_from(r.try_get::<i64, _>("year")?).unwrap_or_default(),
                    title: r.try_get("title")?,
                    issued_on: r.try_get("issued_on")?,
                });
            }
            out
        }))
    }

    pub async fn add_plan_as(
        &self,
        actor: &Actor,
        number: &str,
        year: i32,
        title: &str,
        issued_on: Option<chrono::NaiveDate>,
        now: Instant,
    ) -> Result<Plan, StoreError> {
        access::may_manage(actor, Area::Plans)?;
        self.add_plan(number, year, title, issued_on, now).await
    }

    pub async fn add_unit_as(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        parent_id: Option<&str>,
        now: Instant,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        self.add_unit(id, name, parent_id, now).await
    }

    pub async fn rename_unit_as(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        valid_from: chrono::NaiveDate,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "Tên đơn vị không được để trống.".into(),
            ));
        }
        self.rename_unit(id, name, valid_from).await
    }

    pub async fn merge_unit_as(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
        on: chrono::NaiveDate,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        self.merge_unit(from, into, on).await?;
        self.unit(from).await
    }

    /// The notification outbox, for administrators.
    pub async fn outbox_as(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        access::may_manage(actor, Area::Outbox)?;
        self.outbox(status, limit.clamp(1, MAX_PAGE)).await
    }

    /// Puts failed messages (one, or all with `None`) back in the queue, for administrators.
    pub async fn retry_outbox_as(
        &self,
        actor: &Actor,
        id: Option<&str>,
        now: Instant,
    ) -> Result<u64, StoreError> {
        access::may_manage(actor, Area::Outbox)?;
        if let Some(id) = id {
            let status: Option<String> = with_db!(self, |pool| {
                sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
            });
            match status.as_deref() {
                None => {
                    return Err(StoreError::NotFound {
                        what: "thư",
                        id: id.to_string(),
                    });
                }
                Some("dead" | "skipped") => {}
                Some(other) => {
                    return Err(StoreError::Invalid(format!(
                        "Thư `{id}` đang ở trạng thái `{other}`: chỉ gửi lại được thư lỗi (dead) hoặc bị bỏ qua (skipped)."
                    )));
                }
            }
        }
        self.retry_outbox(id, now).await
    }

    /// Checks a workflow file against the loaded calendars without installing it: what an
    /// administrator runs before putting a new workflow version in the workflows folder.
    pub fn check_workflow_as(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
    ) -> Result<Result<Workflow, Vec<LoadError>>, StoreError> {
        access::may_manage(actor, Area::WorkflowVersions)?;
        let calendars: BTreeMap<String, std::sync::Arc<engine::calendar::Calendar>> = self
            .catalog()
            .calendars()
            .map(|c| (c.name().to_string(), c.clone()))
            .collect();
        Ok(parse_workflow(file, text, &calendars))
    }
}
