//! The import loop: the input's readable rows in batches to the import endpoint through a
//! [`Transport`], the progress recorded after each acknowledged batch, a summary at the end.
//!
//! Re-sending a batch is harmless (the endpoint skips a key already present, never
//! overwrites it), so a batch interrupted before its answer is simply sent again on resume.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::progress::{Failure, Progress};
use super::read::Input;

/// The endpoint's limit of keys per call.
pub const MAX_BATCH: usize = 1000;

/// How an import call reaches the endpoint: HTTP in the binary, a handler call in tests.
pub trait Transport {
    /// Sends one `{"keys": [...]}` body; any answer the endpoint gave is an [`Answer`].
    fn send(&mut self, body: &Value) -> impl Future<Output = Result<Answer, TransportError>>;
}

/// The endpoint's answer: its status, and its body as JSON (`Null` when it is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// No answer at all: the connection failed or timed out.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportError(pub String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Keys per call, 1 to [`MAX_BATCH`].
    pub batch: usize,
    /// Attempts after the first for a call that got a 5xx (or 408, 429) or no answer.
    pub retries: u32,
    /// The wait before the first retry; it doubles with each.
    pub backoff: Duration,
    /// Ignore (and replace) any progress recorded for the input.
    pub restart: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch: MAX_BATCH,
            retries: 4,
            backoff: Duration::from_secs(1),
            restart: false,
        }
    }
}

/// What a run did, counting the runs it resumed.
#[derive(Debug, Clone)]
pub struct Summary {
    pub total_rows: usize,
    pub progress: Progress,
    /// The row a resumed run started from.
    pub resumed_at: Option<usize>,
    /// Why the run stopped before the end of the input.
    pub stopped: Option<String>,
    pub progress_path: PathBuf,
}

impl Summary {
    pub fn complete(&self) -> bool {
        self.stopped.is_none()
    }

    /// 0: every row imported or skipped; 1: the end was reached but some rows failed; 3: the
    /// run stopped before the end (run it again to resume).
    pub fn exit_code(&self) -> i32 {
        match (self.complete(), self.progress.failed()) {
            (false, _) => 3,
            (true, 0) => 0,
            (true, _) => 1,
        }
    }
}

/// How many failed rows the summary lists; all are on stderr as they are met.
const LISTED: usize = 100;

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.progress;
        writeln!(
            f,
            "import: {} of {} rows done: imported {}, skipped {}, failed {}",
            p.rows_done,
            self.total_rows,
            p.imported,
            p.skipped,
            p.failed()
        )?;
        for (reason, skips) in &p.skipped_reasons {
            writeln!(
                f,
                "  skipped {} × {reason} (first: {})",
                skips.count, skips.first
            )?;
        }
        for failure in p.failures.iter().take(LISTED) {
            writeln!(f, "  failed {}: {}", failure.place, failure.reason)?;
        }
        if p.failures.len() > LISTED {
            writeln!(f, "  … and {} more failed rows", p.failures.len() - LISTED)?;
        }
        match &self.stopped {
            Some(why) if p.rows_done == 0 => write!(
                f,
                "import: stopped before the end: {why}\nimport: nothing was acknowledged; run \
                 the command again once the cause is fixed"
            ),
            Some(why) => write!(
                f,
                "import: stopped before the end: {why}\nimport: run the same command again to \
                 resume after row {} (progress in {})",
                p.rows_done,
                self.progress_path.display()
            ),
            None if p.failed() > 0 => write!(
                f,
                "import: complete, but rows could not be read: {}; fix them (or import them \
                 in a file of their own)",
                p.failed()
            ),
            None => write!(f, "import: complete"),
        }
    }
}

