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
//! Adding a setting: one line in [`SETTINGS`], one field in its branch, one parse in
//! [`Settings::from_sources`], one row in the README's Configuration table.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::TimeDelta;
use engine::time::IsoDuration;
use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};

use crate::email::{RelayConfig, SmtpConfig, TlsMode};
use crate::scheduler::SchedulerConfig;
use crate::store::{AuthPolicy, DEFAULT_DATABASE_URL};

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
    setting("http.max_upload_bytes", "TIENDO_MAX_UPLOAD_BYTES"),
    setting("http.trust_forwarded_for", "TIENDO_TRUST_FORWARDED_FOR"),
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
}

/// `sqlite://FILE` or `postgres://USER[:PASSWORD]@HOST:PORT/DB`. Its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, Allowed> {
        let t = text.trim();
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|s| t.starts_with(s));
        if !scheme_ok || t.len() <= "sqlite:".len() {
            return Err(Allowed::new(
                format!(
                    "dùng sqlite://TỆP (ví dụ {DEFAULT_DATABASE_URL}) hoặc postgres://NGƯỜI_DÙNG@MÁY:CỔNG/CSDL"
                ),
                format!(
                    "use sqlite://FILE (e.g. {DEFAULT_DATABASE_URL}) or postgres://USER@HOST:PORT/DB"
                ),
            ));
        }
        Ok(DatabaseUrl(SecretString::from(t.to_string())))
    }

    /// The URL itself, for connecting.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `[REDACTED]`, for logs and messages.
    pub fn redacted(&self) -> String {
        redact_password(self.expose())
    }
}

/// `url` with the password of its user info, and a `password=` query parameter, replaced by
/// `[REDACTED]`; any other text unchanged.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:[REDACTED]@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    // libpq also takes the password as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => {
                        format!("{k}=[REDACTED]")
                    }
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// The HTTP server (`tiendo serve`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (sent over HTTPS only).
    pub cookie_secure: bool,
    pub auth: AuthPolicy,
    pub max_upload_bytes: usize,
    /// Take the client address from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_forwarded_for: bool,
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
            trust_forwarded_for: false,
        }
    }
}

/// Email: the SMTP server (none: messages stay queued) and how the outbox relay sends.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub smtp: Option<SmtpConfig>,
    pub relay: RelayConfig,
}

/// A command-line flag standing for a setting: it wins over the file and the environment.
#[derive(Debug, Clone)]
pub struct Override {
    /// The setting's key, as in [`SETTINGS`].
    pub key: &'static str,
    /// The flag as typed, for messages: `--listen`.
    pub flag: &'static str,
    pub value: String,
}

impl Override {
    pub fn new(key: &'static str, flag: &'static str, value: impl Into<String>) -> Override {
        Override {
            key,
            flag,
            value: value.into(),
        }
    }
}

/// What a setting accepts, said in both languages, for the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub vi: String,
    pub en: String,
}

