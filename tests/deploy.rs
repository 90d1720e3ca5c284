//! The deployment files in `deploy/` (issue 13, "Deployment"), checked by the tools that will
//! read them on a server: `systemd-analyze verify` for the two units, `nginx -t` for the
//! reverse-proxy example, `bash -n` and ShellCheck for the backup and restore scripts; and what
//! the issue requires of each, read from the files. A tool that is missing skips its check on a
//! workstation and fails it in CI (`CI=true`; `.ci/run` installs systemd, nginx-light,
//! shellcheck and openssl). The restore itself is tested in `tests/faults/restore.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file)
}

/// Whether `program` runs (`args` being a harmless call such as `--version`). Missing: false on
/// a workstation, a failure in CI.
fn have(program: &str, args: &[&str], package: &str) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{program} is missing in CI: .ci/run installs the Debian package {package}");
        }
        eprintln!("skipped: {program} is not installed (Debian package {package})");
    }
    ok
}

/// The `[Service]` settings of a unit file: key → every value given (in order).
fn service_settings(unit: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(deploy(unit)).unwrap();
    let mut section = String::new();
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[Service]"
            && let Some((k, v)) = line.split_once('=')
        {
            settings
                .entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    settings
}

const UNITS: [(&str, &str); 2] = [
    ("tiendo-serve.service", "serve"),
    ("tiendo-worker.service", "worker"),
];

/// Restart on failure, SIGTERM with time to drain, a dedicated user, secrets from an
/// environment file, files private to the service (umask 0077, state directory 0700).
#[test]
fn the_systemd_units_restart_drain_and_keep_their_files_private() {
    for (unit, command) in UNITS {
        let s = service_settings(unit);
        let one = |key: &str| -> &str {
            match s.get(key).map(Vec::as_slice) {
                Some([v]) => v.as_str(),
                other => panic!("{unit}: {key} should be set once, is {other:?}"),
            }
        };
        assert_eq!(one("Restart"), "on-failure", "{unit}");
        assert_eq!(one("KillSignal"), "SIGTERM", "{unit}");
        // Long enough for the drain (requests and the scheduler's pass, each within 20 s).
        let stop: u64 = one("TimeoutStopSec").parse().unwrap_or_else(|e| {
            panic!("{unit}: TimeoutStopSec in seconds: {e}");
        });
        assert!((25..=300).contains(&stop), "{unit}: TimeoutStopSec={stop}");
        let user = one("User");
        assert!(!user.is_empty() && user != "root", "{unit}: User={user}");
        assert!(
            one("EnvironmentFile").starts_with("/etc/"),
            "{unit}: EnvironmentFile={}",
            one("EnvironmentFile")
        );
        assert_eq!(one("UMask"), "0077", "{unit}");
        assert_eq!(one("StateDirectory"), "tiendo", "{unit}");
        assert_eq!(one("StateDirectoryMode"), "0700", "{unit}");
        let exec = one("ExecStart");
        assert!(
            exec.starts_with('/') && exec.split_whitespace().nth(1) == Some(command),
            "{unit}: ExecStart={exec}"
        );
        // No secret written into the unit itself (systemctl show prints it to anyone).
        assert!(
            !s.contains_key("Environment"),
            "{unit}: use EnvironmentFile"
        );
    }
}

/// `systemd-analyze verify` accepts both units without a word: no unknown key, no bad value.
#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze", &["--version"], "systemd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (unit, _) in UNITS {
        // The binary the unit starts must exist for verify: the one cargo built.
        let text = std::fs::read_to_string(deploy(unit))
            .unwrap()
            .replace("/usr/local/bin/tiendo", env!("CARGO_BIN_EXE_tiendo"));
        let path = dir.path().join(unit);
        std::fs::write(&path, text).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {unit}: {}\n{said}",
            out.status
        );
    }
}

/// The proxy example redirects HTTP to HTTPS, replaces the forwarded address with the client's
/// own (tiendo trusts it from the proxy only) and lets an upload of tiendo's size through.
#[test]
fn the_nginx_example_forwards_the_client_address_and_redirects_to_tls() {
    let conf = std::fs::read_to_string(deploy("nginx-tiendo.conf")).unwrap();
    let lines: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for needed in [
        "return 301 https://$host$request_uri;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_pass http://127.0.0.1:8080;",
        "client_max_body_size 26m;",
    ] {
        assert!(lines.contains(&needed), "nginx-tiendo.conf lacks: {needed}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("listen 443 ssl")),
        "nginx-tiendo.conf: no TLS listener"
    );
}

/// `nginx -t` accepts the example as installed on Debian 12 (nginx 1.22), with a throw-away
/// certificate in place of the city's.
#[test]
fn the_nginx_example_passes_nginx_t() {
    if !have("nginx", &["-v"], "nginx-light") || !have("openssl", &["version"], "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=tiendo.haiphong.gov.vn", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let site = std::fs::read_to_string(deploy("nginx-tiendo.conf"))
        .unwrap()
        .replace(
            "/etc/letsencrypt/live/tiendo.haiphong.gov.vn/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/tiendo.haiphong.gov.vn/privkey.pem",
            &key.display().to_string(),
        );
    std::fs::write(d.join("site.conf"), site).unwrap();
    let main = format!(
        "pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  include {0}/site.conf;\n}}\n",
        d.display()
    );
    std::fs::write(d.join("nginx.conf"), main).unwrap();
    let out = Command::new("nginx")
        .arg("-t")
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nginx -t: {}\n{said}", out.status);
    // Newer nginx (1.25.1+) only deprecates `listen … http2`, which Debian 12's needs.
    let warnings: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("[warn]") && !l.contains("\"http2\" directive is deprecated"))
        .collect();
    assert!(warnings.is_empty(), "nginx -t warns:\n{said}");
}

/// The scripts parse (`bash -n`) and ShellCheck finds nothing in them.
#[test]
fn the_backup_and_restore_scripts_parse_and_pass_shellcheck() {
    let scripts = [deploy("tiendo-backup"), deploy("tiendo-restore")];
    for s in &scripts {
        let out = Command::new("bash").arg("-n").arg(s).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(s).unwrap();
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{}", s.display());
        assert!(text.contains("\nset -euo pipefail\n"), "{}", s.display());
        assert!(text.contains("\numask 077\n"), "{}", s.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(s).unwrap().permissions().mode();
            assert!(mode & 0o111 != 0, "{} is not executable", s.display());
        }
    }
    if !have("shellcheck", &["--version"], "shellcheck") {
        return;
    }
    let out = Command::new("shellcheck").args(&scripts).output().unwrap();
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
