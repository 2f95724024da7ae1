//! `POST /api/v1/keys/leaks/`: GitHub's secret scanning reports Keygate keys it found in
//! public. The report must be signed (`signature.rs`, keys from `public_keys.rs`); each
//! token is then judged by `keygate::ops::leak` (a live key is revoked, or only reported,
//! as `LEAKED_KEY_ACTION` says) and labelled in the partner format (`partner.rs`).

pub mod config;
pub mod partner;
pub mod public_keys;
pub mod signature;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use keygate::edge::request::{require_json_content_type, require_method};
use keygate::edge::response::json_response;
use keygate::edge::{origin, telemetry};
use keygate::ops::leak::{leaked, LeakAction, Verdict};
use keygate::ops::OpError;
use keygate::store::Store;
use keygate::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use config::{KeysSource, LeakConfig};
use partner::{Label, Match};
use public_keys::{Fetcher, PublicKeys, Source};

/// Tokens judged at once: each live one is a read, a transaction and a cache write.
const CONCURRENCY: usize = 8;

/// What the function keeps per instance besides the [`App`]: the action and the public keys.
pub struct Leaks {
    pub action: LeakAction,
    pub keys: PublicKeys,
}

impl Leaks {
    /// From the configuration; `store` serves [`KeysSource::Table`].
    pub fn new(config: LeakConfig, store: &Store) -> Result<Self, reqwest::Error> {
        let source = match config.source {
            KeysSource::Url => Source::Url(Fetcher::new(config.public_keys_url)?),
            KeysSource::Table => Source::Table {
                store: store.clone(),
                url: config.public_keys_url,
            },
        };
        Ok(Self::with_keys(config.action, PublicKeys::new(source)))
    }

    pub fn with_keys(action: LeakAction, keys: PublicKeys) -> Self {
        Self { action, keys }
    }
}

pub async fn handle(app: &App, leaks: &Leaks, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    let body: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    partner::check_size(body)?;
    let signed = signature::signed(&req)?;
    signature::verify(&leaks.keys, &signed, body).await?;
    require_json_content_type(&req)?;
    let matches = partner::parse(body)?;

    // One judgement per distinct token, where it was first reported: a token reported twice
    // gets one action, one event and the same label both times.
    let now = Utc::now();
    let mut first = HashMap::new();
    for m in &matches {
        first.entry(m.token.as_str()).or_insert(m);
    }
    let judgements: Vec<_> = first
        .into_values()
        .map(|m| judge(app, leaks.action, &req, m, now))
        .collect();
    let judged: Vec<_> = stream::iter(judgements)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut verdicts = HashMap::new();
    for (token, verdict) in judged {
        // Every token was judged (none dropped mid-write); the first failure answers, and
        // the scanner's retry finds the work already done.
        verdicts.insert(token, verdict?);
    }

    let labels: Vec<Label> = matches
        .iter()
        .map(|m| Label {
            token_raw: &m.token,
            token_type: &m.token_type,
            label: verdicts[m.token.as_str()].label(),
        })
        .collect();
    let live = verdicts
        .values()
        .filter(|v| **v == Verdict::TruePositive)
        .count();
    telemetry::outcome(match (live, leaks.action) {
        (0, _) => "no_live_key",
        (_, LeakAction::Revoke) => "leaked_keys_revoked",
        (_, LeakAction::Report) => "leaked_keys_reported",
    });
    Ok(json_response(StatusCode::OK, &labels))
}

async fn judge<'m>(
    app: &App,
    action: LeakAction,
    req: &Request,
    m: &'m Match,
    now: DateTime<Utc>,
) -> (&'m str, Result<Verdict, OpError>) {
    let origin = origin::secret_scanning(req, m.report.clone());
    let verdict = leaked(app, &m.token, action, &origin, now).await;
    (m.token.as_str(), verdict)
}
