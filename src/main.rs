//! `tiendo`: the command line and, later, the server. Everything below `cli` is wiring: the
//! rules live in `engine`, the I/O in `adapters`.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::FromArgMatches;

/// jemalloc instead of the system's allocator. The reports and the forecast free on one thread
/// what another allocated (rows read on one, forecast and serialized on others); glibc's
/// allocator serializes those frees on the allocating thread's arena: the forecast of 100,000
/// tasks took 1.6 s with it against 0.8 s with jemalloc, at the same peak (about 220 MiB).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: freed pages go back to the system after a fifth of a second instead of
/// ten, so that a report's stages do not add up in its peak. The 100,000-task status report
/// (XLSX): 302-309 MiB with ten seconds and 279-286 MiB with one on one machine; on a slower one,
/// where its stages last longer (3.2 s), 302-319 MiB with one second and 262-276 MiB with a fifth,
/// while the progress report, the forecast and the import took the same time.
///
/// One arena (`narenas:1`; each thread still has its own cache): a report reads its rows on one
/// thread and what describes them (the as-of history) on another, and pages freed in the second
/// thread's arena, idle once the history is read, stayed out of reach of the first, which builds
/// the report: the status report peaked at 342-357 MiB with an arena a thread against 285 MiB
/// with one, in the same time (2.7-2.9 s), the import too (3.95-4.04 s). Purging at once
/// (`dirty_decay_ms:0`) also brought it to 271-273 MiB but made the import 4 % slower.
/// `_RJEM_MALLOC_CONF` in the environment adds to it.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 29] = b"narenas:1,dirty_decay_ms:200\0";

fn main() -> ExitCode {
    let parsed = cli::help::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let args = match parsed {
        Ok(args) => args,
        Err(e) => match cli::help::refusal(&e) {
            Some(message) => {
                eprint!("{message}");
                return ExitCode::from(2);
            }
            None => e.exit(),
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(&args)) {
        Ok(out) => {
            // A closed pipe (`tiendo … | head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("{}", f.message.trim_end());
            ExitCode::from(f.code)
        }
    }
}
