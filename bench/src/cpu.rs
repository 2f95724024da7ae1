//! "CPU per request" (issue 16): CPU time spent inside the function's own process per
//! request, the figure that sets the Lambda bill.
//!
//! Through `cargo lambda watch --release --concurrency 1` (local/bench.sh starts it), `wrk`
//! at c = 1 drives one function at a time; utime + stime of that function's process (not
//! the emulator's) is read from `/proc/<pid>/stat` before and after each run and divided by
//! the requests wrk completed. The processes are found by their executable (the release
//! binaries) below the emulator's process. After a warm-up each function must have exactly
//! one instance, and the same one through every run; the subjects take turns, in a rotating
//! order, one run each.
//!
//! Beside them, the floor that any cache hit pays: the CPU one raw Redis `GET` round trip
//! costs a client, measured in this process on the same client (the redis crate's
//! multiplexed connection on a current-thread Tokio runtime, as in a function), in its own
//! turn of each run. Most of it is the kernel's (the loopback send, the sleep and wake-up,
//! the receive), so it says how much of Keygate's share no code change in the function
//! can remove.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use crate::http::{processes_below, wrk};
use crate::stats::{verdict, Spread};
use crate::{BenchError, Settings};

/// On Lambda at 128 MB a function gets about 1/14 of a vCPU: a µs of CPU is ~14 µs billed.
const BILLED_PER_CPU_128MB: f64 = 14.0;
/// Issue 16's goal for Keygate's share (test-protected minus the empty function).
const GOAL_SHARE_US: f64 = 15.0;

/// Clock ticks per second, the unit of utime and stime.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t: &f64| t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid` (all its threads, live and exited), in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, BenchError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| {
        BenchError(format!(
            "reading /proc/{pid}/stat (did the instance exit?): {e}"
        ))
    })?;
    // Fields resume after the last ')': state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (field(11), field(12)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => Err(BenchError(format!("unexpected /proc/{pid}/stat: {stat}"))),
    }
}

/// CPU time this thread has run, in nanoseconds (`/proc/thread-self/schedstat`: exact, not
/// sampled in clock ticks like utime and stime).
fn thread_cpu_ns() -> Result<u64, BenchError> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    stat.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| BenchError(format!("unexpected /proc/thread-self/schedstat: {stat}")))
}

/// CPU per raw `GET` of `key` on `conn`, over `seconds` of back-to-back round trips.
async fn round_trip_cpu_us(
    conn: &mut MultiplexedConnection,
    key: &str,
    seconds: u32,
) -> Result<f64, BenchError> {
    let until = Instant::now() + Duration::from_secs(seconds.into());
    let before = thread_cpu_ns()?;
    let mut n = 0u64;
    while Instant::now() < until {
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(conn).await?;
        std::hint::black_box(value);
        n += 1;
    }
    let after = thread_cpu_ns()?;
    Ok((after - before) as f64 / 1e3 / n.max(1) as f64)
}

/// The processes below `ancestor` running the executable `exe`.
fn instances(exe: &Path, ancestor: u32) -> Vec<u32> {
    processes_below(ancestor, |pid| {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|p| p == exe || std::fs::canonicalize(&p).is_ok_and(|p| p == exe))
    })
}