impl Allowed {
    pub fn new(vi: impl Into<String>, en: impl Into<String>) -> Allowed {
        Allowed {
            vi: vi.into(),
            en: en.into(),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env,
    Flag(&'static str),
}

impl Origin {
    fn vi(&self) -> String {
        match self {
            Origin::File(p) => format!("trong tệp {}", p.display()),
            Origin::Env => "biến môi trường".into(),
            Origin::Flag(f) => format!("tham số {f}"),
        }
    }

    fn en(&self) -> String {
        match self {
            Origin::File(p) => format!("in file {}", p.display()),
            Origin::Env => "environment".into(),
            Origin::Flag(f) => format!("flag {f}"),
        }
    }
}

/// A configuration that cannot be used: which setting, where its value came from, what is
/// allowed. Displayed as one Vietnamese line and one English line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The configuration file could not be read.
    Read { path: PathBuf, error: String },
    /// The file is not TOML, or a value has a type no setting takes (a list, a table…).
    Syntax { path: PathBuf, message: String },
    /// The file names a setting that does not exist.
    Unknown { path: PathBuf, key: String },
    /// A value that the setting does not accept.
    Invalid {
        setting: &'static Setting,
        /// The value as given (`[REDACTED]` for a secret).
        value: String,
        origin: Origin,
        allowed: Allowed,
    },
}

impl ConfigError {
    /// The environment variable or file key the error is about, if it is about one setting.
    pub fn setting(&self) -> Option<&'static Setting> {
        match self {
            ConfigError::Invalid { setting, .. } => Some(setting),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(
                f,
                "Không đọc được tệp cấu hình {p}: {error}\nCannot read the configuration file {p}: {error}",
                p = path.display()
            ),
            ConfigError::Syntax { path, message } => write!(
                f,
                "Tệp cấu hình {p} không hợp lệ (TOML): {message}\nThe configuration file {p} is not valid TOML: {message}",
                p = path.display()
            ),
            ConfigError::Unknown { path, key } => {
                let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
                write!(
                    f,
                    "Tệp cấu hình {p}: không có thiết lập `{key}`; các khóa hợp lệ: {k}\n\
                     Configuration file {p}: there is no setting `{key}`; the keys are: {k}",
                    p = path.display(),
                    k = keys.join(", ")
                )
            }
            ConfigError::Invalid {
                setting,
                value,
                origin,
                allowed,
            } => write!(
                f,
                "Cấu hình không hợp lệ: {env} (khóa `{key}`) = `{value}` ({ovi}): {avi}\n\
                 Invalid setting: {env} (key `{key}`) = `{value}` ({oen}): {aen}",
                env = setting.env,
                key = setting.key,
                ovi = origin.vi(),
                avi = allowed.vi,
                oen = origin.en(),
                aen = allowed.en,
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A value as given, with where it came from.
#[derive(Debug, Clone)]
struct Given {
    text: String,
    origin: Origin,
}

/// The sources merged: at most one value per setting, the winning one.
struct Layers(BTreeMap<&'static str, Given>);

fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

impl Layers {
    fn merge(
        file: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &[Override],
    ) -> Result<Layers, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some((path, text)) = file {
            for (key, text) in file_values(path, text)? {
                let origin = Origin::File(path.to_path_buf());
                values.insert(key, Given { text, origin });
            }
        }
        for s in SETTINGS {
            if let Some(text) = env(s.env).filter(|v| !v.trim().is_empty()) {
                values.insert(
                    s.key,
                    Given {
                        text,
                        origin: Origin::Env,
                    },
                );
            }
        }
        for o in overrides {
            let s = find(o.key).unwrap_or_else(|| panic!("override of unknown setting {}", o.key));
            values.insert(
                s.key,
                Given {
                    text: o.value.clone(),
                    origin: Origin::Flag(o.flag),
                },
            );
        }
        Ok(Layers(values))
    }

    /// The setting's value parsed, if given anywhere.
    fn get<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Allowed>,
    ) -> Result<Option<T>, ConfigError> {
        let setting = find(key).unwrap_or_else(|| panic!("unknown setting {key}"));
        let Some(given) = self.0.get(key) else {
            return Ok(None);
        };
        parse(given.text.trim()).map(Some).map_err(|allowed| {
            let value = if setting.secret {
                "[REDACTED]".to_string()
            } else {
                redact_password(&given.text)
            };
            ConfigError::Invalid {
                setting,
                value,
                origin: given.origin.clone(),
                allowed,
            }
        })
    }

    fn or<T>(
        &self,
        key: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, Allowed>,
    ) -> Result<T, ConfigError> {
        Ok(self.get(key, parse)?.unwrap_or(default))
    }

    /// An error about `key` as it was given, for rules across settings.
    fn refuse(&self, key: &'static str, allowed: Allowed) -> ConfigError {
        let setting = find(key).unwrap_or_else(|| panic!("unknown setting {key}"));
        let (value, origin) = match self.0.get(key) {
            Some(g) if setting.secret => ("[REDACTED]".into(), g.origin.clone()),
            Some(g) => (redact_password(&g.text), g.origin.clone()),
            None => ("(mặc định)".into(), Origin::Env),
        };
        ConfigError::Invalid {
            setting,
            value,
            origin,
            allowed,
        }
    }
}

/// The settings in a TOML file, flattened to `section.key` → text.
fn file_values(path: &Path, text: &str) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
    let mut out = Vec::new();
    let mut flat: Vec<(String, toml::Value)> = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(section) => {
                for (k2, v2) in section {
                    flat.push((format!("{k}.{k2}"), v2));
                }
            }
            other => flat.push((k, other)),
        }
    }
    for (key, value) in flat {
        let setting = find(&key).ok_or_else(|| ConfigError::Unknown {
            path: path.to_path_buf(),
            key: key.clone(),
        })?;
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: format!(
                        "`{key}` phải là chuỗi, số nguyên hoặc true/false (`{key}` must be a string, an integer or true/false)"
                    ),
                });
            }
        };
        out.push((setting.key, text));
    }
    Ok(out)
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
            url: l.or(
                "database_url",
                DatabaseUrl(SecretString::from(DEFAULT_DATABASE_URL)),
                DatabaseUrl::parse,
            )?,
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
        };
        if auth.session_idle > auth.session_absolute {
            return Err(l.refuse(
                "http.session_idle",
                Allowed::new(
                    "không được dài hơn TIENDO_SESSION_MAX (http.session_max)",
                    "must not be longer than TIENDO_SESSION_MAX (http.session_max)",
                ),
            ));
        }
        let http = HttpSettings {
            listen,
            cookie_secure: l.or("http.cookie_secure", defaults.cookie_secure, flag)?,
            auth,
            max_upload_bytes: l.or("http.max_upload_bytes", defaults.max_upload_bytes, positive)?,
            trust_forwarded_for: l.or(
                "http.trust_forwarded_for",
                defaults.trust_forwarded_for,
                flag,
            )?,
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

// The parsers: text to value, or what is allowed.

fn path(v: &str) -> Result<PathBuf, Allowed> {
    Ok(PathBuf::from(v))
}

fn flag(v: &str) -> Result<bool, Allowed> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Allowed::new("dùng true hoặc false", "use true or false")),
    }
}

