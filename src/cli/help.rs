//! The command line's help in Vietnamese. Every command's frame (usage line, headings, the
//! help flag) is Vietnamese; the texts of the commands SKHCN staff read (`import`, `report`,
//! `task`, `user`, and the top level) are written in Vietnamese in their modules, while the
//! operators' commands (`serve`, `worker`, `db`, …) keep their English texts.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, CommandFactory};

use super::Cli;

const TEMPLATE: &str = "\
{before-help}{about-with-newline}
Cách dùng: {usage}

{all-args}{after-help}";

const OPTIONS: &str = "Tùy chọn";
const ARGUMENTS: &str = "Tham số";
const GLOBAL_OPTIONS: &str = "Tùy chọn chung";

/// The command line as clap parses it, with its Vietnamese help; built.
pub fn command() -> Command {
    let mut cmd = frame(Cli::command())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .global(true)
                .action(ArgAction::Help)
                .help("In trợ giúp (--help: đầy đủ hơn)")
                .help_heading(OPTIONS),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("In phiên bản")
                .help_heading(OPTIONS),
        );
    cmd.build();
    usage(cmd)
}

/// clap's words in Vietnamese for a command and its subcommands.
fn frame(cmd: Command) -> Command {
    cmd.help_template(TEMPLATE)
        .subcommand_help_heading("Lệnh")
        .subcommand_value_name("LỆNH")
        .disable_help_subcommand(true)
        .mut_args(|a| {
            let heading = if a.is_global_set() {
                GLOBAL_OPTIONS
            } else if a.is_positional() {
                ARGUMENTS
            } else {
                OPTIONS
            };
            a.help_heading(heading)
        })
        .mut_subcommands(frame)
}

/// The usage line of a built command and its subcommands, with `[TÙY_CHỌN]` for `[OPTIONS]`.
fn usage(mut cmd: Command) -> Command {
    let text = cmd.render_usage().to_string();
    let text = text
        .trim_start_matches("Usage:")
        .trim()
        .replace("[OPTIONS]", "[TÙY_CHỌN]");
    cmd.override_usage(text).mut_subcommands(usage)
}

/// A command line clap refused, said in Vietnamese with the usage line; `None` for what clap
/// prints itself (the help, the version, and rarer refusals, in English).
pub fn refusal(e: &clap::Error) -> Option<String> {
    let text = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::StyledStrs(v)) => Some(
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg).unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let suggestion = text(ContextKind::SuggestedArg)
        .or_else(|| text(ContextKind::SuggestedSubcommand))
        .or_else(|| text(ContextKind::SuggestedValue))
        .map(|s| format!(" Có phải ý bạn là `{s}`?"))
        .unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::MissingRequiredArgument => format!("Thiếu tham số bắt buộc: {arg}."),
        ErrorKind::UnknownArgument => format!("Không có tham số `{arg}`.{suggestion}"),
        ErrorKind::InvalidSubcommand => format!(
            "Không có lệnh `{}`.{suggestion}",
            text(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::InvalidValue => format!(
            "Giá trị `{value}` không hợp lệ cho {arg}.{}{suggestion}",
            text(ContextKind::ValidValue)
                .map(|v| format!(" Các giá trị được phép: {v}."))
                .unwrap_or_default()
        ),
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!("Giá trị `{value}` không hợp lệ cho {arg}{why}.")
        }
        ErrorKind::ArgumentConflict => format!(
            "Không dùng {arg} cùng với {}.",
            text(ContextKind::PriorArg).unwrap_or_default()
        ),
        ErrorKind::NoEquals | ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!("Tham số {arg} không đúng số giá trị.")
        }
        _ => return None,
    };
    let usage = text(ContextKind::Usage)
        .map(|u| u.trim().trim_start_matches("Usage:").trim().to_string())
        .map(|u| format!("\n\nCách dùng: {u}"))
        .unwrap_or_default();
    Some(format!("Lỗi: {message}{usage}\n\nXem thêm: --help\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands whose help texts are Vietnamese, with all their subcommands.
    const VIETNAMESE: &[&str] = &["forecast", "import", "report", "round", "task", "user"];

    /// A letter only Vietnamese text has (ASCII cannot pass for Vietnamese).
    fn is_vietnamese(text: &str) -> bool {
        text.chars().any(|c| {
            "ăâđêôơưáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
                .contains(c.to_lowercase().next().unwrap_or(c))
        })
    }

    fn walk(cmd: &Command, path: &str, problems: &mut Vec<String>) {
        let about = cmd.get_about().map(|s| s.to_string()).unwrap_or_default();
        if !is_vietnamese(&about) {
            problems.push(format!("{path}: about `{about}`"));
        }
        if let Some(long) = cmd.get_long_about()
            && !is_vietnamese(&long.to_string())
        {
            problems.push(format!("{path}: long_about"));
        }
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let help = a.get_help().map(|s| s.to_string()).unwrap_or_default();
            if !is_vietnamese(&help) {
                problems.push(format!("{path} {}: help `{help}`", a.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), problems);
        }
    }

    #[test]
    fn staff_commands_say_everything_in_vietnamese() {
        let cmd = command();
        let mut problems = Vec::new();
        for name in VIETNAMESE {
            let sub = cmd.find_subcommand(name).expect("the command exists");
            walk(sub, &format!("tiendo {name}"), &mut problems);
        }
        assert!(
            problems.is_empty(),
            "not in Vietnamese:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn refusals_are_vietnamese_with_the_usage_line() {
        let refused = |args: &[&str]| {
            let e = command().try_get_matches_from(args).expect_err("refused");
            refusal(&e).unwrap_or_else(|| panic!("not translated: {e}"))
        };
        let m = refused(&["tiendo", "task", "show", "T1"]);
        assert!(
            m.contains("Thiếu tham số bắt buộc: --as <TÊN_ĐĂNG_NHẬP>"),
            "{m}"
        );
        assert!(m.contains("Cách dùng: tiendo task show"), "{m}");
        let m = refused(&["tiendo", "task", "list", "--as", "a", "--overdu"]);
        assert!(
            m.contains("Không có tham số `--overdu`") && m.contains("--overdue"),
            "{m}"
        );
        let m = refused(&["tiendo", "task", "lits"]);
        assert!(
            m.contains("Không có lệnh `lits`") && m.contains("`list`"),
            "{m}"
        );
        let m = refused(&[
            "tiendo", "import", "plan", "--plan", "p", "--year", "hai", "--title", "t", "f.csv",
        ]);
        assert!(m.contains("Giá trị `hai` không hợp lệ cho --year"), "{m}");
        assert!(!m.contains("Usage:") && !m.contains("[OPTIONS]"), "{m}");
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
