//! What people may type: the one rule for hidden characters and length, and the password
//! policy.
//!
//! Every front end calls these on what it reads (the HTTP extractors, the command line, the
//! import), so a name, comment or identifier is held to the same rule wherever it comes from.
//! The refusals are Vietnamese, for the person who typed the text.

use std::fmt;

/// Characters no typed text needs and that can make text read as something else: control
/// characters, bidirectional overrides and isolates, zero-width marks, the byte-order mark and
/// non-characters.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// Why a typed text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong {
        chars: usize,
        max: usize,
    },
    /// A hidden character (see [`is_hidden_char`]).
    Hidden(char),
}

impl TextError {
    /// The refusal in Vietnamese, naming the field the text was typed in.
    pub fn describe(&self, field: &str) -> String {
        match self {
            TextError::Empty => format!("Trường `{field}` không được để trống."),
            TextError::TooLong { chars, max } => {
                format!("Trường `{field}` dài {chars} ký tự; tối đa {max} ký tự.")
            }
            TextError::Hidden(c) => format!(
                "Trường `{field}` chứa ký tự điều khiển hoặc ký tự ẩn không được phép (U+{:04X}).",
                *c as u32
            ),
        }
    }
}

/// A typed text: trimmed, not empty, at most `max` characters, without hidden characters
/// (newlines and tabs allowed when `multiline`). Hidden characters are looked for before
/// trimming: a direction override at the edge is no more welcome than one in the middle.
pub fn clean_text(value: &str, max: usize, multiline: bool) -> Result<String, TextError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        // Only Unicode spaces: say which one is not allowed, not that nothing was written.
        return Err(hidden_char(value, multiline).map_or(TextError::Empty, TextError::Hidden));
    }
    if chars > max {
        return Err(TextError::TooLong { chars, max });
    }
    if let Some(c) = hidden_char(value, multiline) {
        return Err(TextError::Hidden(c));
    }
    Ok(trimmed.to_string())
}

/// The first hidden character of `value` ([`is_hidden_char`]; newlines and tabs allowed when
/// `multiline`): the rule [`clean_text`] applies to what is typed, and the import to every cell
/// of a file, so that a name refused by the API is refused in a spreadsheet too.
pub fn hidden_char(value: &str, multiline: bool) -> Option<char> {
    value
        .chars()
        .find(|&c| is_hidden_char(c) && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// Whether an optional field was left blank: empty, or only plain spaces, tabs and line
/// breaks. Unicode's other "spaces" (U+0085, U+2028, no-break spaces…) are not blank: they are
/// refused where text is checked, never taken for an absent value.
pub fn is_blank(value: &str) -> bool {
    value.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// [`clean_text`] for an optional field: a blank ([`is_blank`]) means absent.
pub fn clean_optional(
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, TextError> {
    match value {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => clean_text(v, max, multiline).map(Some),
    }
}

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email address a notification may be sent to: exactly one RFC 5322 `addr-spec`
/// (`ten@don-vi.haiphong.gov.vn`), checked by the `email_address` crate, with a domain that has
/// a dot, no display name (`Tên <…>`), no list, no `[IP]` domain, no hidden character, at most
/// [`MAX_EMAIL_CHARS`] characters. Trimmed. The refusal is Vietnamese, naming `field`.
pub fn email(field: &str, value: &str) -> Result<String, String> {
    use email_address::{EmailAddress, Options};
    let refuse = |why: &str| {
        Err(format!(
            "Trường `{field}` không phải một địa chỉ email hợp lệ ({why}); ghi đúng một địa chỉ, ví dụ ten@donvi.haiphong.gov.vn."
        ))
    };
    // Hidden characters are looked for before trimming, as in [`clean_text`]: U+0085 (NEL) is
    // both a control character and white space, and must not be trimmed away unseen.
    if hidden_char(value, false).is_some() {
        return refuse("chứa khoảng trắng hoặc ký tự điều khiển");
    }
    let v = value.trim();
    if v.is_empty() {
        return refuse("để trống");
    }
    if v.chars().count() > MAX_EMAIL_CHARS {
        return refuse("quá dài");
    }
    if hidden_char(v, false).is_some() || v.chars().any(char::is_whitespace) {
        return refuse("chứa khoảng trắng hoặc ký tự điều khiển");
    }
    if v.contains([',', ';']) {
        return refuse("chỉ được một địa chỉ");
    }
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    match EmailAddress::parse_with_options(v, options) {
        Ok(a) => Ok(a.as_str().to_string()),
        Err(_) => refuse("sai cú pháp"),
    }
}

/// [`email`] for an optional field: blank means none.
pub fn optional_email(field: &str, value: Option<&str>) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => email(field, v).map(Some),
    }
}

/// The longest identifier (task, document, unit, user name…) accepted anywhere.
pub const MAX_IDENT_CHARS: usize = 200;

/// An identifier: short and plain, so that a megabyte of Unicode never reaches a query.
/// `None` when empty, longer than [`MAX_IDENT_CHARS`] or holding a hidden character.
pub fn clean_ident(value: &str) -> Option<String> {
    let v = value.trim();
    let plain = !value.chars().any(is_hidden_char);
    (plain && !v.is_empty() && v.chars().count() <= MAX_IDENT_CHARS).then(|| v.to_string())
}

/// Passwords are at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And at most this many bytes: argon2 takes any length, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Passwords too common to guess slowly: see the file's head.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Lower case, without Vietnamese diacritics (đ is d), without spaces and punctuation: the form
/// in which a password is compared with names and the common list.
fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Whether `folded` is on the common list (after [`fold`]).
fn is_common(raw: &str) -> bool {
    let lower = raw.to_lowercase();
    let folded = fold(raw);
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.to_lowercase() == lower || fold(l) == folded)
}

/// Whether the characters only climb or only fall one step at a time (`0123456789`,
/// `9876543210`, `abcdefghij`).
fn is_run(raw: &str) -> bool {
    let cs: Vec<u32> = raw.chars().map(u32::from).collect();
    let steps: Vec<i64> = cs
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    !steps.is_empty() && (steps.iter().all(|&d| d == 1) || steps.iter().all(|&d| d == -1))
}

/// A password that meets the policy: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, no hidden characters, not containing the user name or (with
/// [`Password::parse_for`]) the person's name, not one character repeated, not a run such as
/// `1234567890`, not on the list of common passwords. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password is refused; `Display` is the Vietnamese refusal with the whole policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordError {
    why: String,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Mật khẩu không hợp lệ: {}. Mật khẩu cần từ {MIN_PASSWORD_CHARS} ký tự trở lên (tối đa {MAX_PASSWORD_BYTES} byte), không chứa tên đăng nhập hay họ tên, không phải mật khẩu phổ biến (như 1234567890) và không chứa ký tự điều khiển.",
            self.why
        )
    }
}

