//! The command line's help in Vietnamese. Every command's frame (usage line, headings, the
//! help flag) is Vietnamese; the texts of the commands SKHCN staff read (`import`, `report`,
//! `task`, `user`, and the top level) are written in Vietnamese in their modules, while the
//! operators' commands (`serve`, `worker`, `db`, …) keep their English texts.

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands whose help texts are Vietnamese, with all their subcommands.
    const VIETNAMESE: &[&str] = &["import", "report", "task", "user"];

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
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
