//! Row 4, end to end through `cargo lambda watch`, and row 6's peak memory under that load.
//!
//! `wrk` drives both functions through the same emulator, in alternating runs, so the
//! empty function's figures are the floor of that emulator on this machine at that moment.

use std::fmt::Write as _;
use std::process::Command;

use crate::stats::{verdict, Spread};
use crate::{BenchError, Settings};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Wrk {
    pub p50_us: f64,
    pub p99_us: f64,
    pub rps: f64,
    /// Requests completed (`N requests in …`).
    pub requests: u64,
    /// Responses that were not 2xx/3xx, plus socket errors.
    pub failures: u64,
}

fn duration_us(s: &str) -> Option<f64> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// Reads the figures out of `wrk --latency` output.
pub fn parse(text: &str) -> Option<Wrk> {
    let mut w = Wrk::default();
    let (mut p50, mut p99, mut rps) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_us(v);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_us(v);
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            w.requests = n.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            w.failures += v.trim().parse::<u64>().unwrap_or(1);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            w.failures += v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    w.p50_us = p50?;
    w.p99_us = p99?;
    w.rps = rps?;
    Some(w)
}

pub fn wrk(url: &str, key: &str, connections: u32, seconds: u32) -> Result<Wrk, BenchError> {
    let output = Command::new("wrk")
        .arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg("-H")
        .arg(format!("X-API-KEY: {key}"))
        .arg(url)
        .output()
        .map_err(|e| BenchError(format!("running wrk: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text).ok_or_else(|| BenchError(format!("could not read wrk's output:\n{text}")))
}

/// The parent of `pid`, from `/proc/<pid>/stat`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces or parentheses: fields resume after the last ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` runs below `ancestor` (at most 16 generations down).
fn is_below(pid: u32, ancestor: u32) -> bool {
    let mut p = pid;
    for _ in 0..16 {
        match parent(p) {
            Some(pp) if pp == ancestor => return true,
            Some(pp) if pp > 1 => p = pp,
            _ => return false,
        }
    }
    false
}

/// The processes below `ancestor` for which `select(pid)` holds.
pub fn processes_below(ancestor: u32, select: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if select(pid) && is_below(pid, ancestor) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// Processes named `name` below `ancestor`, with their peak resident set (VmHWM) in KiB.
pub fn peak_rss(name: &str, ancestor: u32) -> Vec<(u32, u64)> {
    let named = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name)
    };
    processes_below(ancestor, named)
        .into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let kib = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
            Some((pid, kib))
        })
        .collect()
}

/// One table row for `connections` concurrent connections.
pub fn run(
    settings: &Settings,
    base: &str,
    key: &str,
    connections: u32,
) -> Result<String, BenchError> {
    let base = base.trim_end_matches('/');
    let protected = format!("{base}/test-protected/");
    let empty = format!("{base}/empty/");
    // The emulator starts instances on demand: warm both up to this concurrency first.
    for url in [&empty, &protected] {
        let w = wrk(url, key, connections, settings.http_warm_up_seconds)?;
        if w.failures > 0 {
            return Err(BenchError(format!(
                "{url}: {} failed responses while warming up (is the key valid, are the services up?)",
                w.failures
            )));
        }
    }
    let (mut p50, mut p99, mut rps) = (Spread::default(), Spread::default(), Spread::default());
    let (mut e50, mut e99, mut erps) = (Spread::default(), Spread::default(), Spread::default());
    let mut ratio = Spread::default();
    let mut failures = 0;
    for run in 0..settings.runs {
        let mut pair = [None, None];
        // Alternate which goes first, so neither always runs on a warmer machine.
        for which in [run % 2, 1 - run % 2] {
            let url = if which == 0 { &protected } else { &empty };
            let w = wrk(url, key, connections, settings.http_seconds)?;
            failures += w.failures;
            pair[which] = Some(w);
        }
        let (p, e) = (pair[0].take().unwrap(), pair[1].take().unwrap());
        p50.push(p.p50_us / 1e3);
        p99.push(p.p99_us / 1e3);
        rps.push(p.rps);
        e50.push(e.p50_us / 1e3);
        e99.push(e.p99_us / 1e3);
        erps.push(e.rps);
        ratio.push(p.p50_us / e.p50_us);
    }
    let mut out = String::new();
    writeln!(
        out,
        "| c = {connections} | {} | {} | {} | {} | {} | {} | ×{} | ≤ 1.15: {}{} |",
        p50.show(2, "ms"),
        p99.show(2, "ms"),
        rps.show(0, "/s"),
        e50.show(2, "ms"),
        e99.show(2, "ms"),
        erps.show(0, "/s"),
        ratio.ratio(),
        verdict(ratio.median() <= 1.15),
        if failures > 0 {
            format!(" ({failures} failed responses!)")
        } else {
            String::new()
        },
    )
    .ok();
    Ok(out)
}

pub const HEADER: &str = "| Load | test-protected p50 | p99 | requests/s | empty p50 | p99 | requests/s | p50 ratio | Goal |\n|---|---|---|---|---|---|---|---|---|\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 3s test @ http://127.0.0.1:9100/lambda-url/empty/
  1 threads and 1 connections
  Latency Distribution
     50%  412.00us
     75%  500.00us
     90%    1.10ms
     99%    2.31ms
  3000 requests in 3.00s, 500.00KB read
  Non-2xx or 3xx responses: 2
  Socket errors: connect 0, read 1, write 0, timeout 3
Requests/sec:   1000.50
Transfer/sec:    166.67KB
";
        let w = parse(text).unwrap();
        assert_eq!(w.p50_us, 412.0);
        assert_eq!(w.p99_us, 2310.0);
        assert_eq!(w.rps, 1000.5);
        assert_eq!(w.requests, 3000);
        assert_eq!(w.failures, 6);
    }

    #[test]
    fn durations_keep_their_unit() {
        assert_eq!(duration_us("1.50s"), Some(1.5e6));
        assert_eq!(duration_us(" 7.00ms"), Some(7000.0));
        assert_eq!(duration_us("bogus"), None);
    }
}
