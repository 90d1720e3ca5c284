//! Email: the SMTP transport (lettre) and the outbox relay that drains queued notifications.
//!
//! A notification is queued in the transaction that caused it (see `store::tasks`); the relay
//! claims queued rows with a lease, resolves the recipients from roles and units *at sending
//! time* (people change jobs; the task moves on), renders the Vietnamese message from the task as
//! it is now (`engine::notify`), and sends it. Failures back off exponentially; after the
//! configured number of attempts a message is dead and waits for an operator
//! (`tiendo outbox retry`). The Message-ID is derived from the outbox id, so a retried message
//! is recognisable as the same message.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use engine::Role;
use engine::notify::{Message, Rendered, TaskView, render};
use engine::time::{Instant, local_date};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::store::{OutboxJob, Store, StoreError};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP (a relay on the same host or a trusted network only).
    None,
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server, from `configuration` (`email.smtp_*`).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Never printed: `Debug` shows `[REDACTED]`.
    pub password: Option<SecretString>,
    pub from: Mailbox,
    pub timeout: Duration,
}

/// Sends rendered messages over SMTP.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The transport for `cfg`; fails only for a host that cannot be a TLS server name, which
    /// `configuration` already refuses. Needs a Tokio runtime (the connection pool starts).
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, lettre::transport::smtp::Error> {
        let mut builder = match cfg.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
            TlsMode::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)?,
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host)?,
        }
        .port(cfg.port)
        .timeout(Some(cfg.timeout));
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            builder =
                builder.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: cfg.from.clone(),
        })
    }

    /// The Message-ID of an outbox row: the same on every attempt.
    pub fn message_id(&self, outbox_id: &str) -> String {
        format!("<{outbox_id}@{}>", self.from.email.domain())
    }

    pub async fn send(&self, to: &[Mailbox], message_id: &str, m: &Rendered) -> Result<(), String> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(m.subject.clone())
            .message_id(Some(message_id.to_string()));
        for r in to {
            b = b.to(r.clone());
        }
        let email = b
            .multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                m.html.clone(),
            ))
            .map_err(|e| e.to_string())?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// How the relay retries.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Links in messages point here (`{base_url}/tasks/{id}`).
    pub base_url: String,
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long, up to an hour.
    pub retry_base: Duration,
    pub batch: i64,
    pub lease: TimeDelta,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            base_url: "http://127.0.0.1:8080".into(),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            // Claimed a few at a time: what a killed instance held waits out its lease.
            batch: 25,
            // Renewed by the scheduler's heartbeat while the message is being sent.
            lease: TimeDelta::seconds(10),
        }
    }
}

/// What one relay pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayReport {
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
    pub skipped: usize,
}

pub struct Relay {
    store: Store,
    mailer: Mailer,
    owner: String,
    cfg: RelayConfig,
}

impl Relay {
    pub fn new(store: Store, mailer: Mailer, owner: impl Into<String>, cfg: RelayConfig) -> Relay {
        Relay {
            store,
            mailer,
            owner: owner.into(),
            cfg,
        }
    }

    /// Sends what is due now, batch by batch, until nothing is due.
    #[tracing::instrument(name = "outbox.send", skip_all, fields(owner = %self.owner))]
    pub async fn run_once(&self, now: Instant) -> Result<RelayReport, StoreError> {
        let mut report = RelayReport::default();
        // `now` advanced by the time this pass has taken: a message's `sent_at` is when the SMTP
        // server accepted it, not when the pass began.
        let started = std::time::Instant::now();
        let clock = move || now + TimeDelta::from_std(started.elapsed()).unwrap_or_default();
        loop {
            let jobs = self
                .store
                .scheduling()
                .claim_outbox(&self.owner, clock(), self.cfg.batch, self.cfg.lease)
                .await?;
            if jobs.is_empty() {
                return Ok(report);
            }
            let claimed = jobs.len();
            for job in jobs {
                self.deliver(&job, &clock, &mut report).await?;
            }
            if i64::try_from(claimed).unwrap_or(i64::MAX) < self.cfg.batch {
                return Ok(report);
            }
        }
    }

