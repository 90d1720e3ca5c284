//! `tiendo-bench floors`: what the parts tiendo stands on take by themselves for the work behind
//! issue 17's and 18's one-second and five-second targets, on this machine, beside tiendo's
//! whole command, in one run over the same synthetic plan (default 100,000 tasks):
//!
//! - **PostgreSQL's bulk load** of the rows `tiendo import plan` writes (tasks, listings, budget
//!   lines and their history, the first audit entries): the very rows, dumped after the import,
//!   loaded by `psql` with `\copy ... from` in one transaction into an empty database of the same
//!   schema (its keys, indexes and foreign keys), beside the import itself.
//! - **PostgreSQL handing over a report's rows**: the query of the report's first pass (one join
//!   per task, `adapters::store::report_rows_query`), `\copy (...) to '/dev/null'` in binary by
//!   `psql` (no decoding, no report), beside `tiendo report progress --format md`.
//! - **rust_xlsxwriter** (the XLSX writer tiendo uses) writing the cells of tiendo's own forecast
//!   workbook (read back with calamine), without styles, in the constant-memory mode tiendo uses,
//!   beside `tiendo forecast --format xlsx`.
//!
//! A floor above a target means no work on tiendo's side meets that target on this machine with
//! these parts. Each floor checks that it handled everything (rows loaded, cells written).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::Failure;
use crate::import::{PLAN, PlanRun, import_args};
use crate::process::{self, Measured};
use crate::psql::psql;
use crate::scratch::Scratch;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub run: PlanRun,
}

impl Args {
    pub fn check(&self) -> Result<(), String> {
        self.run.check()
    }
}

/// The date the reports are made as of, as in `import` and `forecast`.
const AS_OF: &str = "2025-11-05";

/// The tables an import writes, in the order a load must fill them (foreign keys), and the
/// reference tables the empty database is given first, untimed.
const WRITTEN: [&str; 5] = [
    "tasks",
    "plan_listings",
    "budget_lines",
    "budget_history",
    "audit_log",
];
const REFERENCE: [&str; 4] = ["units", "unit_names", "plans", "users"];

/// One pair: tiendo's whole command and the floor under it.
struct Pair {
    what: &'static str,
    tiendo: f64,
    floor: f64,
    floor_is: &'static str,
    target: f64,
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let (tiendo, plan, planned) = a.run.prepare("floors", None)?;
    let mut out = format!(
        "{planned}\nTimed: {} on PostgreSQL, against psql and rust_xlsxwriter alone\nLoad average before: {}\n",
        tiendo.display(),
        process::load_average()
    );
    let scratch = Scratch::create(adapters::store::Backend::Postgres, "floors", &a.run.pg).await?;
    let empty = Scratch::create(adapters::store::Backend::Postgres, "floors_load", &a.run.pg).await;
    let result = match empty {
        Ok(empty) => {
            let r = pairs(&tiendo, &scratch, &empty, &plan.csv, a.run.tasks).await;
            empty.finish(false).await;
            r
        }
        Err(e) => Err(e),
    };
    scratch.finish(false).await;
    let pairs = result?;
    let _ = writeln!(
        out,
        "\n  {:<34} {:>10} {:>10}  {:<44} {:>7}",
        "work", "tiendo s", "floor s", "the floor is", "target"
    );
    for p in &pairs {
        let verdict = if p.floor > p.target {
            "floor above the target"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {:<34} {:>10.2} {:>10.2}  {:<44} {:>6.0}s  {verdict}",
            p.what, p.tiendo, p.floor, p.floor_is, p.target
        );
    }
    let _ = writeln!(out, "\nLoad average after: {}", process::load_average());
    Ok(out)
}

async fn pairs(
    tiendo: &Path,
    scratch: &Scratch,
    empty: &Scratch,
    csv: &Path,
    tasks: usize,
) -> Result<Vec<Pair>, Failure> {
    let env = [("DATABASE_URL", scratch.url.as_str()), ("USER", "bench")];
    let timed = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        process::measure(tiendo, &args, &env).await
    };
    eprintln!("postgres: tiendo import plan");
    let import = timed(import_args(PLAN, csv)).await?;
    let load = bulk_load(scratch, empty, tasks).await?;
    eprintln!("postgres: tiendo report progress (md)");
    let md = scratch.dir().join("progress.md");
    let report = timed(report_args(&["report", "progress"], "md", &md)).await?;
    let rows = rows_handed_over(scratch, tasks).await?;
    eprintln!("postgres: tiendo forecast (xlsx)");
    let xlsx = scratch.dir().join("forecast.xlsx");
    let forecast = timed(report_args(&["forecast"], "xlsx", &xlsx)).await?;
    let cells = cells_written(&xlsx, &scratch.dir().join("floor.xlsx"))?;
    Ok(vec![
        Pair {
            what: "import plan (PostgreSQL)",
            tiendo: import.seconds,
            floor: load.seconds,
            floor_is: "psql \\copy of the same rows, one transaction",
            target: 5.0,
        },
        Pair {
            what: "report progress md (PostgreSQL)",
            tiendo: report.seconds,
            floor: rows.seconds,
            floor_is: "psql \\copy of the report's rows, binary",
            target: 1.0,
        },
        Pair {
            what: "forecast xlsx (PostgreSQL)",
            tiendo: forecast.seconds,
            floor: cells,
            floor_is: "rust_xlsxwriter writing the same cells",
            target: 1.0,
        },
    ])
}

fn report_args(command: &[&str], format: &str, file: &Path) -> Vec<String> {
    let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    for a in ["--plan", PLAN, "--as-of", AS_OF, "--format", format, "-o"] {
        args.push(a.into());
    }
    args.push(file.display().to_string());
    args
}

