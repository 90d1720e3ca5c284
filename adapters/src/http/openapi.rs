//! What the OpenAPI document says about values, beyond their types: the enums, patterns,
//! lengths, ranges and date formats the handlers enforce, so that a client (or a fuzzer such as
//! Schemathesis) that keeps to the document is not refused for its input.
//!
//! The handlers' types give the shape; this pass adds, for each parameter and body field, the
//! rule its handler applies (`extract::ident`, `extract::text`, a date parser, a range check)
//! and the names the loaded workflows define (workflow names, transitions, document types,
//! states), which exist only once the server has read its workflows folder. The rules name the
//! same constants as the checks (`engine::input`, `Role::ALL`, …); `tests/api/ops.rs` checks the
//! document against what the server answers.

use engine::input::MAX_IDENT_CHARS;
use engine::round::{MAX_LINE, MAX_TEXT};
use engine::workflow::Catalog;
use serde_json::{Value, json};

/// Characters [`engine::input::is_hidden_char`] refuses, as a regular-expression class body:
/// control characters (Cc), bidirectional marks, zero-width characters, the byte-order mark and
/// the non-characters it names.
const HIDDEN: &str = r"\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff";
/// The same, less the tab, line feed and carriage return a multi-line text may hold.
const HIDDEN_MULTILINE: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff";
/// White space as Rust's `str::trim` sees it (Unicode White_Space): a text made only of it is
/// empty.
const SPACE: &str =
    r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The names the loaded workflows define, for the enums of the document.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    pub workflows: Vec<String>,
    pub transitions: Vec<String>,
    pub document_types: Vec<String>,
    pub states: Vec<String>,
    pub calendars: Vec<String>,
    /// The years every loaded calendar knows: the calculators answer for dates in them only.
    pub calendar_years: Vec<i32>,
}

impl Vocabulary {
    /// Every name of every loaded workflow version (sorted, without repeats).
    pub fn of(catalog: &Catalog) -> Vocabulary {
        let mut v = Vocabulary::default();
        for w in catalog.workflows() {
            v.workflows.push(w.name.clone());
            v.transitions
                .extend(w.transitions.iter().map(|t| t.name.clone()));
            v.document_types.extend(w.document_types.keys().cloned());
            v.states.extend(w.states.iter().map(|s| s.name.clone()));
        }
        v.calendars = catalog.calendars().map(|c| c.name().to_string()).collect();
        let mut years: Option<Vec<i32>> = None;
        for c in catalog.calendars() {
            let mine: Vec<i32> = c.years().map(|y| y.year).collect();
            years = Some(match years {
                None => mine,
                Some(all) => all.into_iter().filter(|y| mine.contains(y)).collect(),
            });
        }
        v.calendar_years = years.unwrap_or_default();
        v.calendar_years.sort();
        for list in [
            &mut v.workflows,
            &mut v.transitions,
            &mut v.document_types,
            &mut v.states,
            &mut v.calendars,
        ] {
            list.sort();
            list.dedup();
        }
        v
    }
}

/// A one-line text of 1–`max` characters (after trimming), without hidden characters
/// (`extract::text`).
fn text(max: usize) -> Value {
    json!({
        "minLength": 1,
        "maxLength": max,
        "pattern": format!("^[^{HIDDEN}]*[^{SPACE}{HIDDEN}][^{HIDDEN}]*$"),
    })
}

/// A multi-line text: as [`text`], with line breaks and tabs.
fn multiline(max: usize) -> Value {
    json!({
        "minLength": 1,
        "maxLength": max,
        "pattern": format!("^[^{HIDDEN_MULTILINE}]*[^{SPACE}{HIDDEN_MULTILINE}][^{HIDDEN_MULTILINE}]*$"),
    })
}

/// An optional text (`extract::opt_text`): blank means absent, anything else is a [`text`].
fn opt_text(max: usize, lines: bool) -> Value {
    let hidden = if lines { HIDDEN_MULTILINE } else { HIDDEN };
    json!({ "maxLength": max, "pattern": format!("^[^{hidden}]*$") })
}

/// An identifier (`extract::ident`): 1–200 characters, not blank, no hidden character.
fn ident() -> Value {
    text(MAX_IDENT_CHARS)
}

/// A calendar date. The server also reads dd/mm/yyyy; the document names the ISO form.
fn date() -> Value {
    json!({ "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" })
}