    #[tracing::instrument(
        name = "outbox.deliver",
        skip_all,
        fields(outbox = %job.id, template = %job.template, attempt = job.attempts + 1)
    )]
    async fn deliver(
        &self,
        job: &OutboxJob,
        clock: &impl Fn() -> Instant,
        report: &mut RelayReport,
    ) -> Result<(), StoreError> {
        let now = clock();
        let message_id = self.mailer.message_id(&job.id);
        let prepared = match self.prepare(job, now).await {
            Ok(p) => p,
            Err(Skip(reason)) => {
                tracing::warn!(%reason, "message skipped");
                report.skipped += 1;
                return self
                    .store
                    .scheduling()
                    .finish_outbox(
                        &job.id,
                        &self.owner,
                        "skipped",
                        Some(&reason),
                        None,
                        None,
                        now,
                        now,
                    )
                    .await;
            }
        };
        let (to, rendered) = prepared;
        let recipients = to
            .iter()
            .map(|m| m.email.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let sent = self.mailer.send(&to, &message_id, &rendered).await;
        let now = clock();
        match sent {
            Ok(()) => {
                tracing::debug!(%message_id, "message sent");
                report.sent += 1;
                self.store
                    .scheduling()
                    .finish_outbox(
                        &job.id,
                        &self.owner,
                        "sent",
                        None,
                        Some(&message_id),
                        Some(&recipients),
                        now,
                        now,
                    )
                    .await
            }
            Err(e) => {
                let attempts = u32::try_from(job.attempts)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let dead = attempts >= self.cfg.max_attempts;
                let wait = self
                    .cfg
                    .retry_base
                    .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
                    .min(Duration::from_secs(3600));
                let next = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                if dead {
                    tracing::error!(error = %e, attempts, "message dead: waits for `tiendo outbox retry`");
                    report.dead += 1;
                } else {
                    tracing::warn!(error = %e, attempts, retry_at = %next, "message not sent");
                    report.failed += 1;
                }
                self.store
                    .scheduling()
                    .finish_outbox(
                        &job.id,
                        &self.owner,
                        if dead { "dead" } else { "pending" },
                        Some(&e),
                        Some(&message_id),
                        Some(&recipients),
                        next,
                        now,
                    )
                    .await
            }
        }
    }

    /// The recipients and the rendered message, or why there is nothing to send.
    async fn prepare(
        &self,
        job: &OutboxJob,
        now: Instant,
    ) -> Result<(Vec<Mailbox>, Rendered), Skip> {
        let p = &job.payload;
        let roles: Vec<Role> = p
            .get("roles")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default();
        let unit = p
            .get("unit_id")
            .and_then(|u| u.as_str())
            .map(str::to_string);
        let missed =
            u32::try_from(p.get("missed").and_then(|m| m.as_u64()).unwrap_or(0)).unwrap_or(0);
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        // A digest is dated by its slot, even when sent later.
        let date = p
            .get("slot")
            .and_then(|v| serde_json::from_value::<Instant>(v.clone()).ok())
            .map(local_date)
            .unwrap_or_else(|| local_date(now));
        let message = match job.template.as_str() {
            "digest.unit" => {
                let ids: Vec<String> = p
                    .get("task_ids")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let unit_id = unit
                    .clone()
                    .ok_or_else(|| Skip("digest without unit".into()))?;
                Message::UnitDigest {
                    unit_name: self
                        .store
                        .directory()
                        .unit(&unit_id)
                        .await
                        .map(|u| u.name)
                        .unwrap_or(unit_id),
                    date,
                    tasks: self.views(&ids, now).await,
                }
            }
            "digest.ubnd" => {
                let groups: Vec<(String, Vec<String>)> = p
                    .get("groups")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let mut out = Vec::new();
                for (unit_id, ids) in groups {
                    let name = self
                        .store
                        .directory()
                        .unit(&unit_id)
                        .await
                        .map(|u| u.name)
                        .unwrap_or(unit_id);
                    let mut views = self.views(&ids, now).await;
                    // The column of the year-end forecast: the flag last raised, if any.
                    for v in &mut views {
                        v.forecast = self
                            .store
                            .scheduling()
                            .forecast_flag(&v.id)
                            .await
                            .ok()
                            .flatten()
                            .map(|f| f.describe());
                    }
                    out.push((name, views));
                }
                Message::UbndDigest { date, groups: out }
            }
            template if template.starts_with("round.") => {
                let stage = engine::notify::RoundStage::from_template(template)
                    .ok_or_else(|| Skip(format!("unknown template `{template}`")))?;
                let date = |k: &str| {
                    p.get(k)
                        .and_then(|v| serde_json::from_value::<chrono::NaiveDate>(v.clone()).ok())
                        .ok_or_else(|| Skip(format!("{template} without `{k}`")))
                };
                let count = |k: &str| {
                    u32::try_from(p.get(k).and_then(|v| v.as_u64()).unwrap_or(0)).unwrap_or(0)
                };
                Message::Round {
                    stage,
                    round: engine::notify::RoundNotice {
                        plan_number: text("plan_number").unwrap_or_default(),
                        number: count("round"),
                        instruction: text("instruction").unwrap_or_default(),
                        cut_off: date("cut_off")?,
                        units_due: date("units_due")?,
                        unit_name: text("unit_name").unwrap_or_default(),
                        entered: count("entered"),
                        tasks: count("tasks"),
                    },
                }
            }
            template => {
                let task_id = job
                    .task_id
                    .clone()
                    .ok_or_else(|| Skip(format!("{template} without a task")))?;
                // The step the event recorded: the state a transition entered, the state whose
                // deadline fired or that stalled.
                let recorded = Recorded {
                    state: text(
                        if template.starts_with("task.turn")
                            || template == "task.progress"
                            || template == "task.proposal"
                        {
                            "to_state"
                        } else {
                            "state"
                        },
                    ),
                    due_at: p
                        .get("due_at")
                        .and_then(|v| serde_json::from_value::<Instant>(v.clone()).ok()),
                };
                let task = task_view_as_recorded(
                    &self.store,
                    &task_id,
                    now,
                    &self.cfg.base_url,
                    &recorded,
                )
                .await
                .ok_or_else(|| Skip(format!("task {task_id} no longer exists")))?;
                match template {
                    "task.turn" => Message::Turn {
                        task,
                        comment: text("comment"),
                        actor: text("actor"),
                    },
                    "task.proposal" => Message::Proposal {
                        task,
                        proposal: text("proposal").unwrap_or_default(),
                        comment: text("comment"),
                        actor: text("actor"),
                    },
                    "task.progress" => Message::Progress {
                        task,
                        comment: text("comment"),
                    },
                    "deadline.reminder" => Message::Reminder { task, missed },
                    "deadline.due" => Message::Due { task, missed },
                    "deadline.overdue" => Message::Overdue { task, missed },
                    "deadline.escalation" => Message::Escalation { task },
                    "task.stalled" => Message::Stalled { task },
                    "forecast.flag" => Message::ForecastFlag {
                        task,
                        cannot_finish: text("verdict").as_deref() == Some("cannot_finish"),
                        summary: text("summary").unwrap_or_default(),
                        shorter_path: text("shorter_path"),
                    },
                    other => return Err(Skip(format!("unknown template `{other}`"))),
                }
            }
        };
        let departments: Vec<Role> = p
            .get("departments")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default();
        let mut to = BTreeSet::new();
        for role in &roles {
            let users = if role.is_department_lead() {
                self.store.directory().department_leads(&departments).await
            } else {
                self.store
                    .directory()
                    .users_with_role(*role, unit.as_deref())
                    .await
            }
            .map_err(|e| Skip(format!("cannot resolve recipients: {e}")))?;
            for u in users {
                let Some(raw) = u.email.as_deref() else {
                    continue;
                };
                // Addresses are checked when recorded (engine::input::email); one recorded
                // before that, or by hand, that is not one address is dropped here, and said.
                match engine::input::email("email", raw)
                    .ok()
                    .and_then(|e| e.parse::<lettre::Address>().ok())
                {
                    Some(email) => {
                        to.insert((email.to_string(), u.display_name.clone()));
                    }
                    None => tracing::warn!(
                        user = %u.username,
                        address = %raw.escape_debug(),
                        outbox = %job.id,
                        "recipient dropped: the user's email is not one valid address"
                    ),
                }
            }
        }
        if to.is_empty() {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            return Err(Skip(format!(
                "không có người nhận có địa chỉ email cho vai trò {}{}",
                names.join(", "),
                unit.map(|u| format!(" của đơn vị {u}")).unwrap_or_default()
            )));
        }
        let to = to
            .into_iter()
            .filter_map(|(email, name)| Some(Mailbox::new(Some(name), email.parse().ok()?)))
            .collect();
        Ok((to, render(&message)))
    }

    async fn views(&self, ids: &[String], now: Instant) -> Vec<TaskView> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = task_view(&self.store, id, now, &self.cfg.base_url).await {
                out.push(v);
            }
        }
        out
    }
}

