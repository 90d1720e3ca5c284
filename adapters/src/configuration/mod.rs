//! The configuration tree: every setting tiendo reads, read in one place, validated once when
//! a command starts, and handed to each part of the program as its own branch of [`Settings`].
//!
//! Sources, later ones winning: built-in defaults < a TOML file (`--config FILE` or
//! `TIENDO_CONFIG`) < environment variables < command-line flags. Every setting has one key in
//! the file and one environment variable, listed in [`SETTINGS`]; the value of every source goes
//! through the same parser, so a value means the same wherever it is written. A wrong value is
//! an error naming the setting, where the value came from and what is allowed, in Vietnamese and
//! English; never silently the default. Secrets (the SMTP password, a password inside the
//! database URL) never print through `Debug`.
//!
//! - this module: the tree, the list of settings, and how the sources make a tree;
//! - `sources`: the layers (file, environment, flags) and where each value came from;
//! - `values`: the parsers, one per kind of value, and the database URL that hides its password;
//! - `error`: the refusal, naming the setting, its source and what is allowed.
//!
//! Adding a setting: one line in [`SETTINGS`], one field in its branch, one parse in
//! [`Settings::from_sources`], one row in the README's Configuration table.

mod error;
mod sources;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;

pub use error::{Allowed, ConfigError};
pub use sources::{Origin, Override};
pub use values::{DatabaseUrl, redact_password};

use crate::email::{RelayConfig, SmtpConfig, TlsMode};
use crate::scheduler::SchedulerConfig;
use crate::store::AuthPolicy;
use sources::Layers;
use values::*;

/// One setting: its key in the configuration file and its environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// `section.name` in the TOML file (`name` alone at the top of the file).
    pub key: &'static str,
    pub env: &'static str,
    /// Its value never appears in an error message or a `Debug` print.
    pub secret: bool,
}

const fn setting(key: &'static str, env: &'static str) -> Setting {
    Setting {
        key,
        env,
        secret: false,
    }
}

/// Every setting tiendo reads.
pub const SETTINGS: &[Setting] = &[
    setting("database_url", "DATABASE_URL"),
    setting("group_commit", "TIENDO_GROUP_COMMIT"),
    setting("workflows", "TIENDO_WORKFLOWS"),
    setting("data_dir", "TIENDO_DATA_DIR"),
    setting("log", "RUST_LOG"),
    setting("http.listen", "TIENDO_LISTEN"),
    setting("http.cookie_secure", "TIENDO_COOKIE_SECURE"),
    setting("http.session_idle", "TIENDO_SESSION_IDLE"),
    setting("http.session_max", "TIENDO_SESSION_MAX"),
    setting("http.signin_max_failures", "TIENDO_SIGNIN_MAX_FAILURES"),
    setting(
        "http.signin_max_failures_per_address",
        "TIENDO_SIGNIN_MAX_FAILURES_PER_ADDRESS",
    ),
    setting("http.signin_window", "TIENDO_SIGNIN_WINDOW"),
    setting("http.signin_max_delay", "TIENDO_SIGNIN_MAX_DELAY"),
    setting("http.max_upload_bytes", "TIENDO_MAX_UPLOAD_BYTES"),
    setting("http.unit_quota_bytes", "TIENDO_UNIT_QUOTA_BYTES"),
    setting("http.trusted_proxies", "TIENDO_TRUSTED_PROXIES"),
    setting("email.smtp_host", "TIENDO_SMTP_HOST"),
    setting("email.smtp_port", "TIENDO_SMTP_PORT"),
    setting("email.smtp_tls", "TIENDO_SMTP_TLS"),
    setting("email.smtp_username", "TIENDO_SMTP_USERNAME"),
    Setting {
        key: "email.smtp_password",
        env: "TIENDO_SMTP_PASSWORD",
        secret: true,
    },
    setting("email.from", "TIENDO_MAIL_FROM"),
    setting("email.base_url", "TIENDO_BASE_URL"),
    setting("email.max_attempts", "TIENDO_OUTBOX_MAX_ATTEMPTS"),
    setting("email.retry_seconds", "TIENDO_OUTBOX_RETRY_SECONDS"),
    setting("scheduler.poll_seconds", "TIENDO_SCHEDULER_POLL_SECONDS"),
    setting("scheduler.stall_working_days", "TIENDO_STALL_WORKING_DAYS"),
    setting("scheduler.stall_scan_seconds", "TIENDO_STALL_SCAN_SECONDS"),
    setting(
        "scheduler.forecast_flags_seconds",
        "TIENDO_FORECAST_FLAGS_SECONDS",
    ),
    setting("scheduler.seal_seconds", "TIENDO_SEAL_SECONDS"),
    setting("scheduler.digest_unit_cron", "TIENDO_DIGEST_UNIT_CRON"),
    setting("scheduler.digest_ubnd_cron", "TIENDO_DIGEST_UBND_CRON"),
    setting(
        "scheduler.digest_working_days_only",
        "TIENDO_DIGEST_WORKING_DAYS_ONLY",
    ),
];

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "TIENDO_CONFIG";