impl std::error::Error for PasswordError {}

impl Password {
    /// [`Password::parse`], also refusing a password made of the person's own name
    /// (`display_name`, compared without diacritics, spaces or case).
    pub fn parse_for(
        username: &str,
        display_name: &str,
        raw: &str,
    ) -> Result<Password, PasswordError> {
        let password = Password::parse(username, raw)?;
        let name = fold(display_name);
        let folded = fold(raw);
        // The whole name, or its given name when that is long enough to mean something.
        let given = display_name.split_whitespace().last().map(fold);
        let mentions = (name.chars().count() >= 4 && folded.contains(&name))
            || given.is_some_and(|g| g.chars().count() >= 4 && folded.contains(&g));
        if mentions {
            return Err(PasswordError {
                why: "chứa họ tên của người dùng".into(),
            });
        }
        Ok(password)
    }

    /// Checks `raw` against the policy for the user `username`.
    pub fn parse(username: &str, raw: &str) -> Result<Password, PasswordError> {
        let refuse = |why: String| Err(PasswordError { why });
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return refuse(format!("chỉ có {chars} ký tự"));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return refuse("quá dài".into());
        }
        if raw.chars().any(is_hidden_char) {
            return refuse("chứa ký tự điều khiển hoặc ký tự ẩn".into());
        }
        if !username.is_empty() && raw.to_lowercase().contains(&username.to_lowercase()) {
            return refuse("chứa tên đăng nhập".into());
        }
        let first = raw.chars().next();
        if raw.chars().all(|c| Some(c) == first) {
            return refuse("chỉ lặp lại một ký tự".into());
        }
        if is_run(raw) {
            return refuse("là một dãy ký tự liên tiếp".into());
        }
        let folded_user = fold(username);
        if folded_user.chars().count() >= 4 && fold(raw).contains(&folded_user) {
            return refuse("chứa tên đăng nhập".into());
        }
        if is_common(raw) {
            return refuse("nằm trong danh sách mật khẩu phổ biến, dễ bị đoán".into());
        }
        Ok(Password(raw.to_string()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_refuse_emptiness_excess_and_hidden_characters() {
        assert_eq!(clean_text("  Sở Y tế ", 10, false), Ok("Sở Y tế".into()));
        assert_eq!(clean_text("   ", 10, false), Err(TextError::Empty));
        assert_eq!(
            clean_text("abcdef", 5, false),
            Err(TextError::TooLong { chars: 6, max: 5 })
        );
        assert_eq!(
            clean_text("a\u{202E}b", 10, true),
            Err(TextError::Hidden('\u{202E}'))
        );
        assert_eq!(
            clean_text("dòng 1\ndòng 2", 20, true),
            Ok("dòng 1\ndòng 2".into())
        );
        assert_eq!(
            clean_text("dòng 1\ndòng 2", 20, false),
            Err(TextError::Hidden('\n'))
        );
        // At the edge, before trimming.
        assert_eq!(
            clean_text("abc\u{85}", 20, false),
            Err(TextError::Hidden('\u{85}'))
        );
        assert_eq!(clean_optional(Some(" \n"), 5, false), Ok(None));
        // Unicode counts U+0085 as a space; a blank does not.
        assert!(is_blank("") && is_blank(" \t\r\n"));
        assert!(!is_blank(" \u{85} ") && !is_blank("\u{a0}") && !is_blank("\u{2028}"));
        assert_eq!(
            clean_optional(Some(" \u{85} "), 5, false),
            Err(TextError::Hidden('\u{85}'))
        );
        assert!(
            TextError::Hidden('\u{200B}')
                .describe("name")
                .contains("U+200B")
        );
        assert_eq!(clean_ident(" so-y-te "), Some("so-y-te".into()));
        assert_eq!(clean_ident("so\u{0}"), None);
        assert_eq!(clean_ident(&"x".repeat(201)), None);
    }

    #[test]
    fn emails_are_one_address() {
        assert_eq!(
            email("email", " can.bo@syt.haiphong.gov.vn ").unwrap(),
            "can.bo@syt.haiphong.gov.vn"
        );
        for bad in [
            "can.bo",
            "can.bo@localhost",
            "a@b.vn, c@d.vn",
            "a@b.vn;c@d.vn",
            "Cán bộ <a@b.vn>",
            "a b@c.vn",
            "a@[127.0.0.1]",
            "a\u{202E}@b.vn",
            "a@@b.vn",
            "a@b.vn\r\nBcc: x@y.vn",
        ] {
            let e = email("email", bad).unwrap_err();
            assert!(
                e.contains("`email`") && e.contains("một địa chỉ"),
                "{bad}: {e}"
            );
        }
        assert!(email("email", &format!("{}@b.vn", "a".repeat(260))).is_err());
        assert_eq!(optional_email("email", Some("  ")), Ok(None));
        // NEL (U+0085) is white space to `trim` and a control character: an address made of it
        // is refused, not taken for a blank field (the API fuzzer's find: POST /users said 201).
        for nel in [" \u{85} ", "\u{85}", "a@b.vn\u{85}"] {
            let e = optional_email("email", Some(nel)).unwrap_err();
            assert!(e.contains("ký tự điều khiển"), "{nel:?}: {e}");
        }
    }

    #[test]
    fn passwords_follow_the_policy_and_never_print() {
        assert!(Password::parse("can.bo", "ngắn").is_err());
        assert!(Password::parse("can.bo", "aaaaaaaaaaaa").is_err());
        assert!(
            Password::parse("can.bo", "CAN.BO-2026!x")
                .unwrap_err()
                .to_string()
                .contains("tên đăng nhập")
        );
        assert!(Password::parse("can.bo", "mat\u{0}khau-dai-du").is_err());
        assert!(Password::parse("can.bo", &"x".repeat(2000)).is_err());
        for common in [
            "1234567890",
            "0987654321",
            "Password123",
            "matkhau123",
            "abcdefghij",
        ] {
            let e = Password::parse("can.bo", common).unwrap_err().to_string();
            assert!(
                e.contains("phổ biến") || e.contains("liên tiếp"),
                "{common}: {e}"
            );
        }
        let e = Password::parse_for("can.bo", "Nguyễn Văn Cường", "nguyenvancuong2026")
            .unwrap_err()
            .to_string();
        assert!(e.contains("họ tên"), "{e}");
        assert!(Password::parse_for("can.bo", "Nguyễn Văn Cường", "CUONG-hai-phong-26").is_err());
        assert!(Password::parse_for("can.bo", "Nguyễn Văn An", "ban-an-toan-2026").is_ok());
        assert!(
            Password::parse("can.bo", "canbo-2026-hp").is_err(),
            "user name without its dot"
        );
        let p = Password::parse("can.bo", "mật khẩu đủ dài 2026").unwrap();
        assert_eq!(p.expose(), "mật khẩu đủ dài 2026");
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
