//! `keygate-local import FILE --url URL --token TOKEN [--batch N] [--restart]`: moves the
//! keys of the old Django key manager into Keygate through `POST {URL}/api/keys/import`.
//!
//! [`read`] turns the export (CSV or `manage.py dumpdata` JSON) into rows, [`run`] sends
//! them in batches through a [`Transport`] ([`http`] in the binary), and [`progress`] keeps
//! what a later run needs to resume.

pub mod http;
pub mod progress;
pub mod read;
pub mod run;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use read::{Format, Input, LegacyKey, Row, Status};
pub use run::{run, Answer, Options, Summary, Transport, TransportError, MAX_BATCH};

pub const USAGE: &str = "\
usage: keygate-local import FILE --url URL [--token TOKEN] [--batch N] [--restart]
  FILE       the old system's keys: CSV (key,name,status,created_at,expires_at) or the JSON
             of `manage.py dumpdata app.ApiKey` (by extension .csv / .json, else by content)
  --url      the admin function's base, such as http://127.0.0.1:9000/lambda-url/admin
  --token    an admin credential of role operate or higher, or the bootstrap ADMIN_TOKEN
             (default: the environment variable KEYGATE_TOKEN, which ps does not show)
  --batch    keys per call, 1 to 1000 (default 1000)
  --restart  ignore FILE.import-progress and start from the first row
Progress goes to stderr, the summary to stdout. Exit code 0: every row imported or skipped;
1: rows that could not be read; 2: did not start; 3: stopped before the end (run it again to
resume from FILE.import-progress).";

/// The command line of `import`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arguments {
    pub file: PathBuf,
    pub url: String,
    pub token: String,
    pub batch: usize,
    pub restart: bool,
}

/// Reads the arguments after `import`; `env_token` is `KEYGATE_TOKEN`, used without `--token`.
pub fn arguments(args: &[String], env_token: Option<String>) -> Result<Arguments, String> {
    let (mut file, mut url, mut token, mut batch, mut restart) = (None, None, None, None, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--url" => &mut url,
            "--token" => &mut token,
            "--batch" => &mut batch,
            "--restart" => {
                restart = true;
                continue;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown argument {flag:?}")),
            path => {
                if file.replace(PathBuf::from(path)).is_some() {
                    return Err("one FILE only".to_owned());
                }
                continue;
            }
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        if slot.replace(value.clone()).is_some() {
            return Err(format!("{arg} is given twice"));
        }
    }
    let batch = match batch {
        None => MAX_BATCH,
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| (1..=MAX_BATCH).contains(n))
            .ok_or_else(|| format!("--batch must be a number from 1 to {MAX_BATCH}"))?,
    };
    Ok(Arguments {
        file: file.ok_or("FILE is required")?,
        url: url.ok_or("--url is required")?,
        token: token
            .or(env_token)
            .filter(|t| !t.trim().is_empty())
            .ok_or("--token (or KEYGATE_TOKEN) is required")?,
        batch,
        restart,
    })
}

/// The whole command: its exit code (see [`USAGE`]).
pub async fn command(args: &[String]) -> i32 {
    let args = match arguments(args, std::env::var("KEYGATE_TOKEN").ok()) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("keygate: {err}\n{USAGE}");
            return 2;
        }
    };
    let mut transport = match http::Http::new(&args.url, &args.token) {
        Ok(transport) => transport,
        Err(err) => {
            eprintln!("keygate: {err}");
            return 2;
        }
    };
    if http::in_clear_to_another_host(transport.url()) {
        eprintln!("keygate: warning: the token and the keys go over plain http to another host");
    }
    let input = match Input::load(&args.file) {
        Ok(input) => input,
        Err(err) => {
            eprintln!("keygate: {err}");
            return 2;
        }
    };
    eprintln!(
        "keygate: importing {} ({} rows, {}) into {}",
        args.file.display(),
        input.rows.len(),
        match input.format {
            Format::Csv => "CSV",
            Format::DumpData => "dumpdata JSON",
        },
        transport.url()
    );
    let options = Options {
        batch: args.batch,
        restart: args.restart,
        ..Options::default()
    };
    let progress = progress::path_for(&args.file);
    match run(
        &mut transport,
        &input,
        &progress,
        &options,
        &mut std::io::stderr(),
    )
    .await
    {
        Ok(summary) => {
            println!("{summary}");
            summary.exit_code()
        }
        Err(err) => {
            eprintln!("keygate: {err}");
            2
        }
    }
}
