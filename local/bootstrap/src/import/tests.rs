//! The import loop against a transport of the tests' own: batching, resume, retries.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};

use super::progress::tests::scratch;
use super::progress::{path_for, Progress};
use super::*;

/// An endpoint in memory: it imports keys it has not seen and skips the others, as the
/// real one does. Scripted answers, when queued, come first.
#[derive(Default)]
struct Fake {
    present: HashSet<String>,
    script: VecDeque<Result<Answer, TransportError>>,
    /// Calls answered by the endpoint itself (not by the script).
    calls: Vec<usize>,
    /// Every call, scripted or not.
    attempts: usize,
    /// After this many calls the endpoint answers, it stops answering.
    dies_after: Option<usize>,
}

impl Transport for Fake {
    async fn send(&mut self, body: &Value) -> Result<Answer, TransportError> {
        self.attempts += 1;
        if let Some(scripted) = self.script.pop_front() {
            return scripted;
        }
        if self.dies_after == Some(self.calls.len()) {
            return Err(TransportError("connection refused".to_owned()));
        }
        let keys = body["keys"].as_array().unwrap();
        assert!(keys.len() <= MAX_BATCH);
        self.calls.push(keys.len());
        let (mut imported, mut skipped) = (0, Vec::new());
        for (index, entry) in keys.iter().enumerate() {
            if self
                .present
                .insert(entry["key"].as_str().unwrap().to_owned())
            {
                imported += 1;
            } else {
                skipped.push(json!({"index": index, "detail": "already present"}));
            }
        }
        Ok(Answer {
            status: 200,
            body: json!({"imported": imported, "skipped": skipped}),
        })
    }
}

fn answer(status: u16, detail: &str) -> Result<Answer, TransportError> {
    Ok(Answer {
        status,
        body: json!({ "detail": detail }),
    })
}

/// `n` rows of 40-hex keys; every `bad`-th row (1-based) has a bad status.
fn csv_input(n: usize, bad: Option<usize>) -> Input {
    let mut text = String::from("key,name,status,created_at,expires_at\n");
    for i in 1..=n {
        let status = if bad.is_some_and(|b| i % b == 0) {
            "paused"
        } else {
            "active"
        };
        text.push_str(&format!(
            "{i:040x},key-{i},{status},2023-01-01T00:00:00Z,\n"
        ));
    }
    Input::parse(text.as_bytes(), Format::Csv).unwrap()
}

