//! Plans (kế hoạch) such as 215/KH-UBND: a number, a year, a title.

use chrono::NaiveDate;
use engine::access::{self, Area};
use engine::decide::Actor;
use engine::time::Instant;

use super::super::{Plan, StoreError, duplicate_or, micros, new_id, with_db};
use super::Directory;

const SELECT_PLAN: &str = "SELECT id, number, year, title, issued_on FROM plans";

impl Directory<'_> {
    /// Every plan, newest year first.
    #[tracing::instrument(skip_all)]
    pub async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_PLAN} ORDER BY year DESC, number"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    /// A plan by number (`215/KH-UBND`) or id.
    #[tracing::instrument(skip_all, fields(plan = %number))]
    pub async fn plan(&self, number: &str) -> Result<Plan, StoreError> {
        let found: Option<Plan> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_PLAN} WHERE number = $1 OR id = $1"
            )))
            .bind(number)
            .fetch_optional(pool)
            .await?
        });
        found.ok_or_else(|| StoreError::not_found("kế hoạch", number))
    }

    /// Adds a plan, for those who compile or issue plans (`engine::access::Area::Plans`).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %number))]
    pub async fn add_plan_as(
        &self,
        actor: &Actor,
        number: &str,
        year: i32,
        title: &str,
        issued_on: Option<NaiveDate>,
        now: Instant,
    ) -> Result<Plan, StoreError> {
        access::may_manage(actor, Area::Plans)?;
        self.add_plan(number, year, title, issued_on, now).await
    }

    /// Adds a plan. System door: no access rule.
    #[tracing::instrument(skip_all, fields(plan = %number))]
    pub async fn add_plan(
        &self,
        number: &str,
        year: i32,
        title: &str,
        issued_on: Option<NaiveDate>,
        now: Instant,
    ) -> Result<Plan, StoreError> {
        let number = number.trim();
        if number.is_empty() || title.trim().is_empty() {
            return Err(StoreError::Invalid(
                "Kế hoạch cần có số hiệu (ví dụ 215/KH-UBND) và tiêu đề.".into(),
            ));
        }
        if !(2000..=2100).contains(&year) {
            return Err(StoreError::Invalid(format!(
                "Năm kế hoạch {year} không hợp lệ (2000–2100)."
            )));
        }
        let id = new_id();
        let now = micros(now);
        let result: Result<(), sqlx::Error> = with_db!(self.store, |pool| {
            sqlx::query("INSERT INTO plans (id, number, year, title, issued_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(number)
                .bind(i64::from(year))
                .bind(title.trim())
                .bind(issued_on)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        });
        result.map_err(|e| duplicate_or(e, || format!("Kế hoạch `{number}`")))?;
        self.plan(number).await
    }
}
