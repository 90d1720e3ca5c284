//! The server's settings, read from the environment (`tiendo serve` also takes `--listen`).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TIENDO_LISTEN` | address to listen on | `127.0.0.1:8080` |
//! | `TIENDO_DATA_DIR` | where document files are stored | `./tiendo-data` |
//! | `TIENDO_COOKIE_SECURE` | mark the session cookie `Secure` (HTTPS only) | `false` on a loopback address, `true` otherwise |
//! | `TIENDO_SESSION_IDLE` | a session unused this long expires (ISO-8601) | `PT30M` |
//! | `TIENDO_SESSION_MAX` | no session lives longer (ISO-8601) | `PT12H` |
//! | `TIENDO_SIGNIN_MAX_FAILURES` | failed sign-ins per user name per window | `5` |
//! | `TIENDO_SIGNIN_MAX_FAILURES_PER_ADDRESS` | failed sign-ins per client address per window | `20` |
//! | `TIENDO_SIGNIN_WINDOW` | the window (ISO-8601) | `PT15M` |
//! | `TIENDO_MAX_UPLOAD_BYTES` | largest document file accepted | `26214400` (25 MiB) |
//! | `TIENDO_TRUST_FORWARDED_FOR` | take the client address from `X-Forwarded-For` (behind a proxy) | `false` |
//! | `RUST_LOG` | log filter | `info` |
//!
//! A wrong value is an error naming the variable, never silently the default.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::TimeDelta;
use engine::time::IsoDuration;

use crate::store::AuthPolicy;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// JSON bodies are small; anything larger is refused with 413 before it is parsed.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub cookie_secure: bool,
    pub auth: AuthPolicy,
    pub max_upload_bytes: usize,
    pub trust_forwarded_for: bool,
}

impl Settings {
    /// Defaults for `listen`: everything else at its default.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Settings {
        Settings {
            listen,
            data_dir,
            cookie_secure: !listen.ip().is_loopback(),
            auth: AuthPolicy::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            trust_forwarded_for: false,
        }
    }

    /// Reads the environment. `listen` and `data_dir` given on the command line win.
    pub fn from_env(listen: Option<&str>, data_dir: Option<PathBuf>) -> Result<Settings, String> {
        Self::from_lookup(listen, data_dir, |k| std::env::var(k).ok())
    }

    /// [`Settings::from_env`] with the variables read through `var` (for tests).
    pub fn from_lookup(
        listen: Option<&str>,
        data_dir: Option<PathBuf>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, String> {
        let listen_text = listen
            .map(str::to_string)
            .or_else(|| var("TIENDO_LISTEN"))
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            format!(
                "địa chỉ lắng nghe `{listen_text}` không hợp lệ: dùng IP:CỔNG, ví dụ 127.0.0.1:8080"
            )
        })?;
        let data_dir = data_dir
            .or_else(|| var("TIENDO_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("tiendo-data"));
        let mut s = Settings::new(listen, data_dir);
        if let Some(v) = var("TIENDO_COOKIE_SECURE") {
            s.cookie_secure = flag("TIENDO_COOKIE_SECURE", &v)?;
        }
        if let Some(v) = var("TIENDO_TRUST_FORWARDED_FOR") {
            s.trust_forwarded_for = flag("TIENDO_TRUST_FORWARDED_FOR", &v)?;
        }
        if let Some(v) = var("TIENDO_SESSION_IDLE") {
            s.auth.session_idle = duration("TIENDO_SESSION_IDLE", &v)?;
        }
        if let Some(v) = var("TIENDO_SESSION_MAX") {
            s.auth.session_absolute = duration("TIENDO_SESSION_MAX", &v)?;
        }
        if let Some(v) = var("TIENDO_SIGNIN_WINDOW") {
            s.auth.failure_window = duration("TIENDO_SIGNIN_WINDOW", &v)?;
        }
        if let Some(v) = var("TIENDO_SIGNIN_MAX_FAILURES") {
            s.auth.failures_per_user = number("TIENDO_SIGNIN_MAX_FAILURES", &v)?;
        }
        if let Some(v) = var("TIENDO_SIGNIN_MAX_FAILURES_PER_ADDRESS") {
            s.auth.failures_per_address = number("TIENDO_SIGNIN_MAX_FAILURES_PER_ADDRESS", &v)?;
        }
        if let Some(v) = var("TIENDO_MAX_UPLOAD_BYTES") {
            s.max_upload_bytes = number("TIENDO_MAX_UPLOAD_BYTES", &v)?;
        }
        if s.auth.session_idle > s.auth.session_absolute {
            return Err("TIENDO_SESSION_IDLE không được dài hơn TIENDO_SESSION_MAX".into());
        }
        Ok(s)
    }
}

fn flag(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name}=`{v}` không hợp lệ: dùng true hoặc false")),
    }
}

fn number<T: std::str::FromStr + PartialOrd + Default>(name: &str, v: &str) -> Result<T, String> {
    match v.trim().parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(format!(
            "{name}=`{v}` không hợp lệ: cần một số nguyên dương"
        )),
    }
}

fn duration(name: &str, v: &str) -> Result<TimeDelta, String> {
    let bad =
        || format!("{name}=`{v}` không hợp lệ: dùng thời lượng ISO-8601 như PT30M, PT12H hoặc P1D");
    let d = IsoDuration::parse(v.trim()).map_err(|_| bad())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides_and_wrong_values_named() {
        let s = Settings::from_lookup(None, None, |_| None).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(!s.cookie_secure, "plain loopback development");
        let s = Settings::from_lookup(Some("0.0.0.0:80"), None, |_| None).unwrap();
        assert!(s.cookie_secure);
        let env = |k: &str| match k {
            "TIENDO_SESSION_IDLE" => Some("PT1H".to_string()),
            "TIENDO_SIGNIN_MAX_FAILURES" => Some("3".to_string()),
            "TIENDO_COOKIE_SECURE" => Some("true".to_string()),
            _ => None,
        };
        let s = Settings::from_lookup(None, None, env).unwrap();
        assert_eq!(s.auth.session_idle, TimeDelta::hours(1));
        assert_eq!(s.auth.failures_per_user, 3);
        assert!(s.cookie_secure);
        let e = Settings::from_lookup(None, None, |k| {
            (k == "TIENDO_SESSION_MAX").then(|| "một ngày".to_string())
        })
        .unwrap_err();
        assert!(e.contains("TIENDO_SESSION_MAX"), "{e}");
        assert!(Settings::from_lookup(Some("localhost"), None, |_| None).is_err());
        assert!(
            Settings::from_lookup(None, None, |k| {
                (k == "TIENDO_MAX_UPLOAD_BYTES").then(|| "0".to_string())
            })
            .is_err()
        );
    }
}
