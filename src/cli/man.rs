//! `keygate man`: manual pages generated from the clap definition the binary
//! parses, so they never drift from the flags, for packagers (`--out-dir`)
//! and for machines where keygate was installed without them.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use super::{Cli, CliError};

/// Arguments of `keygate man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The command whose page to print, such as `user add` (default: keygate itself).
    #[arg(value_name = "COMMAND", conflicts_with = "out_dir")]
    pub command: Vec<String>,
    /// Write every page (keygate.1, keygate-serve.1, keygate-user-add.1, …) into DIR
    /// instead, creating it when missing.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub(super) fn run(args: ManArgs) -> Result<(), CliError> {
    let root = tree();
    if let Some(dir) = &args.out_dir {
        let written = write_all(&root, dir)
            .map_err(|e| CliError::other(format!("cannot write manual pages to {}: {e}", dir.display())))?;
        println!("wrote {written} manual pages to {}", dir.display());
        return Ok(());
    }
    let mut command = &root;
    for name in &args.command {
        command = command.get_subcommands().find(|c| c.get_name() == name && !c.is_hide_set()).ok_or_else(
            || {
                let path = args.command.join(" ");
                CliError::usage(format!("no command `keygate {path}`: `keygate help` lists them"))
            },
        )?;
    }
    let page = render(command, args.command.is_empty())
        .map_err(|e| CliError::other(format!("cannot render the manual page: {e}")))?;
    std::io::stdout()
        .write_all(page.as_bytes())
        .map_err(|e| CliError::other(format!("cannot write the manual page: {e}")))
}

/// The commands as the pages show them: built, so that each subcommand
/// carries its page name (`keygate-user-add`), and without clap's `help`
/// subcommand, which `--help` already covers.
fn tree() -> clap::Command {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    root
}

/// Writes the page of `command` and of every visible subcommand below it;
/// how many pages that made.
fn write_all(command: &clap::Command, dir: &Path) -> std::io::Result<usize> {
    fn write(command: &clap::Command, dir: &Path, top: bool) -> std::io::Result<usize> {
        let name = command.get_display_name().unwrap_or_else(|| command.get_name());
        std::fs::write(dir.join(format!("{name}.1")), render(command, top)?)?;
        let mut written = 1;
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            written += write(sub, dir, false)?;
        }
        Ok(written)
    }
    std::fs::create_dir_all(dir)?;
    write(command, dir, true)
}

/// One page in roff; the top one (`keygate(1)`) also says what every
/// command shares: exit statuses, environment and files.
fn render(command: &clap::Command, top: bool) -> std::io::Result<String> {
    let mut page = Vec::new();
    // The footer names the package, on subcommand pages too (not "add 0.1.0").
    let source = format!("keygate {}", env!("CARGO_PKG_VERSION"));
    Man::new(command.clone()).source(source).render(&mut page)?;
    let mut page = String::from_utf8(page).map_err(std::io::Error::other)?;
    if top {
        let shared = shared_sections().to_roff();
        let at = page.find(".SH VERSION\n").unwrap_or(page.len());
        page.insert_str(at, &shared);
    }
    Ok(page)
}

/// EXIT STATUS, ENVIRONMENT and FILES of `keygate(1)`.
fn shared_sections() -> Roff {
    let mut roff = Roff::new();
    let tagged = |roff: &mut Roff, tag: &str, text: &str| {
        roff.control("TP", []).text([bold(tag)]).text([roman(text)]);
    };
    roff.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in [
        ("0", "Success."),
        ("1", "A failure; the message on standard error says why."),
        ("2", "A usage error: an unknown command or flag, or a value of the wrong form."),
        ("69", "The command needs a capability this build of keygate lacks; the message names it."),
        ("130", "Cancelled with Ctrl-C."),
    ] {
        tagged(&mut roff, status, meaning);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    tagged(
        &mut roff,
        "KEYGATE_LISTEN, KEYGATE_DATABASE, …",
        "KEYGATE_ followed by a config key in upper case sets that key; it overrides the config file \
         and is overridden by flags.",
    );
    tagged(&mut roff, "KEYGATE_CONFIG", "The config file, as --config names it.");
    tagged(
        &mut roff,
        "RUST_LOG",
        "Which log lines are written (default: info for keygate, warn for the rest).",
    );
    roff.control("SH", ["FILES"]);
    tagged(&mut roff, "./keygate.toml", "The configuration, read when present and no --config is given.");
    tagged(&mut roff, "./keygate.db", "The default SQLite database, created on first start.");
    tagged(
        &mut roff,
        "keygate.key",
        "The server key (mode 0600, created on first start when server_key is not set), next to the \
         SQLite database.",
    );
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_named_after_their_command_path() {
        let root = tree();
        let user = root.find_subcommand("user").expect("user");
        let add = user.find_subcommand("add").expect("user add");
        assert_eq!(add.get_display_name(), Some("keygate-user-add"));
        assert!(root.find_subcommand("help").is_none());
        let page = render(add, false).expect("renders");
        assert!(page.contains(".TH keygate-user-add 1  \"keygate "), "{page}");
        assert!(!page.contains("EXIT STATUS"), "{page}");
    }

    #[test]
    fn the_top_page_describes_what_commands_share() {
        let page = render(&tree(), true).expect("renders");
        let at = |heading: &str| page.find(heading).unwrap_or_else(|| panic!("{heading} in {page}"));
        assert!(at(".SH SUBCOMMANDS") < at("EXIT STATUS"), "{page}");
        assert!(at("EXIT STATUS") < at(".SH ENVIRONMENT") && at(".SH FILES") < at(".SH VERSION"), "{page}");
    }
}