/// Imports `input`, resuming from the progress at `progress_path` if there is one for this
/// input. Progress lines go to `log`. An error means the run could not start (progress of
/// another input, and no `restart`).
pub async fn run<T: Transport>(
    transport: &mut T,
    input: &Input,
    progress_path: &Path,
    options: &Options,
    log: &mut dyn Write,
) -> Result<Summary, String> {
    let batch = options.batch.clamp(1, MAX_BATCH);
    let rows = &input.rows;
    let recorded = if options.restart {
        None
    } else {
        Progress::load(progress_path, &input.fingerprint)?
    };
    let resumed_at = recorded.as_ref().map(|p| p.rows_done.min(rows.len()));
    let mut progress = recorded.unwrap_or_else(|| Progress::start(input.fingerprint.clone()));
    if let Some(at) = resumed_at {
        progress.rows_done = at;
        let _ = writeln!(
            log,
            "resuming after row {at} of {} ({}: imported {}, skipped {}, failed {} so far)",
            rows.len(),
            progress_path.display(),
            progress.imported,
            progress.skipped,
            progress.failed()
        );
    }
    let mut stopped = None;
    let mut progress_unsaved = false;
    while progress.rows_done < rows.len() {
        // The next `batch` readable rows, and the unreadable ones among them.
        let (mut keys, mut places, mut failures) = (Vec::new(), Vec::new(), Vec::new());
        let mut end = progress.rows_done;
        while end < rows.len() && keys.len() < batch {
            let row = &rows[end];
            match &row.key {
                Ok(key) => {
                    keys.push(key.to_json());
                    places.push(row.place.as_str());
                }
                Err(reason) => failures.push(Failure {
                    place: row.place.clone(),
                    reason: reason.clone(),
                }),
            }
            end += 1;
        }
        let sent = keys.len();
        let ack = if sent == 0 {
            Ack::default()
        } else {
            match send(transport, &json!({ "keys": keys }), options, log).await {
                Ok(ack) => ack,
                Err(why) => {
                    stopped = Some(why);
                    break;
                }
            }
        };
        for failure in failures {
            let _ = writeln!(log, "failed {}: {}", failure.place, failure.reason);
            progress.failures.push(failure);
        }
        if ack.imported as usize + ack.skipped.len() != sent {
            let _ = writeln!(
                log,
                "warning: {sent} keys sent, but the endpoint counted {} imported and {} skipped",
                ack.imported,
                ack.skipped.len()
            );
        }
        progress.imported += ack.imported;
        for skip in &ack.skipped {
            let place = places
                .get(skip.index)
                .copied()
                .unwrap_or("a row of the batch");
            progress.skip(place, &skip.detail);
        }
        progress.rows_done = end;
        if let Err(err) = progress.save(progress_path) {
            if !progress_unsaved {
                let _ = writeln!(
                    log,
                    "warning: cannot record progress in {} ({err}): an interrupted run \
                     would start over (harmlessly: keys present are skipped)",
                    progress_path.display()
                );
            }
            progress_unsaved = true;
        }
        let _ = writeln!(
            log,
            "{}/{} rows: imported {}, skipped {}, failed {}",
            progress.rows_done,
            rows.len(),
            progress.imported,
            progress.skipped,
            progress.failed()
        );
    }
    if stopped.is_none() {
        if let Err(err) = Progress::remove(progress_path) {
            let _ = writeln!(
                log,
                "warning: cannot remove {} ({err})",
                progress_path.display()
            );
        }
    }
    Ok(Summary {
        total_rows: rows.len(),
        progress,
        resumed_at,
        stopped,
        progress_path: progress_path.to_owned(),
    })
}

/// The endpoint's 200 answer.
#[derive(Debug, Default, Deserialize)]
struct Ack {
    imported: u64,
    #[serde(default)]
    skipped: Vec<Skipped>,
}

#[derive(Debug, Deserialize)]
struct Skipped {
    index: usize,
    #[serde(default)]
    detail: String,
}

/// Whether a failed call is worth another try.
enum Failed {
    Retry(String),
    Stop(String),
}

/// One call, retried with back-off while it gets a 5xx, 408, 429 or no answer.
async fn send<T: Transport>(
    transport: &mut T,
    body: &Value,
    options: &Options,
    log: &mut dyn Write,
) -> Result<Ack, String> {
    let mut attempt = 0;
    loop {
        let why = match transport.send(body).await {
            Ok(answer) => match acknowledged(answer) {
                Ok(ack) => return Ok(ack),
                Err(Failed::Stop(why)) => return Err(why),
                Err(Failed::Retry(why)) => why,
            },
            Err(err) => format!("no answer from the endpoint ({err})"),
        };
        if attempt >= options.retries {
            return Err(format!("{why}; gave up after {} attempts", attempt + 1));
        }
        let wait = options.backoff * 2u32.saturating_pow(attempt);
        let _ = writeln!(log, "{why}; retrying in {wait:?}");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

fn acknowledged(answer: Answer) -> Result<Ack, Failed> {
    let detail = answer
        .body
        .get("detail")
        .and_then(Value::as_str)
        .map_or_else(String::new, |d| format!(": {d}"));
    let status = answer.status;
    match status {
        200 => serde_json::from_value(answer.body).map_err(|err| {
            Failed::Stop(format!(
                "the endpoint answered 200 without {{\"imported\", \"skipped\"}} ({err})"
            ))
        }),
        408 | 429 | 500..=599 => Err(Failed::Retry(format!(
            "the endpoint answered {status}{detail}"
        ))),
        401 | 403 => Err(Failed::Stop(format!(
            "the endpoint answered {status}{detail} (--token must be an admin credential of \
             role operate or higher, or the bootstrap ADMIN_TOKEN)"
        ))),
        404 | 405 => Err(Failed::Stop(format!(
            "the endpoint answered {status}{detail} (--url must be the admin function's base, \
             such as http://127.0.0.1:9000/lambda-url/admin, on a Keygate with the import \
             endpoint)"
        ))),
        _ => Err(Failed::Stop(format!(
            "the endpoint answered {status}{detail}"
        ))),
    }
}
