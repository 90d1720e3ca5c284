//! Measuring a command as a user runs it: its own process, its wall time (process start
//! included) and its peak resident memory.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::Failure;

/// What one command took.
pub struct Measured {
    pub seconds: f64,
    /// The high-water mark of its resident memory in MiB, where the system tells it (Linux).
    pub peak_mib: Option<f64>,
    /// Processor time it used (user + system, its children included), where the system tells
    /// it: on a loaded machine the wall time waits for a core, this does not.
    pub cpu_seconds: Option<f64>,
    pub stdout: String,
}

/// Runs `exe args` with `env` and waits for it, polling its peak resident memory (VmHWM) every
/// 20 ms until it exits (growth in its last 20 ms would be missed). A failed command is an
/// error carrying what it printed.
pub async fn measure(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Measured, Failure> {
    let shown = format!("`{} {}`", exe.display(), args.join(" "));
    let cpu_before = children_cpu_seconds();
    let t = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new(format!("cannot run {shown}: {e}")))?;
    let pid = child.id();
    let read_out = tokio::spawn(read_all(child.stdout.take()));
    let read_err = tokio::spawn(read_all(child.stderr.take()));
    let mut peak: Option<f64> = None;
    let status = loop {
        if let Some(p) = pid.and_then(peak_mib) {
            peak = Some(peak.map_or(p, |q: f64| q.max(p)));
        }
        tokio::select! {
            s = child.wait() => break s,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    .map_err(|e| Failure::new(format!("{shown} did not finish: {e}")))?;
    let seconds = t.elapsed().as_secs_f64();
    // The benchmarks run one command at a time, so the children's processor time grew by
    // this one's alone.
    let cpu_seconds = cpu_before
        .zip(children_cpu_seconds())
        .map(|(before, after)| after - before);
    let stdout = read_out.await.unwrap_or_default();
    let stderr = read_err.await.unwrap_or_default();
    if !status.success() {
        return Err(Failure::new(format!("{shown} failed: {stdout}{stderr}")));
    }
    Ok(Measured {
        seconds,
        peak_mib: peak,
        cpu_seconds,
        stdout,
    })
}

async fn read_all(pipe: Option<impl AsyncReadExt + Unpin>) -> String {
    let mut s = String::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_string(&mut s).await;
    }
    s
}

/// The high-water mark of a process's resident memory, in MiB (Linux `/proc`).
fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// User + system processor time of this process's waited-for children so far, in seconds
/// (Linux: `cutime` and `cstime` of `/proc/self/stat`, in clock ticks, which `/proc` always
/// counts at 100 per second).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces: `state`
    // is field 3, `cutime` 16 and `cstime` 17.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}

/// The machine's load (1, 5, 15 minutes): other work on a small machine shows in the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}
