//! The sources of the settings, merged: a TOML file, then the environment, then command-line
//! flags, each value remembering where it came from for the error message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::values::redact_password;
use super::{Allowed, ConfigError, SETTINGS, Setting};

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

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Not given anywhere: the built-in default.
    Default,
    File(PathBuf),
    Env,
    Flag(&'static str),
}

impl Origin {
    pub(super) fn vi(&self) -> String {
        match self {
            Origin::Default => "giá trị mặc định".into(),
            Origin::File(p) => format!("trong tệp {}", p.display()),
            Origin::Env => "biến môi trường".into(),
            Origin::Flag(f) => format!("tham số {f}"),
        }
    }

    pub(super) fn en(&self) -> String {
        match self {
            Origin::Default => "the default".into(),
            Origin::File(p) => format!("in file {}", p.display()),
            Origin::Env => "environment".into(),
            Origin::Flag(f) => format!("flag {f}"),
        }
    }
}

/// A value as given, with where it came from.
#[derive(Debug, Clone)]
struct Given {
    text: String,
    origin: Origin,
}

/// The sources merged: at most one value per setting, the winning one.
pub(super) struct Layers(BTreeMap<&'static str, Given>);

pub(super) fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

impl Layers {
    pub(super) fn merge(
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
    pub(super) fn get<T>(
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

    pub(super) fn or<T>(
        &self,
        key: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, Allowed>,
    ) -> Result<T, ConfigError> {
        Ok(self.get(key, parse)?.unwrap_or(default))
    }

    /// Whether a value for `key` was given anywhere.
    pub(super) fn is_given(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// An error about `key` as it was given, for rules across settings.
    pub(super) fn refuse(&self, key: &'static str, allowed: Allowed) -> ConfigError {
        let setting = find(key).unwrap_or_else(|| panic!("unknown setting {key}"));
        let (value, origin) = match self.0.get(key) {
            Some(g) if setting.secret => ("[REDACTED]".into(), g.origin.clone()),
            Some(g) => (redact_password(&g.text), g.origin.clone()),
            None => (String::new(), Origin::Default),
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
            // A list of strings (`trusted_proxies = ["127.0.0.1", "::1"]`) reads as the same
            // list separated by commas in an environment variable.
            toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => items
                .iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: format!(
                        "`{key}` phải là chuỗi, số nguyên, true/false hoặc danh sách chuỗi (`{key}` must be a string, an integer, true/false or a list of strings)"
                    ),
                });
            }
        };
        out.push((setting.key, text));
    }
    Ok(out)
}