/// The one instance of `exe`, or an error saying how many there are.
fn one_instance(exe: &Path, ancestor: u32) -> Result<u32, BenchError> {
    match instances(exe, ancestor).as_slice() {
        [pid] => Ok(*pid),
        found => Err(BenchError(format!(
            "expected exactly one instance of {} below process {ancestor}, found {} ({found:?}): is the emulator running with --concurrency 1?",
            exe.display(),
            found.len()
        ))),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Subject {
    label: &'static str,
    url: String,
    key: String,
    exe: PathBuf,
    cpu_us: Spread,
    requests: Spread,
    /// CPU per request minus the empty function's in the same run.
    share_us: Spread,
}

/// The keys the rows present: without limits, with a rate limit and a quota, and of an
/// identity with a limit and a quota.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    pub plain: &'a str,
    pub limited: &'a str,
    pub identity: &'a str,
}

/// The section's table, and a line with the instances and the load.
pub async fn run(
    settings: &Settings,
    base: &str,
    ancestor: u32,
    protected: &Path,
    empty: &Path,
    keys: &Keys<'_>,
) -> Result<String, BenchError> {
    let Keys {
        plain: key,
        limited: limited_key,
        identity: identity_key,
    } = *keys;
    let load_before = load_average();
    let base = base.trim_end_matches('/');
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let (protected, empty) = (canonical(protected), canonical(empty));
    let subject = |label, url: String, key: &str, exe: &PathBuf| Subject {
        label,
        url,
        key: key.to_owned(),
        exe: exe.clone(),
        cpu_us: Spread::default(),
        requests: Spread::default(),
        share_us: Spread::default(),
    };
    let mut subjects = [
        subject(
            "empty `lambda_http` function (baseline)",
            format!("{base}/empty/"),
            key,
            &empty,
        ),
        subject(
            "test-protected, valid key without limits",
            format!("{base}/test-protected/"),
            key,
            &protected,
        ),
        subject(
            "test-protected, valid key with a rate limit and a quota",
            format!("{base}/test-protected/"),
            limited_key,
            &protected,
        ),
        subject(
            "test-protected, key of an identity with a limit and a quota",
            format!("{base}/test-protected/"),
            identity_key,
            &protected,
        ),
    ];
    // Warm up: the emulator starts an instance on the first request; with --concurrency 1
    // and c = 1 it needs no other.
    for s in &subjects {
        let w = wrk(&s.url, &s.key, 1, settings.http_warm_up_seconds)?;
        if w.failures > 0 {
            return Err(BenchError(format!(
                "{} ({}): {} failed responses while warming up",
                s.url, s.label, w.failures
            )));
        }
    }
    let pid_protected = one_instance(&protected, ancestor)?;
    let pid_empty = one_instance(&empty, ancestor)?;
    let pid_of = |s: &Subject| {
        if s.exe == empty {
            pid_empty
        } else {
            pid_protected
        }
    };
    let ticks = clock_ticks();
    let mut conn = redis::Client::open(settings.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let floor_key = format!("{}:cpu-floor", settings.namespace);
    // A 71-byte value, the size of a plain key's entry (row 1).
    redis::cmd("SET")
        .arg(&floor_key)
        .arg(vec![b'x'; 71])
        .query_async::<()>(&mut conn)
        .await?;
    round_trip_cpu_us(&mut conn, &floor_key, 1).await?;
    let mut floor = Spread::default();
    let mut failures = 0;
    for run in 0..settings.runs {
        floor.push(round_trip_cpu_us(&mut conn, &floor_key, settings.http_seconds).await?);
        let mut per_request = [0.0; 4];
        // A rotating order, so no subject always runs first or on a warmer machine.
        for i in 0..subjects.len() {
            let which = (run + i) % subjects.len();
            let s = &subjects[which];
            let pid = pid_of(s);
            let before = cpu_ticks(pid)?;
            let w = wrk(&s.url, &s.key, 1, settings.http_seconds)?;
            let after = cpu_ticks(pid)?;
            if one_instance(&s.exe, ancestor)? != pid {
                return Err(BenchError(format!(
                    "{}: the emulator replaced the instance during the run",
                    s.label
                )));
            }
            failures += w.failures;
            if w.requests == 0 {
                return Err(BenchError(format!("{}: wrk completed no request", s.label)));
            }
            let us = (after - before) as f64 / ticks * 1e6 / w.requests as f64;
            per_request[which] = us;
            let s = &mut subjects[which];
            s.cpu_us.push(us);
            s.requests.push(w.requests as f64);
        }
        for (s, us) in subjects.iter_mut().zip(per_request).skip(1) {
            s.share_us.push(us - per_request[0]);
        }
    }
    redis::cmd("DEL")
        .arg(&floor_key)
        .query_async::<()>(&mut conn)
        .await?;
    let load_after = load_average();

    let mut out = String::from(
        "| Row | CPU per request (utime + stime) | Requests per run | Keygate's share (minus `empty`, same run) | Billed at 128 MB (×14): per request / Keygate's share | Goal (share ≤ 15 µs) |\n|---|---|---|---|---|---|\n",
    );
    for (i, s) in subjects.iter().enumerate() {
        let (share, billed_share, goal) = if i == 0 {
            ("baseline".to_owned(), String::new(), String::new())
        } else {
            (
                s.share_us.show(1, "µs"),
                format!(
                    " / {:.2} ms",
                    s.share_us.median() * BILLED_PER_CPU_128MB / 1e3
                ),
                format!(
                    "{} µs: {}",
                    GOAL_SHARE_US,
                    verdict(s.share_us.median() <= GOAL_SHARE_US)
                ),
            )
        };
        writeln!(
            out,
            "| CPU per request: {} | {} | {:.0} ({:.0}–{:.0}) | {share} | {:.2} ms{billed_share} | {goal} |",
            s.label,
            s.cpu_us.show(1, "µs"),
            s.requests.median(),
            s.requests.min(),
            s.requests.max(),
            s.cpu_us.median() * BILLED_PER_CPU_128MB / 1e3,
        )
        .ok();
    }
    writeln!(
        out,
        "| Floor: one raw Redis `GET` round trip (71-byte value) on the same client, in the bench's process | {} | | the least a cache hit adds to `empty` | {:.2} ms | a share ≤ 15 µs needs this below 15 µs |",
        floor.show(1, "µs"),
        floor.median() * BILLED_PER_CPU_128MB / 1e3,
    )
    .ok();
    writeln!(
        out,
        "\nOne instance each (process {pid_empty} `{}`, process {pid_protected} `{}`), {} clock ticks per second; load average (1, 5, 15 min) {load_before} before this step, {load_after} after.{}",
        empty.display(),
        protected.display(),
        ticks,
        if failures > 0 {
            format!(" **{failures} failed responses!**")
        } else {
            String::new()
        }
    )
    .ok();
    Ok(out)
}