/// A message that will not be sent, and why (recorded on the outbox row).
struct Skip(String);

/// What a queued message recorded about its task when it was queued.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The step the message is about.
    pub state: Option<String>,
    /// That step's deadline, if it had one.
    pub due_at: Option<Instant>,
}

/// The task as a message about `recorded` shows it: that step, with its deadline. When the task
/// has left that step since, its roles and deadline are the recorded step's and
/// [`TaskView::moved_to`] names the step the task is at now.
pub async fn task_view_as_recorded(
    store: &Store,
    id: &str,
    now: Instant,
    base_url: &str,
    recorded: &Recorded,
) -> Option<TaskView> {
    let mut view = task_view(store, id, now, base_url).await?;
    let Some(state) = recorded.state.as_deref() else {
        return Some(view);
    };
    let task = store.tasks().unscoped().get(id).await.ok()?;
    if task.state == state {
        return Some(view);
    }
    let wf = store.catalog().get(&task.workflow, task.workflow_version)?;
    let step = wf.state(state);
    view.moved_to = Some(std::mem::replace(
        &mut view.state_title,
        step.map(|s| s.title.clone())
            .unwrap_or_else(|| state.to_string()),
    ));
    if let Some(s) = step {
        view.phase_title = s.phase.title().to_string();
        view.turn_roles = s.roles.clone();
    }
    view.due_at = recorded
        .due_at
        .filter(|_| step.is_some_and(|s| s.deadline.is_some()));
    view.time_left = None;
    view.overdue = view.due_at.is_some_and(|due| due < now);
    Some(view)
}

