//! `keygate-local import` against the admin function's import endpoint, through the
//! handler: the shipped samples (local/samples), interrupted after the first batch and
//! resumed, after which every key answers as it did in the old system, with Keygate's
//! messages; a second import skips them all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use keygate_local::import::{
    progress, run, Answer, Input, Options, Status, Summary, Transport, TransportError,
};
use keygate_tests::detail::{EXPIRED, REVOKED};
use keygate_tests::{spawn_app, TestApp};
use lambda_http::http::Method;
use serde_json::Value;

/// The import endpoint, called through the admin handler with the bootstrap token; after
/// `answers` calls it stops answering, like a network that went down.
struct Handler<'a> {
    app: &'a TestApp,
    answered: usize,
    answers: Option<usize>,
}

impl<'a> Handler<'a> {
    fn new(app: &'a TestApp, answers: Option<usize>) -> Self {
        Handler {
            app,
            answered: 0,
            answers,
        }
    }
}

impl Transport for Handler<'_> {
    async fn send(&mut self, body: &Value) -> Result<Answer, TransportError> {
        if self.answers == Some(self.answered) {
            return Err(TransportError("interrupted by the test".to_owned()));
        }
        self.answered += 1;
        let reply = self
            .app
            .admin_api(Method::POST, "/keys/import", Some(body.clone()))
            .await;
        Ok(Answer {
            status: reply.status,
            body: reply.body,
        })
    }
}

const BATCH: usize = 5;

fn options() -> Options {
    Options {
        batch: BATCH,
        retries: 0,
        backoff: Duration::ZERO,
        restart: false,
    }
}

/// The sample, copied into a directory of the test's own (its progress file goes beside it).
fn sample(name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../local/samples")
        .join(name);
    let dir = std::env::temp_dir().join(format!(
        "keygate-import-cli-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let to = dir.join(name);
    std::fs::copy(&from, &to).unwrap();
    to
}

async fn import(handler: &mut Handler<'_>, input: &Input, file: &Path) -> Summary {
    run(
        handler,
        input,
        &progress::path_for(file),
        &options(),
        &mut std::io::sink(),
    )
    .await
    .expect("the run starts")
}

/// Imports the sample in two runs (the first interrupted after one batch), checks the
/// counts, then what each key answers; `unreadable` is how many rows the sample has that
/// cannot be imported.
async fn the_sample_imports_resumes_and_verifies(name: &str, unreadable: u64) {
    let app = spawn_app().await;
    let file = sample(name);
    let input = Input::load(&file).unwrap();
    let keys: Vec<_> = input
        .rows
        .iter()
        .filter_map(|r| r.key.as_ref().ok())
        .collect();
    let readable = keys.len() as u64;
    assert_eq!(input.rows.len() as u64, readable + unreadable, "{name}");

    let mut interrupted = Handler::new(&app, Some(1));
    let first = import(&mut interrupted, &input, &file).await;
    assert!(!first.complete(), "{first}");
    assert_eq!(first.exit_code(), 3);
    assert_eq!(first.progress.imported, BATCH as u64, "{first}");
    assert!(progress::path_for(&file).exists());

    let mut handler = Handler::new(&app, None);
    let second = import(&mut handler, &input, &file).await;
    assert!(second.complete(), "{second}");
    assert_eq!(second.resumed_at, Some(first.progress.rows_done));
    assert_eq!(
        handler.answered,
        (readable as usize - BATCH).div_ceil(BATCH),
        "only the rest is sent"
    );
    let p = &second.progress;
    assert_eq!(
        (p.imported, p.skipped, p.failed()),
        (readable, 0, unreadable),
        "{second}"
    );
    assert_eq!(second.exit_code(), if unreadable == 0 { 0 } else { 1 });
    assert!(!progress::path_for(&file).exists());

    // Each key as the old system had it: active ones work, revoked and expired ones do not.
    let now = Utc::now();
    let (mut active, mut revoked, mut expired) = (0, 0, 0);
    for key in &keys {
        let reply = app.protected(&key.key).await;
        let (status, detail) = (reply.status, reply.detail());
        let name = &key.name;
        match key.status {
            Status::Revoked => {
                revoked += 1;
                assert_eq!((status, detail), (403, REVOKED), "{name}");
            }
            Status::Active if key.expired_at(now) => {
                expired += 1;
                assert_eq!((status, detail), (403, EXPIRED), "{name}");
            }
            Status::Active => {
                active += 1;
                assert_eq!(status, 200, "{name}: {}", reply.text);
            }
        }
    }
    assert!(
        active > 0 && revoked > 0 && expired > 0,
        "{name} has each kind"
    );

    // Again: nothing is imported, nothing overwritten.
    let again = import(&mut Handler::new(&app, None), &input, &file).await;
    let p = &again.progress;
    assert_eq!((p.imported, p.skipped), (0, readable), "{again}");
    assert_eq!(
        app.protected(&keys[0].key).await.status,
        200,
        "{}",
        keys[0].name
    );
}

#[tokio::test]
async fn the_csv_sample_imports_in_two_runs_and_each_key_answers_as_before() {
    the_sample_imports_resumes_and_verifies("legacy-keys.csv", 1).await;
}

#[tokio::test]
async fn the_dumpdata_sample_imports_in_two_runs_and_each_key_answers_as_before() {
    the_sample_imports_resumes_and_verifies("legacy-keys.json", 0).await;
}
