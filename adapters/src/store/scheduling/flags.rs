//! The year-end forecast's flags (issue 17): a task that cannot finish by its due date, or is at
//! risk, is flagged once (an audit entry of kind `forecast_flag` and an email to the unit head,
//! UBND and SKHCN as coordinator), and again only when the flag changes. The last flag raised
//! per task is kept in `forecast_flags`; the rule is `engine::forecast::flag_change`.

use chrono::NaiveDate;
use engine::Role;
use engine::forecast::{FLAG_KIND, FlagChange, Forecast, Verdict, flag_change};
use engine::time::{Instant, format_date};
use serde_json::json;

use super::super::plans::{NoteEntry, try_append_note};
use super::super::sql::{Arg, Conn, NewMessage, insert_messages};
use super::super::{StoreError, micros, new_id, with_db};
use super::Scheduling;

/// A task's forecast, to flag.
#[derive(Debug, Clone, Copy)]
pub struct FlagInput<'a> {
    pub task_id: &'a str,
    pub task_name: &'a str,
    pub unit_id: &'a str,
    /// The step the task is at (the email names it).
    pub state: &'a str,
    pub forecast: &'a Forecast,
}

#[derive(sqlx::FromRow)]
struct Raised {
    verdict: String,
}

/// The flag last raised for a task, as `forecast_flags` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RaisedFlag {
    #[sqlx(try_from = "String")]
    pub verdict: VerdictColumn,
    pub due_on: Option<NaiveDate>,
    pub earliest_on: NaiveDate,
    pub typical_on: NaiveDate,
    pub binding: Option<String>,
    pub raised_at: Instant,
}

/// A verdict read from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictColumn(pub Verdict);

impl TryFrom<String> for VerdictColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(VerdictColumn)
    }
}

impl RaisedFlag {
    /// "không thể hoàn thành đúng hạn: sớm nhất 19/01/2026, hạn 31/12/2025".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}: sớm nhất {}, thường gặp {}",
            self.verdict.0.label(),
            format_date(self.earliest_on),
            format_date(self.typical_on)
        );
        if let Some(d) = self.due_on {
            s.push_str(&format!(", hạn {}", format_date(d)));
        }
        s
    }
}

impl Scheduling<'_> {
    /// The flag last raised for a task and not cleared.
    pub async fn forecast_flag(&self, task_id: &str) -> Result<Option<RaisedFlag>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT verdict, due_on, earliest_on, typical_on, binding, raised_at FROM forecast_flags WHERE task_id = $1",
            )
            .bind(task_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Raises, clears or keeps the task's flag for its forecast, in one transaction: the flag
    /// row, the audit entry and (for a flag raised) the email. Returns what it did; a task whose
    /// audit chain moved meanwhile is tried again on the next pass (`Keep`).
    #[tracing::instrument(skip_all, fields(task = %t.task_id))]
    pub async fn raise_forecast_flag(
        &self,
        t: &FlagInput<'_>,
        now: Instant,
    ) -> Result<FlagChange, StoreError> {
        let now = micros(now);
        let f = t.forecast;
        Ok(with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let previous: Vec<Raised> = conn
                .fetch_all(
                    "SELECT verdict FROM forecast_flags WHERE task_id = $1",
                    &[Arg::Str(t.task_id)],
                )
                .await?;
            let previous = previous
                .into_iter()
                .next()
                .map(|r| r.verdict.parse::<Verdict>().map_err(StoreError::internal))
                .transpose()?;
            let change = flag_change(previous, f.verdict);
            if change == FlagChange::Keep {
                tx.rollback().await?;
                return Ok(FlagChange::Keep);
            }
            conn.execute(
                "DELETE FROM forecast_flags WHERE task_id = $1",
                &[Arg::Str(t.task_id)],
            )
            .await?;
            if let FlagChange::Raise(v) = change {
                conn.execute(
                    "INSERT INTO forecast_flags (task_id, verdict, due_on, earliest_on, typical_on, binding, raised_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        Arg::Str(t.task_id),
                        Arg::Str(v.as_str()),
                        Arg::OptDate(f.due),
                        Arg::Date(f.earliest.date),
                        Arg::Date(f.typical.date),
                        Arg::OptStr(f.binding.as_ref().map(|b| b.text.as_str())),
                        Arg::Time(now),
                    ],
                )
                .await?;
            }
            let note = NoteEntry::new(
                FLAG_KIND,
                FLAG_KIND,
                f.flag_comment(change).unwrap_or_default(),
                "system",
                None,
            );
            if !try_append_note(&mut conn, t.task_id, note, now).await? {
                tx.rollback().await?;
                return Ok(FlagChange::Keep);
            }
            if let FlagChange::Raise(v) = change {
                let payload = json!({
                    "task_id": t.task_id, "task_name": t.task_name, "unit_id": t.unit_id, "state": t.state,
                    "roles": [Role::ThuTruongDonVi, Role::Ubnd, Role::Skhcn],
                    "verdict": v.as_str(),
                    "summary": f.summary(),
                    "due": f.due, "due_reason": f.due_reason,
                    "shorter_path": f.shorter_path_note(),
                    "as_of": f.as_of,
                })
                .to_string();
                let id = new_id();
                let message = NewMessage {
                    id: &id,
                    task_id: Some(t.task_id),
                    template: "forecast.flag",
                    payload: &payload,
                };
                insert_messages(&mut conn, &[message], now).await?;
            }
            tx.commit().await?;
            change
        }))
    }
}