/// The task as a message shows it now: current step, deadline and time left.
pub async fn task_view(store: &Store, id: &str, now: Instant, base_url: &str) -> Option<TaskView> {
    let task = store.tasks().unscoped().get(id).await.ok()?;
    let wf = store.catalog().get(&task.workflow, task.workflow_version)?;
    let state = wf.state(&task.state);
    let cal = &wf.calendar;
    // A message leaves out days it cannot count (the calendar lacks a year): the subject then
    // says "sắp đến hạn" or "quá hạn" without a number, and operators see the calendar error
    // in the CLI and API.
    let time_left = task
        .clock
        .as_ref()
        .map(|c| engine::wording::time_left(Some(wf), c, now))
        .filter(|l| !matches!(l, engine::wording::TimeLeft::Unknown { .. }));
    Some(TaskView {
        id: task.id.clone(),
        name: task.name.clone(),
        unit_name: task.unit_name.clone(),
        state_title: state
            .map(|s| s.title.clone())
            .unwrap_or_else(|| task.state.clone()),
        round: task
            .state_entries
            .get(&task.state)
            .copied()
            .unwrap_or(1)
            .max(1),
        phase_title: task.phase.title().to_string(),
        turn_roles: state.map(|s| s.roles.clone()).unwrap_or_default(),
        due_at: task.due_at,
        time_left,
        overdue: task.due_at.is_some_and(|due| due < now),
        deadline_kind: task
            .clock
            .as_ref()
            .and_then(|c| wf.state(&c.state))
            .and_then(|s| s.deadline.as_ref())
            .map(|d| d.kind.describe()),
        idle_working_days: cal.working_days_between(task.state_entered_at, now).ok(),
        link: format!("{}/tasks/{}", base_url.trim_end_matches('/'), task.id),
        moved_to: None,
        forecast: None,
    })
}