/// The key of row `i`: 40 hexadecimal digits, its first 8 the row's number.
fn key(i: usize) -> String {
    let tail = (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    format!("{i:08x}{tail:032x}")
}

fn options(batch: usize) -> Options {
    Options {
        batch,
        retries: 2,
        backoff: Duration::ZERO,
        restart: false,
    }
}

async fn import(
    fake: &mut Fake,
    input: &Input,
    progress: &std::path::Path,
    options: &Options,
) -> Summary {
    run(fake, input, progress, options, &mut std::io::sink())
        .await
        .unwrap()
}

#[tokio::test]
async fn rows_go_in_batches_and_the_progress_file_is_gone_at_the_end() {
    let dir = scratch("batches");
    let progress = path_for(&dir.join("keys.csv"));
    let (input, mut fake) = (csv_input(25, None), Fake::default());
    let summary = import(&mut fake, &input, &progress, &options(10)).await;
    assert_eq!(fake.calls, [10, 10, 5]);
    assert_eq!(
        (summary.progress.imported, summary.progress.skipped),
        (25, 0)
    );
    assert_eq!((summary.complete(), summary.exit_code()), (true, 0));
    assert!(!progress.exists());
    assert!(
        summary.to_string().ends_with("import: complete"),
        "{summary}"
    );
}

#[tokio::test]
async fn unreadable_rows_are_counted_as_failed_and_the_rest_is_imported() {
    let dir = scratch("failed");
    let progress = path_for(&dir.join("keys.csv"));
    let (input, mut fake) = (csv_input(30, Some(7)), Fake::default());
    let summary = import(&mut fake, &input, &progress, &options(10)).await;
    assert_eq!(fake.calls, [10, 10, 6], "a batch is 10 readable rows");
    let p = &summary.progress;
    assert_eq!((p.imported, p.skipped, p.failed()), (26, 0, 4));
    assert_eq!(p.failures[0].place, "line 8 (0000…)");
    assert_eq!((summary.complete(), summary.exit_code()), (true, 1));
    let text = summary.to_string();
    assert!(
        text.contains("failed line 8 (0000…): status \"paused\""),
        "{text}"
    );
}

#[tokio::test]
async fn an_interrupted_import_resumes_after_its_last_acknowledged_batch() {
    let dir = scratch("resume");
    let progress = path_for(&dir.join("keys.csv"));
    let input = csv_input(45, Some(9));
    let mut fake = Fake {
        dies_after: Some(2),
        ..Fake::default()
    };
    let first = import(&mut fake, &input, &progress, &options(10)).await;
    assert_eq!(fake.calls, [10, 10]);
    assert_eq!(fake.attempts, 2 + 3, "the third call is tried three times");
    assert_eq!((first.complete(), first.exit_code()), (false, 3));
    assert_eq!(
        first.progress.rows_done, 22,
        "two batches of 10, and 2 failed rows"
    );
    assert!(first
        .stopped
        .as_deref()
        .unwrap()
        .contains("connection refused"));
    let recorded = Progress::load(&progress, &input.fingerprint)
        .unwrap()
        .unwrap();
    assert_eq!(recorded, first.progress);

    // The endpoint is back: the second run sends only the rest.
    fake.dies_after = None;
    let second = import(&mut fake, &input, &progress, &options(10)).await;
    assert_eq!(second.resumed_at, Some(22));
    assert_eq!(fake.calls, [10, 10, 10, 10]);
    let p = &second.progress;
    assert_eq!((p.imported, p.skipped, p.failed()), (40, 0, 5));
    assert_eq!(p.imported + p.failed(), 45, "every row counted once");
    assert_eq!(second.exit_code(), 1);
    assert!(!progress.exists());
}

#[tokio::test]
async fn a_changed_input_is_refused_unless_restarted() {
    let dir = scratch("changed");
    let progress = path_for(&dir.join("keys.csv"));
    let mut fake = Fake {
        dies_after: Some(1),
        ..Fake::default()
    };
    let input = csv_input(20, None);
    let first = import(&mut fake, &input, &progress, &options(10)).await;
    assert!(!first.complete());

    let changed = csv_input(21, None);
    let err = run(
        &mut fake,
        &changed,
        &progress,
        &options(10),
        &mut std::io::sink(),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("has changed") && err.contains("--restart"),
        "{err}"
    );

    fake.dies_after = None;
    let restarted = Options {
        restart: true,
        ..options(10)
    };
    let summary = import(&mut fake, &changed, &progress, &restarted).await;
    assert_eq!(summary.resumed_at, None);
    let p = &summary.progress;
    assert_eq!(
        (p.imported, p.skipped),
        (11, 10),
        "the first batch again, skipped"
    );
    assert_eq!(p.skipped_reasons["already present"].count, 10);
    assert_eq!(p.skipped_reasons["already present"].first, "line 2 (0000…)");
}

#[tokio::test]
async fn a_refused_call_stops_the_run_without_a_retry() {
    for (status, hint) in [
        (400, "bad"),
        (401, "--token"),
        (403, "--token"),
        (404, "--url"),
    ] {
        let dir = scratch("refused");
        let progress = path_for(&dir.join("keys.csv"));
        let mut fake = Fake::default();
        fake.script.push_back(answer(status, "no way"));
        let summary = import(&mut fake, &csv_input(5, None), &progress, &options(10)).await;
        assert_eq!(fake.attempts, 1, "{status}");
        let why = summary.stopped.as_deref().unwrap();
        assert!(why.contains(&format!("answered {status}: no way")), "{why}");
        assert!(why.contains(hint) || status == 400, "{why}");
        assert_eq!(summary.exit_code(), 3);
        assert_eq!(summary.progress.rows_done, 0);
    }
}

#[tokio::test]
async fn a_server_error_is_retried_with_back_off() {
    let dir = scratch("retried");
    let progress = path_for(&dir.join("keys.csv"));
    let mut fake = Fake::default();
    fake.script.push_back(answer(503, "Service unavailable"));
    fake.script
        .push_back(Err(TransportError("connection reset".to_owned())));
    let mut log = Vec::new();
    let summary = run(
        &mut fake,
        &csv_input(5, None),
        &progress,
        &options(10),
        &mut log,
    )
    .await
    .unwrap();
    assert_eq!((fake.attempts, summary.progress.imported), (3, 5));
    assert_eq!(summary.exit_code(), 0);
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.contains("answered 503: Service unavailable; retrying in"),
        "{log}"
    );
    assert!(
        log.contains("5/5 rows: imported 5, skipped 0, failed 0"),
        "{log}"
    );
}