/// The rows the import wrote, dumped to files (untimed), then loaded by `psql` into `empty`
/// given the same schema and reference rows (untimed): the load is timed, and checked.
async fn bulk_load(scratch: &Scratch, empty: &Scratch, tasks: usize) -> Result<Measured, Failure> {
    eprintln!("postgres: dumping the imported rows and the schema");
    let dir = scratch.dir();
    let file = |table: &str| dir.join(format!("{table}.copy")).display().to_string();
    for table in REFERENCE.iter().chain(&WRITTEN) {
        psql(
            &scratch.url,
            &format!("\\copy {table} to '{}'", file(table)),
        )
        .await?;
    }
    let schema = dir.join("schema.sql");
    run_tool(
        "pg_dump",
        &[
            "--schema-only",
            "--no-owner",
            "-d",
            &scratch.url,
            "-f",
            &schema.display().to_string(),
        ],
    )
    .await?;
    run_tool("psql", &psql_file(&empty.url, &schema)).await?;
    for table in REFERENCE {
        psql(
            &empty.url,
            &format!("\\copy {table} from '{}'", file(table)),
        )
        .await?;
    }
    let script = dir.join("load.sql");
    let mut sql = String::from("BEGIN;\n");
    for table in WRITTEN {
        let _ = writeln!(sql, "\\copy {table} from '{}'", file(table));
    }
    sql.push_str("COMMIT;\n");
    std::fs::write(&script, sql).map_err(|e| Failure::new(format!("{}: {e}", script.display())))?;
    eprintln!("postgres: psql loading the same rows");
    let args = psql_file(&empty.url, &script);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let m = process::measure(Path::new("psql"), &args, &[]).await?;
    let loaded = psql(&empty.url, "SELECT COUNT(*) FROM tasks").await?;
    if loaded.trim() != tasks.to_string() {
        return Err(Failure::new(format!(
            "the bulk load left {} tasks, not {tasks}",
            loaded.trim()
        )));
    }
    Ok(m)
}

/// The report's first-pass query, its rows handed over by PostgreSQL in binary to /dev/null
/// (no compiling to machine code, as tiendo reads it); checked to hand over every task.
async fn rows_handed_over(scratch: &Scratch, tasks: usize) -> Result<Measured, Failure> {
    let plan_id = psql(
        &scratch.url,
        &format!("SELECT id FROM plans WHERE number = '{PLAN}'"),
    )
    .await?;
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d")
        .map_err(|e| Failure::new(e.to_string()))?;
    let query = adapters::store::report_rows_query(plan_id.trim(), engine::time::end_of_day(as_of));
    let counted = psql(&scratch.url, &format!("SELECT COUNT(*) FROM ({query}) r")).await?;
    if counted.trim() != tasks.to_string() {
        return Err(Failure::new(format!(
            "the report's query hands over {} rows, not {tasks}",
            counted.trim()
        )));
    }
    eprintln!("postgres: psql handing over the report's rows");
    process::measure(
        Path::new("psql"),
        &[
            "-X",
            "-q",
            "-d",
            &scratch.url,
            "-c",
            &format!("\\copy ({query}) to '/dev/null' with (format binary)"),
        ],
        &[("PGOPTIONS", "-c jit=off")],
    )
    .await
}

/// Every cell of the workbook `from` (read untimed), written by rust_xlsxwriter alone to `to`
/// in its constant-memory mode, without styles: the seconds it took, checked to write them all.
fn cells_written(from: &Path, to: &Path) -> Result<f64, Failure> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let fail = |e: &dyn std::fmt::Display| Failure::new(format!("{}: {e}", from.display()));
    let mut book: Xlsx<_> = open_workbook(from).map_err(|e| fail(&e))?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        sheets.push((
            name.clone(),
            book.worksheet_range(&name).map_err(|e| fail(&e))?,
        ));
    }
    let cells: usize = sheets.iter().map(|(_, r)| r.used_cells().count()).sum();
    eprintln!("rust_xlsxwriter: writing {cells} cells");
    let t = Instant::now();
    let mut written = 0usize;
    let mut out = rust_xlsxwriter::Workbook::new();
    for (name, range) in &sheets {
        let ws = out
            .add_worksheet_with_constant_memory()
            .map_err(|e| fail(&e))?;
        ws.set_name(name).map_err(|e| fail(&e))?;
        for (row, col, data) in range.used_cells() {
            let (row, col) = (row as u32, col as u16);
            match data {
                Data::Float(f) => ws.write_number(row, col, *f),
                Data::Int(i) => ws.write_number(row, col, *i as f64),
                Data::Bool(b) => ws.write_boolean(row, col, *b),
                other => ws.write_string(row, col, other.to_string()),
            }
            .map_err(|e| fail(&e))?;
            written += 1;
        }
    }
    out.save(to).map_err(|e| fail(&e))?;
    let seconds = t.elapsed().as_secs_f64();
    if written != cells {
        return Err(Failure::new(format!("wrote {written} cells of {cells}")));
    }
    Ok(seconds)
}

/// Runs a PostgreSQL client tool untimed (the dumps and the schema); a failure says what it
/// printed.
async fn run_tool(exe: &str, args: &[impl AsRef<std::ffi::OsStr>]) -> Result<(), Failure> {
    let out = tokio::process::Command::new(exe)
        .args(args)
        .output()
        .await
        .map_err(|e| Failure::new(format!("cannot run {exe}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{exe} {} failed: {}",
            args.iter()
                .map(|a| a.as_ref().to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `psql`'s arguments to run the script `file` on the database at `url`, stopping at the first
/// error.
fn psql_file(url: &str, file: &Path) -> Vec<String> {
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"]
        .map(String::from)
        .into_iter()
        .chain([file.display().to_string()])
        .collect()
}