/// A date in one of `years` (the years the calendars know), in the ISO form.
fn date_in(years: &[i32]) -> Value {
    let years: Vec<String> = years.iter().map(i32::to_string).collect();
    json!({
        "format": "date",
        "pattern": format!("^({})-[0-9]{{2}}-[0-9]{{2}}$", years.join("|")),
    })
}

/// A unit's id (`UnitId::parse`).
fn unit_id() -> Value {
    json!({ "pattern": "^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$", "minLength": 1, "maxLength": 100 })
}

fn range(min: i64, max: i64) -> Value {
    json!({ "minimum": min, "maximum": max })
}

fn one_of(values: &[String]) -> Value {
    json!({ "enum": values })
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Vec<String> {
    all.iter().map(|&x| name(x).to_string()).collect()
}

/// Merges `rule` into a schema: an `enum` of a nullable schema keeps `null` among its values.
fn apply(schema: &mut Value, rule: &Value) {
    let nullable = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for (k, v) in rule.as_object().into_iter().flatten() {
        let mut v = v.clone();
        if k == "enum"
            && nullable
            && let Value::Array(a) = &mut v
        {
            a.push(Value::Null);
        }
        obj.insert(k.clone(), v);
    }
}

/// Applies the rules to the document served at `/api/v1/openapi.json`.
pub fn constrain(doc: &mut Value, v: &Vocabulary) {
    use engine::domain::FundingSource;
    use engine::phase::Phase;
    use engine::plan::Relation;
    use engine::proposal::ProposalKind;
    use engine::role::Role;

    let year = range(2000, 2100);
    let vnd = range(0, crate::http::routes::tasks::MAX_VND);
    let roles = one_of(&names(&Role::ALL, Role::as_str));
    let funding = one_of(&names(&FundingSource::ALL, FundingSource::as_str));
    let workflows = one_of(&v.workflows);
    let transitions = one_of(&v.transitions);
    let document_types = one_of(&v.document_types);
    let states = one_of(&v.states);
    let calendars = one_of(&v.calendars);
    let phases = one_of(&names(&Phase::ALL, Phase::as_str));
    let relations = one_of(&names(&Relation::ALL, Relation::as_str));
    let proposal_kinds = one_of(&names(&ProposalKind::ALL, ProposalKind::as_str));
    // The status report has no official-document form (docx).
    let progress_formats = json!({ "enum": ["xlsx", "docx", "html", "md"] });
    let report_formats = json!({ "enum": ["xlsx", "html", "md"] });
    let sorts: Vec<String> = crate::store::TaskSort::NAMES
        .split(", ")
        .flat_map(|s| [s.to_string(), format!("-{s}")])
        .collect();
    let comment = opt_text(5000, true);
    let mut ident_item = json!({ "type": "string" });
    apply(&mut ident_item, &ident());
    let ident_list = json!({ "items": ident_item });
    let calendar_date = date_in(&v.calendar_years);

    // Body fields, by schema component.
    let fields: Vec<(&str, &str, Value)> = vec![
        ("NewPlanBody", "number", text(100)),
        ("NewPlanBody", "title", text(1000)),
        ("NewPlanBody", "year", year.clone()),
        ("NewPlanBody", "issued_on", date()),
        ("NewTaskBody", "plan", ident()),
        ("NewTaskBody", "unit", unit_id()),
        ("NewTaskBody", "name", text(1000)),
        ("NewTaskBody", "funding_source", funding.clone()),
        ("NewTaskBody", "kind", workflows.clone()),
        ("NewTaskBody", "period", opt_text(200, false)),
        ("BudgetBody", "year", year.clone()),
        ("BudgetBody", "need_total_vnd", vnd.clone()),
        ("BudgetBody", "approved_estimate_vnd", vnd.clone()),
        ("BudgetBody", "need_year_vnd", vnd.clone()),
        ("BudgetBody", "allocated_year_vnd", vnd.clone()),
        ("YearBudgetBody", "need_total_vnd", vnd.clone()),
        ("YearBudgetBody", "approved_estimate_vnd", vnd.clone()),
        ("YearBudgetBody", "need_year_vnd", vnd.clone()),
        ("YearBudgetBody", "planned_allocation_vnd", vnd.clone()),
        ("YearBudgetBody", "allocated_year_vnd", vnd.clone()),
        ("YearBudgetBody", "carried_over_vnd", vnd.clone()),
        ("YearBudgetBody", "spent_vnd", vnd.clone()),
        ("YearBudgetBody", "known_from", date()),
        ("TrancheBody", "tranche", range(1, 100)),
        ("TrancheBody", "amount_vnd", vnd.clone()),
        ("TrancheBody", "decision_number", opt_text(200, false)),
        ("TrancheBody", "decision_on", date()),
        (
            "DeadlineBody",
            "doc_number",
            text(engine::assigned::MAX_DOC_NUMBER_CHARS),
        ),
        ("DeadlineBody", "doc_date", date()),
        ("DeadlineBody", "on", date()),
        ("LineageBody", "relation", relations),
        ("LineageBody", "other_task_id", ident()),
        ("LineageBody", "reason", multiline(2000)),
        ("ProposalBody", "kind", proposal_kinds),
        ("ProposalBody", "letter", text(200)),
        ("ProposalBody", "letter_date", date()),
        ("ProposalBody", "comment", comment.clone()),
        (
            "ProposalDecisionBody",
            "decision",
            json!({ "enum": ["accept", "refuse"] }),
        ),
        ("ProposalDecisionBody", "comment", comment.clone()),
        ("ProposalDecisionBody", "documents", ident_list.clone()),
        ("RenameBody", "kind", workflows.clone()),
        ("RenameBody", "name", opt_text(1000, false)),
        ("RenameBody", "reason", multiline(2000)),
        ("TransferBody", "to_unit", unit_id()),
        ("TransferBody", "decision", text(200)),
        ("TransferBody", "decision_date", date()),
        ("TransferBody", "comment", comment.clone()),
        ("TransitionBody", "transition", transitions),
        ("TransitionBody", "comment", comment.clone()),
        ("TransitionBody", "documents", ident_list.clone()),
        ("NewTokenBody", "name", text(100)),
        (
            "NewTokenBody",
            "scope",
            json!({ "enum": ["full", "metrics"] }),
        ),
        ("NewUnitBody", "id", unit_id()),
        ("NewUnitBody", "name", text(300)),
        ("NewUnitBody", "parent", unit_id()),
        ("MergeUnitBody", "into", unit_id()),
        ("MergeUnitBody", "on", date()),
        ("RenameUnitBody", "name", text(300)),
        ("RenameUnitBody", "valid_from", date()),
        (
            "NewUserBody",
            "username",
            json!({ "pattern": "^[a-z0-9._-]{3,64}$" }),
        ),
        ("NewUserBody", "display_name", opt_text(200, false)),
        ("NewUserBody", "unit", unit_id()),
        (
            "NewUserBody",
            "roles",
            json!({ "items": roles.clone(), "minItems": 1, "uniqueItems": true }),
        ),
        (
            "NewUserBody",
            "email",
            json!({ "format": "email", "maxLength": 254 }),
        ),
        ("WorkflowCheckBody", "file_name", text(200)),
        (
            "NewUserBody",
            "password",
            // At least 10 characters, at most 1024 bytes: 256 characters of up to 4 bytes.
            json!({ "minLength": 10, "maxLength": 256 }),
        ),
        // Reporting rounds (`routes::rounds`).
        ("OpenRoundBody", "cut_off", date()),
        ("OpenRoundBody", "units_due", date()),
        ("OpenRoundBody", "instruction", text(MAX_LINE)),
        ("EntryBody", "progress", multiline(MAX_TEXT)),
        ("DifficultyDoc", "text", multiline(MAX_TEXT)),
        ("ProposalDoc", "text", multiline(MAX_TEXT)),
        ("ProposalDoc", "letter", opt_text(MAX_LINE, false)),
        ("DraftBody", "text", opt_text(4 * MAX_TEXT, true)),
        ("SignatureBody", "doc_number", opt_text(MAX_LINE, false)),
        ("SignerBody", "title", text(MAX_LINE)),
        ("SignerBody", "name", text(MAX_LINE)),
        ("SignerBody", "on_behalf", opt_text(MAX_LINE, false)),
    ];
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    if let Some(schemas) = schemas {
        for (schema, field, rule) in &fields {
            if let Some(p) = schemas
                .get_mut(*schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(*field))
            {
                apply(p, rule);
            }
        }
        // A unit's officer or head, and a department's lead, belong to a unit
        // (`store::directory::users::check_roles`).
        if let Some(s) = schemas
            .get_mut("NewUserBody")
            .and_then(Value::as_object_mut)
        {
            let unit_roles: Vec<String> = names(&Role::ALL, Role::as_str)
                .into_iter()
                .filter(|r| {
                    r.parse::<Role>()
                        .is_ok_and(|r| r.is_unit_role() || r.is_department_lead())
                })
                .collect();
            s.insert(
                "if".into(),
                json!({ "properties": { "roles": { "contains": { "enum": unit_roles } } }, "required": ["roles"] }),
            );
            s.insert(
                "then".into(),
                json!({ "required": ["unit"], "properties": { "unit": { "type": "string" } } }),
            );
        }
        // A refusal cites no documents (`routes::procedure::decide_proposal`).
        if let Some(s) = schemas
            .get_mut("ProposalDecisionBody")
            .and_then(Value::as_object_mut)
        {
            s.insert(
                "if".into(),
                json!({ "properties": { "decision": { "const": "refuse" } }, "required": ["decision"] }),
            );
            s.insert(
                "then".into(),
                json!({ "properties": { "documents": { "maxItems": 0 } } }),
            );
        }
    }

    // Parameters, by name (and, where one name means different things, by path).
    let param_rule = |path: &str, name: &str, location: &str| -> Option<Value> {
        Some(match (location, name) {
            ("path", "name") if path.starts_with("/api/v1/calendars/") => calendars.clone(),
            ("path", "name") if path.starts_with("/api/v1/workflows/") => workflows.clone(),
            ("path", "date") => calendar_date.clone(),
            // Working days are counted between these dates: only the calendars' years.
            ("query", "from" | "to") if path.starts_with("/api/v1/calendars/") => {
                calendar_date.clone()
            }
            ("query", "from" | "to" | "as_of") if path.starts_with("/api/v1/reports/") => {
                calendar_date.clone()
            }
            ("path", "year") | ("query", "year") => year.clone(),
            ("path", "username") => json!({ "pattern": "^[a-z0-9._-]{3,64}$" }),
            ("path", "id") if path.starts_with("/api/v1/units/") => unit_id(),
            ("path", _) => ident(),
            ("query", "from" | "to" | "as_of" | "due_before" | "due_after") => date(),
            ("query", "working_days" | "days") => range(0, 10_000),
            ("query", "stall_days") => range(1, 365),
            ("query", "format") if path == "/api/v1/reports/progress" => progress_formats.clone(),
            ("query", "format") => report_formats.clone(),
            ("query", "limit") if path == "/api/v1/outbox" => range(1, 500),
            ("query", "limit") => range(1, crate::store::MAX_PAGE),
            ("query", "offset") => range(0, 1_000_000_000),
            ("query", "funding_source") => funding.clone(),
            ("query", "kind") => workflows.clone(),
            ("query", "phase") => phases.clone(),
            ("query", "state") => states.clone(),
            ("query", "sort") => one_of(&sorts),
            ("query", "q") => opt_text(200, false),
            ("query", "unit") => unit_id(),
            ("query", "plan" | "status") => ident(),
            ("header", "Idempotency-Key") => json!({ "pattern": "^[!-~]{1,200}$" }),
            ("header", "If-Match") => {
                // Empty: no precondition, as when absent.
                json!({ "pattern": r#"^(|\*|"[0-9]{1,9}"( *, *"[0-9]{1,9}")*)$"# })
            }
            _ => return None,
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for (_, op) in item.as_object_mut().into_iter().flatten() {
            for p in op
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let location = p
                    .get("in")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let (Some(rule), Some(schema)) =
                    (param_rule(path, &name, &location), p.get_mut("schema"))
                {
                    // A header is absent or a string: never a JSON null.
                    if let (true, Some(s)) = (location == "header", schema.as_object_mut()) {
                        s.insert("type".into(), json!("string"));
                    }
                    apply(schema, &rule);
                }
            }
            // The upload form (an inline schema).
            if let Some(form) = op
                .pointer_mut("/requestBody/content/multipart~1form-data/schema")
                .and_then(Value::as_object_mut)
            {
                // Any other part is refused.
                form.insert("additionalProperties".into(), json!(false));
                let Some(form) = form.get_mut("properties") else {
                    continue;
                };
                for (field, rule) in [
                    ("type", document_types.clone()),
                    ("number", opt_text(200, false)),
                    ("issuer", opt_text(300, false)),
                    ("date", date()),
                ] {
                    if let Some(s) = form.get_mut(field) {
                        apply(s, &rule);
                    }
                }
            }
        }
    }
}
