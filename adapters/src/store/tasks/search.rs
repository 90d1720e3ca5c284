//! Searching tasks for an actor: the visibility rule of [`engine::access::task_scope`] turned
//! into SQL, so that a page of results is a page of visible tasks, then the search's own
//! conditions — plan, year, unit (with the units merged into it), funding source, kind, phase,
//! state, "my turn", overdue, stalled, due before/after, a text in the name — sorted and paged.

use chrono::{Days, NaiveTime};
use engine::Phase;
use engine::access;
use engine::decide::Actor;
use engine::domain::{FundingSource, UnitId};
use engine::time::{Instant, at_local, local_date};
use engine::workflow::{Approval, ApprovalRule, Authority, AuthorityUnit, Workflow};

use super::super::columns::fetch_all;
use super::super::sql::Arg;
use super::super::{Store, StoreError, Task, micros, with_db};
use super::TaskItem;
use super::read::SELECT_TASK;

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
    /// The owning unit, with the units merged into it. A [`UnitId`], so that a front end parses
    /// what its user typed first: text that is not a unit id (a unit's name, say) is refused
    /// there with a message, not searched for and answered with an empty list.
    pub unit: Option<UnitId>,
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
    pub items: Vec<TaskItem>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

enum Param {
    Text(String),
    Int(i64),
    Time(Instant),
}

impl Param {
    fn arg(&self) -> Arg<'_> {
        match self {
            Param::Text(s) => Arg::Str(s),
            Param::Int(i) => Arg::Int(*i),
            Param::Time(t) => Arg::Time(*t),
        }
    }
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
        // A calendar without the year asked about is the installation's gap, not the user's.
        if wf.calendar.is_working_day(day).map_err(|e| {
            StoreError::internal(format!(
                "Không xác định được nhiệm vụ đình trệ: {}",
                engine::wording::calendar_error(&e)
            ))
        })? {
            counted += 1;
        }
        day = day
            .pred_opt()
            .ok_or_else(|| StoreError::internal("stall cutoff: date out of range"))?;
    }
    // Entered strictly before the start of the day after D.
    let next = day
        .checked_add_days(Days::new(1))
        .ok_or_else(|| StoreError::internal("stall cutoff: date out of range"))?;
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

impl Where {
    /// The visibility rule ([`access::task_scope`]) as SQL: the actor's units, the states in
    /// their queue, the tasks their role has acted on.
    fn visible_to(&mut self, store: &Store, actor: &Actor) {
        let scope = access::task_scope(actor);
        if scope.all {
            return;
        }
        let mut ors = Vec::new();
        if !scope.units.is_empty() {
            let list = self.list(scope.units.iter().map(|u| text(u)));
            ors.push(format!("t.unit_id IN ({list})"));
        }
        if !scope.queue_roles.is_empty() {
            for wf in store.catalog().workflows() {
                let states: Vec<&str> = wf
                    .states
                    .iter()
                    .filter(|s| scope.queue_roles.iter().any(|r| s.roles.contains(r)))
                    .map(|s| s.name.as_str())
                    .collect();
                if !states.is_empty() {
                    ors.push(states_clause(self, wf, &states));
                }
            }
        }
        if !scope.acted_roles.is_empty() {
            let list = self.list(scope.acted_roles.iter().map(|r| text(r.as_str())));
            ors.push(format!(
                "EXISTS (SELECT 1 FROM audit_log a WHERE a.task_id = t.id AND a.actor_role IN ({list}))"
            ));
        }
        self.and(any_of(ors));
    }

    /// Equality conditions on plain columns: plan, year, funding source, kind, phase, state.
    fn columns(&mut self, q: &TaskQuery) {
        if let Some(plan) = &q.plan {
            let p = self.placeholder(text(plan));
            // Every task the plan lists, not only those it created.
            self.and(format!(
                "EXISTS (SELECT 1 FROM plan_listings pl JOIN plans pp ON pp.id = pl.plan_id \
                 WHERE pl.task_id = t.id AND (pp.number = {p} OR pp.id = {p}))"
            ));
        }
        if let Some(year) = q.year {
            let p = self.placeholder(Param::Int(i64::from(year)));
            self.and(format!(
                "EXISTS (SELECT 1 FROM plan_listings pl JOIN plans pp ON pp.id = pl.plan_id \
                 WHERE pl.task_id = t.id AND pp.year = {p})"
            ));
        }
        let equal: [(&str, Option<&str>); 4] = [
            ("t.funding_source", q.funding_source.map(|f| f.as_str())),
            ("t.kind", q.kind.as_deref()),
            ("t.phase", q.phase.map(|p| p.as_str())),
            ("t.state", q.state.as_deref()),
        ];
        for (column, value) in equal {
            if let Some(v) = value {
                let p = self.placeholder(text(v));
                self.and(format!("{column} = {p}"));
            }
        }
    }