#[tokio::test]
async fn a_server_error_that_lasts_stops_the_run_after_the_retries() {
    let dir = scratch("gave-up");
    let progress = path_for(&dir.join("keys.csv"));
    let mut fake = Fake::default();
    for _ in 0..3 {
        fake.script.push_back(answer(500, "boom"));
    }
    let summary = import(&mut fake, &csv_input(5, None), &progress, &options(10)).await;
    assert_eq!(fake.attempts, 3);
    assert!(summary
        .stopped
        .unwrap()
        .contains("gave up after 3 attempts"));
}

#[tokio::test]
async fn a_200_that_is_not_an_acknowledgement_stops_the_run() {
    let dir = scratch("not-ack");
    let progress = path_for(&dir.join("keys.csv"));
    let mut fake = Fake::default();
    fake.script.push_back(Ok(Answer {
        status: 200,
        body: Value::Null,
    }));
    let summary = import(&mut fake, &csv_input(5, None), &progress, &options(10)).await;
    assert_eq!(fake.attempts, 1);
    assert!(!summary.complete());
}

#[tokio::test]
async fn no_log_line_or_summary_shows_a_whole_key() {
    let dir = scratch("secret");
    let progress = path_for(&dir.join("keys.csv"));
    let input = csv_input(12, Some(4));
    let mut fake = Fake {
        dies_after: Some(1),
        ..Fake::default()
    };
    let mut log = Vec::new();
    let first = run(&mut fake, &input, &progress, &options(5), &mut log)
        .await
        .unwrap();
    fake.dies_after = None;
    let second = run(&mut fake, &input, &progress, &options(5), &mut log)
        .await
        .unwrap();
    let text = format!("{}{first}{second}", String::from_utf8(log).unwrap());
    assert!(text.contains("failed line 5 (0000…)"), "{text}");
    for i in 1..=12 {
        let key = key(i);
        assert!(
            !text.contains(&key[4..12]) && !text.contains(&key[8..]),
            "{text}"
        );
    }
}

#[test]
fn arguments_are_read() {
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let read = arguments(
        &args(&[
            "keys.csv",
            "--url",
            "http://x/admin",
            "--token",
            "t",
            "--batch",
            "50",
            "--restart",
        ]),
        None,
    )
    .unwrap();
    assert_eq!(
        read,
        Arguments {
            file: "keys.csv".into(),
            url: "http://x/admin".to_owned(),
            token: "t".to_owned(),
            batch: 50,
            restart: true,
        }
    );
    let from_env = arguments(&args(&["k.json", "--url", "u"]), Some("secret".to_owned())).unwrap();
    assert_eq!(
        (from_env.token.as_str(), from_env.batch),
        ("secret", MAX_BATCH)
    );
    for bad in [
        &["--url", "u", "--token", "t"][..],
        &["f", "--token", "t"],
        &["f", "--url", "u"],
        &["f", "g", "--url", "u", "--token", "t"],
        &["f", "--url", "u", "--token", "t", "--batch", "1001"],
        &["f", "--url", "u", "--token", "t", "--batch", "0"],
        &["f", "--url", "u", "--token", "t", "--url", "v"],
        &["f", "--url", "u", "--token", "t", "--force"],
        &["f", "--url"],
    ] {
        assert!(arguments(&args(bad), None).is_err(), "{bad:?}");
    }
}