/// Where document files are stored unless configured.
pub const DEFAULT_DATA_DIR: &str = "tiendo-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// The documents one unit may store, all tasks together: 10 GiB.
pub const DEFAULT_UNIT_QUOTA_BYTES: usize = 10 * 1024 * 1024 * 1024;

/// Everything tiendo is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    /// A folder of workflow files and calendars; `None`: the copy built into the binary.
    pub workflows: Option<PathBuf>,
    /// Where document files are stored (content-addressed, see `files`).
    pub data_dir: PathBuf,
    /// The log filter (`RUST_LOG` syntax); `None`: the command's default (see `telemetry`).
    pub log: Option<String>,
    pub http: HttpSettings,
    pub email: EmailSettings,
    pub scheduler: SchedulerConfig,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// Transitions that arrive together written in one transaction by one writer, on
    /// PostgreSQL (always so on SQLite). Default off.
    pub group_commit: bool,
}

/// The HTTP server (`tiendo serve`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (sent over HTTPS only).
    pub cookie_secure: bool,
    pub auth: AuthPolicy,
    pub max_upload_bytes: usize,
    /// The bytes of documents one unit may store (507 `quota_exceeded` beyond).
    pub unit_quota_bytes: usize,
    /// The reverse proxies whose `X-Forwarded-For` names the client: a request from one of
    /// these addresses is taken to come from the last address in that header that is not one of
    /// them. Empty: the header is ignored, the peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl HttpSettings {
    /// Everything at its default, listening on `listen`; the cookie is `Secure` unless `listen`
    /// is a loopback address (plain-HTTP development).
    pub fn new(listen: SocketAddr) -> HttpSettings {
        HttpSettings {
            listen,
            cookie_secure: !listen.ip().is_loopback(),
            auth: AuthPolicy::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            unit_quota_bytes: DEFAULT_UNIT_QUOTA_BYTES,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Email: the SMTP server (none: messages stay queued) and how the outbox relay sends.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub smtp: Option<SmtpConfig>,
    pub relay: RelayConfig,
}

impl Settings {
    /// Reads the configuration of a command: the file (`file`, else `TIENDO_CONFIG`, else
    /// none), the process environment, then the command-line `overrides`.
    pub fn load(file: Option<&Path>, overrides: &[Override]) -> Result<Settings, ConfigError> {
        let env = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
        let file = file.map(Path::to_path_buf).or_else(|| {
            env(CONFIG_ENV)
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from)
        });
        let text = match &file {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
                path: p.clone(),
                error: e.to_string(),
            })?),
            None => None,
        };
        let source = file.as_deref().zip(text.as_deref());
        Settings::from_sources(source, env, overrides)
    }

    /// The defaults, with nothing read from anywhere.
    pub fn defaults() -> Settings {
        Settings::from_sources(None, |_| None, &[]).expect("the defaults are valid")
    }

    /// [`Settings::load`] with every source given: the file as `(path, text)`, the environment
    /// as a lookup (for tests).
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl Fn(&str) -> Option<String>,
        overrides: &[Override],
    ) -> Result<Settings, ConfigError> {
        let l = Layers::merge(file, &env, overrides)?;

        let database = DatabaseSettings {
            url: l.or("database_url", DatabaseUrl::default(), DatabaseUrl::parse)?,
            group_commit: l.or("group_commit", false, flag)?,
        };
        let workflows = l.get("workflows", path)?;
        let data_dir = l.or("data_dir", PathBuf::from(DEFAULT_DATA_DIR), path)?;
        let log = l.get("log", log_filter)?;

        let listen = l.or(
            "http.listen",
            DEFAULT_LISTEN.parse().expect("default listen address"),
            socket_addr,
        )?;
        let defaults = HttpSettings::new(listen);
        let auth = AuthPolicy {
            session_idle: l.or("http.session_idle", defaults.auth.session_idle, duration)?,
            session_absolute: l.or("http.session_max", defaults.auth.session_absolute, duration)?,
            failures_per_user: l.or(
                "http.signin_max_failures",
                defaults.auth.failures_per_user,
                positive,
            )?,
            failures_per_address: l.or(
                "http.signin_max_failures_per_address",
                defaults.auth.failures_per_address,
                positive,
            )?,
            failure_window: l.or("http.signin_window", defaults.auth.failure_window, duration)?,
            max_delay: l.or("http.signin_max_delay", defaults.auth.max_delay, duration)?,
        };
        if auth.session_idle > auth.session_absolute {
            return Err(if l.is_given("http.session_idle") {
                l.refuse(
                    "http.session_idle",
                    Allowed::new(
                        "không được dài hơn TIENDO_SESSION_MAX (http.session_max)",
                        "must not be longer than TIENDO_SESSION_MAX (http.session_max)",
                    ),
                )
            } else {
                l.refuse(
                    "http.session_max",
                    Allowed::new(
                        "không được ngắn hơn TIENDO_SESSION_IDLE (http.session_idle, mặc định PT30M)",
                        "must not be shorter than TIENDO_SESSION_IDLE (http.session_idle, default PT30M)",
                    ),
                )
            });
        }
        let http = HttpSettings {
            listen,
            cookie_secure: l.or("http.cookie_secure", defaults.cookie_secure, flag)?,
            auth,
            max_upload_bytes: l.or("http.max_upload_bytes", defaults.max_upload_bytes, positive)?,
            unit_quota_bytes: l.or("http.unit_quota_bytes", defaults.unit_quota_bytes, positive)?,
            trusted_proxies: l.or("http.trusted_proxies", Vec::new(), ip_networks)?,
        };

        let email = email_settings(&l)?;
        let scheduler = scheduler_settings(&l)?;
        Ok(Settings {
            database,
            workflows,
            data_dir,
            log,
            http,
            email,
            scheduler,
        })
    }
}

