//! The set of workflows and calendars a deployment runs with.
//!
//! The adapters hand in the files' names and texts (from a directory or from the copy embedded in
//! the binary); the catalog parses calendars first, because every workflow counts its deadlines on
//! one, then every workflow, and refuses the whole set if any file is wrong.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{LoadError, Workflow, parse_workflow};
use crate::calendar::{Calendar, CalendarError, CalendarYear};

/// One definition file: its path relative to the workflows folder (`mua-sam.toml`,
/// `calendars/vn-2026.toml`) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

impl Source {
    pub fn is_calendar(&self) -> bool {
        self.path.starts_with("calendars/")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    calendars: BTreeMap<String, Arc<Calendar>>,
    /// (name, version) → workflow.
    workflows: BTreeMap<(String, u32), Arc<Workflow>>,
}

fn calendar_error(path: &str, e: CalendarError) -> LoadError {
    match e {
        CalendarError::Invalid {
            file,
            line,
            message,
        } => LoadError {
            file,
            line: line.unwrap_or(1),
            subject: None,
            message,
        },
        other => LoadError {
            file: path.to_string(),
            line: 1,
            subject: None,
            message: other.to_string(),
        },
    }
}

impl Catalog {
    /// Parses the calendar files among `sources` into calendars by name.
    pub fn load_calendars(
        sources: &[Source],
    ) -> Result<BTreeMap<String, Arc<Calendar>>, Vec<LoadError>> {
        let mut errors = Vec::new();
        let mut years: BTreeMap<String, (String, Vec<CalendarYear>)> = BTreeMap::new();
        for s in sources.iter().filter(|s| s.is_calendar()) {
            match CalendarYear::parse(&s.path, &s.text) {
                Ok(y) => years
                    .entry(y.calendar.clone())
                    .or_insert_with(|| (s.path.clone(), Vec::new()))
                    .1
                    .push(y),
                Err(e) => errors.push(calendar_error(&s.path, e)),
            }
        }
        let mut calendars = BTreeMap::new();
        for (name, (path, ys)) in years {
            match Calendar::new(&name, ys) {
                Ok(c) => {
                    calendars.insert(name, Arc::new(c));
                }
                Err(e) => errors.push(calendar_error(&path, e)),
            }
        }
        if errors.is_empty() {
            Ok(calendars)
        } else {
            Err(errors)
        }
    }

    /// Parses every calendar and workflow among `sources`; all errors of all files at once.
    pub fn load(sources: &[Source]) -> Result<Catalog, Vec<LoadError>> {
        let calendars = Self::load_calendars(sources)?;
        let mut errors = Vec::new();
        let mut workflows: BTreeMap<(String, u32), Arc<Workflow>> = BTreeMap::new();
        for s in sources.iter().filter(|s| !s.is_calendar()) {
            match parse_workflow(&s.path, &s.text, &calendars) {
                Ok(w) => {
                    let key = (w.name.clone(), w.version);
                    if let Some(other) = workflows.get(&key) {
                        errors.push(LoadError {
                            file: s.path.clone(),
                            line: 1,
                            subject: None,
                            message: format!(
                                "workflow `{}` version {} is also declared in {}",
                                w.name, w.version, other.file
                            ),
                        });
                    } else {
                        workflows.insert(key, Arc::new(w));
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        errors.extend(check_migrations(&workflows));
        if errors.is_empty() {
            Ok(Catalog {
                calendars,
                workflows,
            })
        } else {
            Err(errors)
        }
    }

    pub fn calendars(&self) -> impl Iterator<Item = &Arc<Calendar>> {
        self.calendars.values()
    }

    pub fn calendar(&self, name: &str) -> Option<&Arc<Calendar>> {
        self.calendars.get(name)
    }

    /// Every workflow version, by name then version.
    pub fn workflows(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        self.workflows.values()
    }

    pub fn get(&self, name: &str, version: u32) -> Option<&Arc<Workflow>> {
        self.workflows.get(&(name.to_string(), version))
    }

    /// The highest version of `name`.
    pub fn latest(&self, name: &str) -> Option<&Arc<Workflow>> {
        self.workflows
            .range((name.to_string(), 0)..=(name.to_string(), u32::MAX))
            .next_back()
            .map(|(_, w)| w)
    }

    /// The highest version of `name` that a new task may start on at `date`.
    pub fn for_date(&self, name: &str, date: NaiveDate) -> Option<&Arc<Workflow>> {
        self.workflows
            .range((name.to_string(), 0)..=(name.to_string(), u32::MAX))
            .rev()
            .map(|(_, w)| w)
            .find(|w| w.applies_on(date))
    }

    /// The distinct workflow names.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.workflows.keys().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        names
    }
}

/// Every `[[migrate_from]]` names a loaded older version of its workflow (kept while tasks run on
/// it) and maps every state of that version, to a state of its own.
fn check_migrations(workflows: &BTreeMap<(String, u32), Arc<Workflow>>) -> Vec<LoadError> {
    let mut errors = Vec::new();
    for w in workflows.values() {
        for m in &w.migrate_from {
            let err = |message: String| LoadError {
                file: w.file.clone(),
                line: m.line,
                subject: Some(format!("migrate_from version {}", m.from_version)),
                message,
            };
            let Some(old) = workflows.get(&(w.name.clone(), m.from_version)) else {
                errors.push(err(format!(
                    "version {} of `{}` is not loaded: keep its file while tasks run on it",
                    m.from_version, w.name
                )));
                continue;
            };
            let unmapped: Vec<&str> = old
                .states
                .iter()
                .map(|s| s.name.as_str())
                .filter(|s| !m.states.contains_key(*s))
                .collect();
            if !unmapped.is_empty() {
                errors.push(err(format!(
                    "the mapping leaves state(s) of version {} unmapped: {}",
                    m.from_version,
                    unmapped.join(", ")
                )));
            }
            let unknown: Vec<&str> = m
                .states
                .keys()
                .map(String::as_str)
                .filter(|s| old.state(s).is_none())
                .collect();
            if !unknown.is_empty() {
                errors.push(err(format!(
                    "not states of version {}: {}",
                    m.from_version,
                    unknown.join(", ")
                )));
            }
        }
    }
    errors
}
