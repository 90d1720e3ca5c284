//! A configuration that cannot be used, said in Vietnamese and in English: which setting, the
//! value as given (never a secret), where it came from, and what is allowed.

use std::fmt;
use std::path::PathBuf;

use super::{Origin, SETTINGS, Setting};

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