fn email_settings(l: &Layers) -> Result<EmailSettings, ConfigError> {
    let host = l.get("email.smtp_host", host)?;
    let tls = l.or("email.smtp_tls", TlsMode::StartTls, tls_mode)?;
    let port = l.get("email.smtp_port", port)?;
    let username = l.get("email.smtp_username", |v| Ok(v.to_string()))?;
    let password = l.get("email.smtp_password", |v| Ok(SecretString::from(v)))?;
    let from = l.or(
        "email.from",
        "tiendo <tiendo@localhost>".parse().expect("default sender"),
        mailbox,
    )?;
    if let Some(h) = &host
        && tls != TlsMode::None
        && lettre::transport::smtp::client::TlsParameters::new(h.clone()).is_err()
    {
        return Err(l.refuse(
            "email.smtp_host",
            Allowed::new(
                "với TLS cần tên máy chủ hợp lệ, ví dụ smtp.haiphong.gov.vn",
                "with TLS, use a valid server name such as smtp.haiphong.gov.vn",
            ),
        ));
    }
    let smtp = host.map(|host| SmtpConfig {
        host,
        port: port.unwrap_or(match tls {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        }),
        tls,
        username,
        password,
        from,
        timeout: Duration::from_secs(20),
    });
    let d = RelayConfig::default();
    let relay = RelayConfig {
        base_url: l.or("email.base_url", d.base_url.clone(), base_url)?,
        max_attempts: l.or("email.max_attempts", d.max_attempts, positive)?,
        retry_base: l
            .get("email.retry_seconds", seconds)?
            .map(Duration::from_secs)
            .unwrap_or(d.retry_base),
        ..d
    };
    Ok(EmailSettings { smtp, relay })
}

