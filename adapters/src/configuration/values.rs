//! The values a setting takes: one parser per kind, each saying what it allows when it refuses,
//! and the database URL, whose password never prints.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::TimeDelta;
use engine::time::IsoDuration;
use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};

use super::Allowed;
use crate::email::TlsMode;
use crate::store::DEFAULT_DATABASE_URL;

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

impl Default for DatabaseUrl {
    /// [`DEFAULT_DATABASE_URL`]: an SQLite file in the working directory.
    fn default() -> Self {
        DatabaseUrl(SecretString::from(DEFAULT_DATABASE_URL))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

pub(super) fn path(v: &str) -> Result<PathBuf, Allowed> {
    Ok(PathBuf::from(v))
}

pub(super) fn flag(v: &str) -> Result<bool, Allowed> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Allowed::new("dùng true hoặc false", "use true or false")),
    }
}

pub(super) fn positive<T: FromStr + PartialOrd + Default>(v: &str) -> Result<T, Allowed> {
    match v.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(Allowed::new(
            "cần một số nguyên dương",
            "use a positive whole number",
        )),
    }
}

pub(super) fn seconds(v: &str) -> Result<u64, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "cần một số giây nguyên, không âm",
            "use a whole, non-negative number of seconds",
        )
    })
}

pub(super) fn port(v: &str) -> Result<u16, Allowed> {
    positive(v).map_err(|_| Allowed::new("cần số cổng 1–65535", "use a port number 1-65535"))
}

pub(super) fn duration(v: &str) -> Result<TimeDelta, Allowed> {
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

/// A list of IP addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `::1`), separated by commas;
/// empty: none.
pub(super) fn ip_networks(v: &str) -> Result<Vec<ipnet::IpNet>, Allowed> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    Allowed::new(
                        format!("`{s}` không phải địa chỉ IP hay mạng; dùng danh sách cách nhau bởi dấu phẩy, ví dụ 127.0.0.1,::1,10.0.0.0/8"),
                        format!("`{s}` is not an IP address or network; use a comma-separated list such as 127.0.0.1,::1,10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

pub(super) fn socket_addr(v: &str) -> Result<SocketAddr, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "dùng IP:CỔNG, ví dụ 127.0.0.1:8080 (cổng 0: một cổng trống bất kỳ)",
            "use IP:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)",
        )
    })
}

pub(super) fn host(v: &str) -> Result<String, Allowed> {
    if v.chars().any(|c| c.is_whitespace() || c == '/' || c == ':') {
        return Err(Allowed::new(
            "chỉ tên máy hoặc địa chỉ IP, không kèm cổng (cổng ở TIENDO_SMTP_PORT)",
            "a host name or IP address only, without a port (the port is TIENDO_SMTP_PORT)",
        ));
    }
    Ok(v.to_string())
}

pub(super) fn tls_mode(v: &str) -> Result<TlsMode, Allowed> {
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

pub(super) fn mailbox(v: &str) -> Result<Mailbox, Allowed> {
    v.parse().map_err(|_| {
        Allowed::new(
            "dùng một địa chỉ email, ví dụ: Tiến độ CNTT <tiendo@haiphong.gov.vn>",
            "use one email address, e.g. Tiến độ CNTT <tiendo@haiphong.gov.vn>",
        )
    })
}

pub(super) fn base_url(v: &str) -> Result<String, Allowed> {
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

pub(super) fn cron_or_off(v: &str) -> Result<Option<cron::Schedule>, Allowed> {
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

pub(super) fn log_filter(v: &str) -> Result<String, Allowed> {
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