    /// Tasks of `units` (a unit and those merged into it).
    fn of_units(&mut self, units: &[String]) {
        let list = self.list(units.iter().map(|u| text(u)));
        self.and(format!("t.unit_id IN ({list})"));
    }

    /// Tasks whose current step is the actor's: states of a city-wide role of theirs anywhere,
    /// states of a unit role only in their units, and states of an approval authority where the
    /// authority resolved for the task (by its funding source, own-fund flag and amount) is
    /// theirs ([`Where::approval_turn`]).
    fn my_turn(&mut self, store: &Store, actor: &Actor) {
        let mut ors = Vec::new();
        for wf in store.catalog().workflows() {
            let mut city = Vec::new();
            let mut unit_bound = Vec::new();
            for s in &wf.states {
                if let Some(a) = s.approval.as_deref().and_then(|a| wf.approvals.get(a)) {
                    if let Some(clause) = self.approval_turn(wf, &s.name, a, actor) {
                        ors.push(clause);
                    }
                } else if access::is_my_turn(actor, "", &s.roles) {
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
                ors.push(states_clause(self, wf, &city));
            }
            if !unit_bound.is_empty() {
                let states = states_clause(self, wf, &unit_bound);
                let units = self.list(actor.units.iter().map(|u| text(u)));
                ors.push(format!("({states} AND t.unit_id IN ({units}))"));
            }
        }
        self.and(any_of(ors));
    }

    /// Tasks in `state` whose approval authority, resolved as `Approval::resolve` does (the first
    /// rule whose conditions hold, else the default), is `actor`'s (`access::authority_admits`).
    /// `None` when it can be nobody's task of theirs.
    fn approval_turn(
        &mut self,
        wf: &Workflow,
        state: &str,
        a: &Approval,
        actor: &Actor,
    ) -> Option<String> {
        let branches: Vec<(Option<&ApprovalRule>, &Authority)> = a
            .rules
            .iter()
            .map(|r| (Some(r), &r.authority))
            .chain([(None, &a.default)])
            .collect();
        let mut earlier: Vec<String> = Vec::new();
        let mut ors = Vec::new();
        for (rule, authority) in branches {
            let cond = rule.map(|r| self.rule_holds(r));
            if let Some(who) = self.authority_is(authority, actor) {
                let mut parts: Vec<String> = earlier.iter().map(|e| format!("NOT {e}")).collect();
                parts.extend(cond.clone());
                parts.push(who);
                ors.push(format!("({})", parts.join(" AND ")));
            }
            earlier.extend(cond);
        }
        if ors.is_empty() {
            return None;
        }
        let states = states_clause(self, wf, &[state]);
        Some(format!("({states} AND {})", any_of(ors)))
    }

    /// A rule's conditions as SQL that is never NULL (a task without an amount meets no amount
    /// condition, as in `ApprovalRule::matches`).
    fn rule_holds(&mut self, r: &ApprovalRule) -> String {
        let mut parts = Vec::new();
        if !r.funding.is_empty() {
            let list = self.list(r.funding.iter().map(|f| text(f.as_str())));
            parts.push(format!("t.funding_source IN ({list})"));
        }
        if let Some(own) = r.own_fund {
            parts.push(format!(
                "t.own_fund = {}",
                if own { "TRUE" } else { "FALSE" }
            ));
        }
        const AMOUNT: &str =
            "(SELECT MAX(b.need_total_vnd) FROM budget_lines b WHERE b.task_id = t.id)";
        if let Some(min) = r.amount_at_least {
            let p = self.placeholder(Param::Int(min));
            parts.push(format!("COALESCE({AMOUNT} >= {p}, 1 = 0)"));
        }
        if let Some(max) = r.amount_below {
            let p = self.placeholder(Param::Int(max));
            parts.push(format!("COALESCE({AMOUNT} < {p}, 1 = 0)"));
        }
        if parts.is_empty() {
            "1 = 1".into()
        } else {
            format!("({})", parts.join(" AND "))
        }
    }

    /// Whether `actor` is `authority` on a task, as SQL; `None` when on none.
    fn authority_is(&mut self, authority: &Authority, actor: &Actor) -> Option<String> {
        if !actor.roles.contains(&authority.role) {
            return None;
        }
        match &authority.unit {
            AuthorityUnit::Any => Some("1 = 1".into()),
            AuthorityUnit::Named(u) => actor.units.contains(u).then(|| "1 = 1".into()),
            AuthorityUnit::Own if actor.units.is_empty() => None,
            AuthorityUnit::Own => {
                let list = self.list(actor.units.iter().map(|u| text(u)));
                Some(format!("t.unit_id IN ({list})"))
            }
        }
    }

    /// Running tasks that entered their state before their workflow's stall cutoff.
    fn stalled(&mut self, store: &Store, now: Instant) -> Result<(), StoreError> {
        let mut ors = Vec::new();
        for wf in store.catalog().workflows() {
            if let Some(n) = wf.stall_after_working_days {
                let cutoff = stall_cutoff(wf, n, now)?;
                let name = self.placeholder(text(&wf.name));
                let version = self.placeholder(Param::Int(i64::from(wf.version)));
                let c = self.placeholder(Param::Time(cutoff));
                ors.push(format!(
                    "(t.workflow = {name} AND t.workflow_version = {version} AND t.state_entered_at < {c})"
                ));
            }
        }
        self.and(any_of(ors));
        let still: Vec<Param> = Phase::ALL
            .into_iter()
            .filter(|p| p.is_terminal() || *p == Phase::Postponed)
            .map(|p| text(p.as_str()))
            .collect();
        let list = self.list(still);
        self.and(format!("t.phase NOT IN ({list})"));
        Ok(())
    }

    /// Deadline conditions: overdue at `now`, due before or after an instant.
    fn deadlines(&mut self, q: &TaskQuery, now: Instant) {
        let bounds = [
            (q.overdue.then_some(now), "<"),
            (q.due_before.map(micros), "<"),
            (q.due_after.map(micros), ">"),
        ];
        for (at, op) in bounds {
            if let Some(at) = at {
                let p = self.placeholder(Param::Time(at));
                self.and(format!("t.due_at IS NOT NULL AND t.due_at {op} {p}"));
            }
        }
    }

    /// Words of the task's name, folded on both sides ([`engine::domain::search_key`]):
    /// "benh an" finds "bệnh án".
    fn name_contains(&mut self, folded: &str) {
        let p = self.placeholder(Param::Text(escape_like(folded)));
        self.and(format!("t.name_search LIKE {p} ESCAPE '\\'"));
    }
}

/// The ORDER BY of a search.
fn order_by(sort: TaskSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    match sort {
        TaskSort::Created => format!("t.created_at {dir}, t.id {dir}"),
        TaskSort::Updated => format!("t.updated_at {dir}, t.id {dir}"),
        TaskSort::StateEntered => format!("t.state_entered_at {dir}, t.id {dir}"),
        TaskSort::Name => format!("t.name {dir}, t.id {dir}"),
        // Tasks without a deadline last, whichever the direction and the backend; ascending,
        // the order of the index `tasks_due` (migration 0009), so a page is read, not sorted.
        TaskSort::Due => format!("(t.due_at IS NULL), t.due_at {dir}, t.id {dir}"),
    }
}

/// The tasks `actor` may see that match `q`: one page of them, and how many match in all.
/// Visibility first, then each condition of the query, then one count and one page query.
pub(super) async fn search(
    store: &Store,
    actor: &Actor,
    q: &TaskQuery,
    now: Instant,
) -> Result<(Vec<Task>, i64, i64, i64), StoreError> {
    let now = micros(now);
    let mut w = Where::default();
    w.visible_to(store, actor);
    w.columns(q);
    if let Some(unit) = &q.unit {
        let units = match store.directory().merged_units(unit.as_str()).await {
            Ok(u) => u,
            Err(StoreError::NotFound { .. }) => vec![unit.to_string()],
            Err(e) => return Err(e),
        };
        w.of_units(&units);
    }
    if q.my_turn {
        w.my_turn(store, actor);
    }
    if q.stalled {
        w.stalled(store, now)?;
    }
    w.deadlines(q, now);
    let folded = q.text.as_deref().map(engine::domain::search_key);
    if let Some(t) = folded.as_deref().filter(|t| !t.is_empty()) {
        w.name_contains(t);
    }
    let order = order_by(q.sort, q.descending);
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let offset = q.offset.unwrap_or(0).max(0);
    let filter = w.sql();
    // The count joins the plans only when a condition reads them (plan, year): over every
    // visible task, counting one table's index is what keeps the list fast.
    let plans = if q.plan.is_some() || q.year.is_some() {
        " JOIN plans p ON p.id = t.plan_id"
    } else {
        ""
    };
    let count_sql = format!("SELECT COUNT(*) FROM tasks t{plans} WHERE {filter}");
    let page_sql =
        format!("{SELECT_TASK} WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let total: i64 = with_db!(store, |pool| {
        // Built from constant clauses and numbers only; every value is a bound parameter.
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.clone()));
        for p in &w.params {
            count = match p {
                Param::Text(s) => count.bind(s),
                Param::Int(i) => count.bind(*i),
                Param::Time(t) => count.bind(*t),
            };
        }
        count.fetch_one(pool).await?
    });
    let args: Vec<Arg<'_>> = w.params.iter().map(Param::arg).collect();
    let tasks: Vec<Task> = fetch_all(store, &page_sql, &args).await?;
    Ok((tasks, total, limit, offset))
}