fn scheduler_settings(l: &Layers) -> Result<SchedulerConfig, ConfigError> {
    let d = SchedulerConfig::default();
    let delta = |n: u64| TimeDelta::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000));
    Ok(SchedulerConfig {
        poll: l
            .get("scheduler.poll_seconds", positive::<u64>)?
            .map(Duration::from_secs)
            .unwrap_or(d.poll),
        stall_working_days: l.or(
            "scheduler.stall_working_days",
            d.stall_working_days,
            positive,
        )?,
        stall_scan_every: l
            .get("scheduler.stall_scan_seconds", positive::<u64>)?
            .map(delta)
            .unwrap_or(d.stall_scan_every),
        seal_every: match l.get("scheduler.seal_seconds", seconds)? {
            Some(0) => None,
            Some(n) => Some(delta(n)),
            None => d.seal_every,
        },
        forecast_flags_every: match l.get("scheduler.forecast_flags_seconds", seconds)? {
            Some(0) => None,
            Some(n) => Some(delta(n)),
            None => d.forecast_flags_every,
        },
        unit_digest: l.or(
            "scheduler.digest_unit_cron",
            d.unit_digest.clone(),
            cron_or_off,
        )?,
        ubnd_digest: l.or(
            "scheduler.digest_ubnd_cron",
            d.ubnd_digest.clone(),
            cron_or_off,
        )?,
        digests_on_working_days_only: l.or(
            "scheduler.digest_working_days_only",
            d.digests_on_working_days_only,
            flag,
        )?,
        ..d
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::store::DEFAULT_DATABASE_URL;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn every_setting_has_one_key_and_one_variable() {
        let mut keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        let mut vars: Vec<&str> = SETTINGS.iter().map(|s| s.env).collect();
        keys.sort_unstable();
        keys.dedup();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
        assert_eq!(vars.len(), SETTINGS.len());
    }

    #[test]
    fn the_defaults() {
        let s = Settings::defaults();
        assert_eq!(s.database.url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.http.listen.to_string(), DEFAULT_LISTEN);
        assert!(!s.http.cookie_secure, "plain loopback development");
        assert!(s.email.smtp.is_none(), "no host: email off");
        assert_eq!(s.email.relay.max_attempts, 8);
        assert_eq!(s.scheduler.stall_working_days, 10);
        assert!(s.log.is_none());
        assert!(
            !s.database.group_commit,
            "PostgreSQL: one transaction per transition"
        );
    }

    #[test]
    fn environment_over_file_and_flags_over_both() {
        let file = r#"
database_url = "postgres://tiendo@db.example/tiendo"
data_dir = "/var/lib/tiendo"
group_commit = true

[http]
listen = "0.0.0.0:8080"
signin_max_failures = 3
session_idle = "PT1H"

[email]
smtp_host = "smtp.haiphong.gov.vn"
smtp_port = 2525
from = "Tiến độ CNTT <tiendo@haiphong.gov.vn>"

[scheduler]
digest_ubnd_cron = "off"
seal_seconds = 0
"#;
        let s = Settings::from_sources(
            Some((Path::new("tiendo.toml"), file)),
            env_of(&[("TIENDO_SIGNIN_MAX_FAILURES", "7"), ("TIENDO_DATA_DIR", "")]),
            &[Override::new("http.listen", "--listen", "127.0.0.1:9000")],
        )
        .unwrap();
        assert_eq!(
            s.database.url.expose(),
            "postgres://tiendo@db.example/tiendo"
        );
        assert!(s.database.group_commit, "from the file");
        assert_eq!(
            s.data_dir,
            PathBuf::from("/var/lib/tiendo"),
            "an empty variable is unset"
        );
        assert_eq!(s.http.listen.to_string(), "127.0.0.1:9000", "the flag wins");
        assert!(!s.http.cookie_secure, "loopback, as the flag says");
        assert_eq!(
            s.http.auth.failures_per_user, 7,
            "the environment wins over the file"
        );
        assert_eq!(s.http.auth.session_idle, TimeDelta::hours(1));
        let smtp = s.email.smtp.expect("configured");
        assert_eq!(smtp.port, 2525);
        assert_eq!(smtp.tls, TlsMode::StartTls);
        assert!(s.scheduler.ubnd_digest.is_none());
        assert!(s.scheduler.unit_digest.is_some());
        assert!(s.scheduler.seal_every.is_none());
        let public =
            Settings::from_sources(None, env_of(&[("TIENDO_LISTEN", "0.0.0.0:80")]), &[]).unwrap();
        assert!(public.http.cookie_secure, "not loopback: HTTPS cookie");
    }

    #[test]
    fn a_wrong_value_names_the_setting_its_source_and_what_is_allowed() {
        let e = Settings::from_sources(None, env_of(&[("TIENDO_SESSION_MAX", "một ngày")]), &[])
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("TIENDO_SESSION_MAX"), "{text}");
        assert!(text.contains("http.session_max"), "{text}");
        assert!(text.contains("biến môi trường"), "{text}");
        assert!(text.contains("PT30M"), "{text}");
        assert!(text.contains("Invalid setting"), "both languages: {text}");

        let e = Settings::from_sources(
            Some((
                Path::new("/etc/tiendo.toml"),
                "[email]\nsmtp_tls = \"ssl\"\n",
            )),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert_eq!(e.setting().map(|s| s.env), Some("TIENDO_SMTP_TLS"));
        let text = e.to_string();
        assert!(
            text.contains("/etc/tiendo.toml") && text.contains("starttls"),
            "{text}"
        );

        let e = Settings::from_sources(
            None,
            |_| None,
            &[Override::new("http.listen", "--listen", "localhost")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("--listen"), "{e}");

        for (var, value) in [
            ("TIENDO_MAX_UPLOAD_BYTES", "0"),
            ("TIENDO_SMTP_PORT", "70000"),
            ("TIENDO_STALL_WORKING_DAYS", "-1"),
            ("TIENDO_DIGEST_UNIT_CRON", "every morning"),
            ("TIENDO_DIGEST_WORKING_DAYS_ONLY", "maybe"),
            ("TIENDO_MAIL_FROM", "not an address"),
            ("TIENDO_BASE_URL", "tiendo.haiphong.gov.vn"),
            ("DATABASE_URL", "mysql://x"),
            ("RUST_LOG", "info,[["),
            ("TIENDO_SEAL_SECONDS", "hourly"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(vec![(var, value)].into_boxed_slice());
            let e = Settings::from_sources(None, env_of(pairs), &[])
                .expect_err(&format!("{var}={value} must be refused"));
            assert_eq!(e.setting().map(|s| s.env), Some(var), "{e}");
        }

        let e = Settings::from_sources(None, env_of(&[("TIENDO_SESSION_IDLE", "PT13H")]), &[])
            .unwrap_err();
        assert!(e.to_string().contains("TIENDO_SESSION_MAX"), "{e}");
    }

    #[test]
    fn the_file_is_checked_for_unknown_keys_and_types() {
        let e = Settings::from_sources(
            Some((Path::new("t.toml"), "[http]\nlisten_on = \"x\"\n")),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Unknown { key, .. } if key == "http.listen_on"),
            "{e}"
        );
        assert!(e.to_string().contains("http.listen"), "lists the keys: {e}");
        let e = Settings::from_sources(
            Some((Path::new("t.toml"), "data_dir = [1]\n")),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        // A list of strings is a list setting's value, as a comma-separated one is in the
        // environment.
        let s = Settings::from_sources(
            Some((
                Path::new("t.toml"),
                "[http]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
            )),
            |_| None,
            &[],
        )
        .expect("a list");
        assert_eq!(s.http.trusted_proxies.len(), 2);
        let env = Settings::from_sources(
            None,
            |k| (k == "TIENDO_TRUSTED_PROXIES").then(|| "127.0.0.1, ::1".to_string()),
            &[],
        )
        .expect("a list");
        assert_eq!(env.http.trusted_proxies.len(), 2);
        let e = Settings::from_sources(
            None,
            |k| (k == "TIENDO_TRUSTED_PROXIES").then(|| "127.0.0.1,proxy".to_string()),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("`proxy`"), "{e}");
        let e = Settings::from_sources(Some((Path::new("t.toml"), "[http\n")), |_| None, &[])
            .unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::from_sources(
            Some((
                Path::new("t.toml"),
                "[email]\nsmtp_host = \"smtp.example\"\nsmtp_username = \"tiendo\"\nsmtp_password = \"hunter2-mat-khau\"\n",
            )),
            env_of(&[(
                "DATABASE_URL",
                "postgres://tiendo:pg-mat-khau@db.example:5432/tiendo?sslmode=require&password=pg-mat-khau",
            )]),
            &[],
        )
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2-mat-khau"), "{printed}");
        assert!(!printed.contains("pg-mat-khau"), "{printed}");
        assert!(
            printed.contains("db.example:5432"),
            "the rest stays useful: {printed}"
        );
        assert!(printed.contains("sslmode=require"), "{printed}");
        let smtp = s.email.smtp.as_ref().expect("smtp");
        assert_eq!(
            smtp.password.as_ref().map(|p| p.expose_secret()),
            Some("hunter2-mat-khau"),
            "the value itself is there for the transport"
        );
        // Nor in an error message.
        let e = Settings::from_sources(
            Some((
                Path::new("t.toml"),
                "database_url = \"mysql://u:sec-ret@h/db\"\n",
            )),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("mysql://u:[REDACTED]@h/db"), "{e}");
        assert!(!e.to_string().contains("sec-ret"), "{e}");
    }
}
