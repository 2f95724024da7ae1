//! Processes: the pid files `up` leaves behind, signals, and waiting on a start-up. A pid
//! counts only while its command line still matches, so `down` never stops a reused pid.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::log;

/// Whether `pid` names a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; kill(2) only checks that the process exists and that
    // we may signal it.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    // /proc/PID/stat: "PID (comm) STATE …"; comm may hold spaces and parentheses.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => true, // no /proc (macOS): trust kill(2)
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        if pid > 0 {
            // SAFETY: plain kill(2) on a pid we read from our own pid file and checked.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

/// The command line of `pid` (as retitled by the process, e.g. `redis-server 127.0.0.1:6379`),
/// empty if it is gone.
pub(super) fn process_args(pid: u32) -> String {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .split('\0')
            .filter(|arg| !arg.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) if Path::new("/proc/self").exists() => String::new(),
        Err(_) => Command::new("ps")
            .args(["-p", &pid.to_string(), "-o", "args="])
            .stderr(Stdio::null())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default(),
    }
}

/// The pid in `file` if it names a live process whose command line contains `pattern`;
/// a stale pid file is removed.
pub(super) fn pid_of(file: &Path, pattern: &str) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if let Ok(pid) = digits.parse() {
        if alive(pid) && process_args(pid).contains(pattern) {
            return Some(pid);
        }
    }
    let _ = fs::remove_file(file);
    None
}

/// The port after `-port` on a DynamoDB Local command line.
pub(super) fn dynamodb_port_of(args: &str) -> Option<u16> {
    let mut words = args.split_whitespace();
    words.find(|w| *w == "-port")?;
    words.next()?.parse().ok()
}

/// The port of `redis-server 127.0.0.1:PORT` (how redis-server retitles itself): the digits
/// after the last colon that has any.
pub(super) fn redis_port_of(args: &str) -> Option<u16> {
    args.rmatch_indices(':').find_map(|(i, _)| {
        let digits: String = args[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

pub(super) fn stop_pid(name: &str, pid: u32) {
    log(format!("stopping {name} (pid {pid})..."));
    signal(pid, libc::SIGTERM);
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    log(format!(
        "{name} (pid {pid}) did not stop in 10s; sending SIGKILL"
    ));
    signal(pid, libc::SIGKILL);
    sleep(Duration::from_millis(200));
}

/// Stops a child of this process that failed to start, and reaps it.
pub(super) fn stop_child(name: &str, child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    log(format!("stopping {name} (pid {})...", child.id()));
    signal(child.id(), libc::SIGTERM);
    for _ in 0..100 {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `program` is an executable file on PATH.
pub(super) fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Runs `command` with no output, killing it after `limit`; true if it succeeded.
pub(super) fn succeeds(command: &mut Command, limit: Duration) -> bool {
    let Ok(mut child) = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Our stderr, for a child's stdout: progress output never lands on stdout.
pub(super) fn to_stderr() -> Stdio {
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::inherit(), Stdio::from)
}

/// Waits until `ready`, saying so every 5 s; false after `limit` seconds or when `child`
/// (if any) exits first.
pub(super) fn wait_for(
    name: &str,
    limit: u64,
    mut ready: impl FnMut() -> bool,
    mut child: Option<&mut Child>,
) -> bool {
    let start = Instant::now();
    let mut next = 5;
    while !ready() {
        if let Some(child) = child.as_deref_mut() {
            if !matches!(child.try_wait(), Ok(None)) {
                log(format!("{name} exited during start-up"));
                return false;
            }
        }
        let waited = start.elapsed().as_secs();
        if waited >= limit {
            log(format!("{name} did not answer within {limit}s"));
            return false;
        }
        if waited >= next {
            log(format!("still waiting for {name} ({waited}s)..."));
            next += 5;
        }
        sleep(Duration::from_millis(250));
    }
    true
}

pub(super) fn show_log_tail(file: &Path) {
    let Ok(f) = File::open(file) else { return };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    log(format!("last lines of {}:", file.display()));
    for line in &lines[lines.len().saturating_sub(30)..] {
        eprintln!("    {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_from_command_lines() {
        let java = "java -Djava.library.path=/x/DynamoDBLocal_lib -jar /x/DynamoDBLocal.jar -inMemory -sharedDb -port 8001 -disableTelemetry";
        assert_eq!(dynamodb_port_of(java), Some(8001));
        assert_eq!(dynamodb_port_of("java -jar DynamoDBLocal.jar"), None);
        assert_eq!(redis_port_of("redis-server 127.0.0.1:6390"), Some(6390));
        assert_eq!(redis_port_of("redis-server *:6379"), Some(6379));
        assert_eq!(redis_port_of("redis-server"), None);
    }

    #[test]
    fn a_live_process_and_its_command_line_are_seen() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(!process_args(me).is_empty());
        assert!(!alive(0));
    }
}
