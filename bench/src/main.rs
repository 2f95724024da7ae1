//! `keygate-bench`: the figures behind `make bench` (local/bench.sh runs it). Each
//! subcommand prints a Markdown table for bench/RESULTS.md on stdout; progress goes to
//! stderr. It never asserts on time: a goal that is missed is printed as missed.
//!
//! ```text
//! keygate-bench inproc                      rows 1, 2, 3 and 7 (in process)
//! keygate-bench key                         issues a key in the bench table, prints it
//! keygate-bench cold-start PROTECTED EMPTY  row 5 (needs KEYGATE_BENCH_KEY)
//! keygate-bench http BASE_URL CONNECTIONS   row 4 through `cargo lambda watch` (same)
//! keygate-bench key-limited                 issues a key with a rate limit and a quota
//! keygate-bench key-identity                issues a key of an identity with a limit and a quota
//! keygate-bench cpu BASE_URL WATCH_PID PROTECTED EMPTY
//!                                           "CPU per request" through `cargo lambda watch
//!                                           --concurrency 1` (needs KEYGATE_BENCH_KEY,
//!                                           KEYGATE_BENCH_LIMITED_KEY and
//!                                           KEYGATE_BENCH_IDENTITY_KEY)
//! keygate-bench rss NAME ANCESTOR_PID       row 6: peak RSS of NAME's processes
//! keygate-bench regions                     bench/REGIONS.md (`make regions`): from a
//!                                           revoke in region A to region B refusing it
//! ```
//!
//! Settings come from the environment (`regions` has its own too, see regions.rs): `REDIS_URL`, `AWS_ENDPOINT_URL_DYNAMODB` (and the
//! SDK's other variables), `KEYGATE_BENCH_TABLE`, `KEYGATE_BENCH_NAMESPACE`, `BENCH_RUNS`,
//! and `BENCH_QUICK=1` for a short smoke run of the harness itself.

mod cold;
mod cpu;
mod http;
mod inproc;
mod profile;
mod regions;
mod stats;
mod stream;

use std::path::PathBuf;

#[derive(Debug)]
pub struct BenchError(String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<redis::RedisError> for BenchError {
    fn from(e: redis::RedisError) -> Self {
        BenchError(format!("Redis: {e}"))
    }
}

impl From<keygate::store::StoreError> for BenchError {
    fn from(e: keygate::store::StoreError) -> Self {
        BenchError(format!("DynamoDB: {e}"))
    }
}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError(format!("I/O: {e}"))
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub redis_url: String,
    pub namespace: String,
    pub runs: usize,
    pub hit_iterations: usize,
    pub miss_iterations: usize,
    pub malformed_iterations: usize,
    pub issue_iterations: usize,
    pub cold_starts: usize,
    pub http_seconds: u32,
    pub http_warm_up_seconds: u32,
}

impl Settings {
    fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let quick = std::env::var_os("BENCH_QUICK").is_some();
        let scale = |full: usize, small: usize| if quick { small } else { full };
        Self {
            table: var("KEYGATE_BENCH_TABLE", "keygate-bench"),
            redis_url: var("REDIS_URL", "redis://127.0.0.1:6379"),
            namespace: var("KEYGATE_BENCH_NAMESPACE", "kgbench"),
            runs: var("BENCH_RUNS", if quick { "2" } else { "5" })
                .parse()
                .unwrap_or(5)
                .max(1),
            hit_iterations: scale(2_000, 200),
            miss_iterations: scale(200, 20),
            malformed_iterations: scale(1_000_000, 50_000),
            issue_iterations: scale(100, 10),
            cold_starts: scale(15, 3),
            http_seconds: var("BENCH_HTTP_SECONDS", if quick { "1" } else { "4" })
                .parse()
                .unwrap_or(4),
            http_warm_up_seconds: if quick { 1 } else { 3 },
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: keygate-bench inproc | profile test-protected|test-protected-limited|verify|empty N | key | key-limited | key-identity | cold-start PROTECTED EMPTY | http BASE_URL CONNECTIONS | cpu BASE_URL WATCH_PID PROTECTED EMPTY | rss NAME ANCESTOR_PID | regions"
    );
    std::process::exit(2)
}

fn bench_key() -> Result<String, BenchError> {
    std::env::var("KEYGATE_BENCH_KEY")
        .map_err(|_| BenchError("KEYGATE_BENCH_KEY is not set (run `keygate-bench key`)".into()))
}

async fn main_inner(args: &[String]) -> Result<String, BenchError> {
    let settings = Settings::from_env();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match arg(1).as_str() {
        "inproc" => inproc::run_all(&settings).await,
        "profile" => {
            let n = arg(3).parse().unwrap_or_else(|_| usage());
            profile::run(&settings, &arg(2), n).await
        }
        "key" => {
            let b = inproc::Bench::new(&settings).await?;
            Ok(b.issue_key("bench-http").await? + "\n")
        }
        "key-limited" => {
            // The largest limit and quota: no request of the run is refused, but every one
            // is counted by the script, as for any key with limits.
            let b = inproc::Bench::new(&settings).await?;
            let rate_limit = keygate::domain::limit::RateLimit {
                limit: keygate::domain::limit::MAX_RATE_LIMIT,
                window_seconds: keygate::domain::limit::MAX_WINDOW_SECONDS,
            };
            Ok(b.issue_limited_key("bench-cpu-limited", rate_limit).await? + "\n")
        }
        "key-identity" => {
            let b = inproc::Bench::new(&settings).await?;
            Ok(b.issue_identity_key("bench-cpu-identity").await? + "\n")
        }
        "cpu" => {
            let ancestor = arg(3).parse().unwrap_or_else(|_| usage());
            let var = |name: &str, command: &str| {
                std::env::var(name).map_err(|_| {
                    BenchError(format!("{name} is not set (run `keygate-bench {command}`)"))
                })
            };
            let limited = var("KEYGATE_BENCH_LIMITED_KEY", "key-limited")?;
            let identity = var("KEYGATE_BENCH_IDENTITY_KEY", "key-identity")?;
            cpu::run(
                &settings,
                &arg(2),
                ancestor,
                &PathBuf::from(arg(4)),
                &PathBuf::from(arg(5)),
                &cpu::Keys {
                    plain: &bench_key()?,
                    limited: &limited,
                    identity: &identity,
                },
            )
            .await
        }
        "cold-start" => cold::run(
            &settings,
            &PathBuf::from(arg(2)),
            &PathBuf::from(arg(3)),
            &bench_key()?,
        ),
        "http" => {
            let connections = arg(3).parse().unwrap_or_else(|_| usage());
            let row = http::run(&settings, &arg(2), &bench_key()?, connections)?;
            Ok(row)
        }
        "http-header" => Ok(http::HEADER.to_owned()),
        "regions" => {
            let (report, failed) = regions::run(&settings).await?;
            if failed {
                // The report still goes out: it says which check failed.
                print!("{report}");
                return Err(BenchError(
                    "regions: a check that must hold failed (see the report)".into(),
                ));
            }
            Ok(report)
        }
        "rss" => {
            let ancestor = arg(3).parse().unwrap_or_else(|_| usage());
            let found = http::peak_rss(&arg(2), ancestor);
            let max = found.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
            Ok(format!(
                "{} {:.1} MB {}\n",
                found.len(),
                max as f64 / 1024.0,
                stats::verdict(max > 0 && max < 20 * 1024)
            ))
        }
        _ => usage(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match main_inner(&args).await {
        Ok(out) => print!("{out}"),
        Err(err) => {
            eprintln!("keygate-bench: {err}");
            std::process::exit(1);
        }
    }
}