fn positive<T: FromStr + PartialOrd + Default>(v: &str) -> Result<T, Allowed> {
    match v.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(Allowed::new(
            "cần một số nguyên dương",
            "use a positive whole number",
        )),
    }
}

fn seconds(v: &str) -> Result<u64, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "cần một số giây nguyên, không âm",
            "use a whole, non-negative number of seconds",
        )
    })
}

fn port(v: &str) -> Result<u16, Allowed> {
    positive(v).map_err(|_| Allowed::new("cần số cổng 1–65535", "use a port number 1-65535"))
}

fn duration(v: &str) -> Result<TimeDelta, Allowed> {
    let bad = || {
        Allowed::new(
            "dùng thời lượng ISO-8601 như PT30M, PT12H hoặc P1D",
            "use an ISO-8601 duration such as PT30M, PT12H or P1D",
        )
    };
    let d = IsoDuration::parse(v).map_err(|_| bad())?;
    if d.months > 0 {
        return Err(bad());
    }
    let secs = d
        .days
        .checked_mul(86_400)
        .and_then(|s| s.checked_add(d.seconds))
        .and_then(|s| i64::try_from(s).ok())
        .filter(|s| *s > 0)
        .ok_or_else(bad)?;
    TimeDelta::try_seconds(secs).ok_or_else(bad)
}

fn socket_addr(v: &str) -> Result<SocketAddr, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "dùng IP:CỔNG, ví dụ 127.0.0.1:8080 (cổng 0: một cổng trống bất kỳ)",
            "use IP:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)",
        )
    })
}

fn host(v: &str) -> Result<String, Allowed> {
    if v.chars().any(|c| c.is_whitespace() || c == '/' || c == ':') {
        return Err(Allowed::new(
            "chỉ tên máy hoặc địa chỉ IP, không kèm cổng (cổng ở TIENDO_SMTP_PORT)",
            "a host name or IP address only, without a port (the port is TIENDO_SMTP_PORT)",
        ));
    }
    Ok(v.to_string())
}

fn tls_mode(v: &str) -> Result<TlsMode, Allowed> {
    match v {
        "none" => Ok(TlsMode::None),
        "starttls" => Ok(TlsMode::StartTls),
        "tls" => Ok(TlsMode::Tls),
        _ => Err(Allowed::new(
            "dùng none, starttls hoặc tls",
            "use none, starttls or tls",
        )),
    }
}

fn mailbox(v: &str) -> Result<Mailbox, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "dùng một địa chỉ email, ví dụ: Tiến độ CNTT <tiendo@haiphong.gov.vn>",
            "use one email address, e.g. Tiến độ CNTT <tiendo@haiphong.gov.vn>",
        )
    })
}

fn base_url(v: &str) -> Result<String, Allowed> {
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.chars().any(char::is_whitespace));
    if ok {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(Allowed::new(
            "dùng địa chỉ web mà người dùng mở, ví dụ https://tiendo.haiphong.gov.vn",
            "use the address users open, e.g. https://tiendo.haiphong.gov.vn",
        ))
    }
}

fn cron_or_off(v: &str) -> Result<Option<cron::Schedule>, Allowed> {
    if v == "off" {
        return Ok(None);
    }
    cron::Schedule::from_str(v).map(Some).map_err(|e| {
        Allowed::new(
            format!(
                "cần biểu thức cron, giây đứng đầu, ví dụ \"0 0 7 * * Mon-Fri\", hoặc off ({e})"
            ),
            format!(
                "use a cron expression, seconds first, e.g. \"0 0 7 * * Mon-Fri\", or off ({e})"
            ),
        )
    })
}

fn log_filter(v: &str) -> Result<String, Allowed> {
    tracing_subscriber::EnvFilter::builder()
        .parse(v)
        .map(|_| v.to_string())
        .map_err(|e| {
            Allowed::new(
                format!("dùng bộ lọc nhật ký như info, warn hoặc info,sqlx=warn ({e})"),
                format!("use a log filter such as info, warn or info,sqlx=warn ({e})"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn environment_over_file_and_flags_over_both() {
        let file = r#"
database_url = "postgres://tiendo@db.example/tiendo"
data_dir = "/var/lib/tiendo"

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
            Some((Path::new("t.toml"), "data_dir = [\"a\"]\n")),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
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
