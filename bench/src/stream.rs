//! A small stand-in for Lambda's DynamoDB event source mapping, which `cargo lambda watch`
//! does not provide: it reads a table's stream with the DynamoDB Streams API (DynamoDB
//! Local serves it on its own endpoint) and hands each batch of records to a handler as the
//! Lambda event it would receive.
//!
//! What it keeps of the mapping's behaviour (template.yaml): batches of up to
//! [`BATCH_SIZE`] records, no batching window, shards followed as they close and open (a
//! child only once its parent is finished, so a key's records stay in order), and
//! `StartingPosition: LATEST`, `ReportBatchItemFailures`: when the handler reports failures, the batch is retried from
//! the first failed record, up to [`MAX_RETRIES`] times, and then given up on (Lambda would
//! send it to the on-failure destination). What it changes: the poll interval. Lambda polls
//! each shard about four times a second; this polls every `poll` when a shard had nothing.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamViewType};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;

use crate::BenchError;

/// The mapping's `BatchSize` in template.yaml.
pub const BATCH_SIZE: i32 = 100;
/// The mapping's `MaximumRetryAttempts` in template.yaml.
pub const MAX_RETRIES: u32 = 5;
/// How often the shard list is read again when no shard closed in the meantime.
const DESCRIBE_EVERY: Duration = Duration::from_secs(1);

/// A streams client for the same endpoint as DynamoDB: `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`
/// if set, otherwise `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local serves both APIs on one
/// port), with the SDK's usual region and credentials.
pub async fn client() -> Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let mut config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk);
    let endpoint = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if endpoint("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").is_none() {
        if let Some(url) = endpoint("AWS_ENDPOINT_URL_DYNAMODB") {
            config = config.endpoint_url(url);
        }
    }
    Client::from_conf(config.build())
}

/// What the poller did, for the report.
#[derive(Debug, Default, Clone)]
pub struct PollStats {
    pub get_records_calls: u64,
    pub batches: u64,
    pub records: u64,
    pub shards: usize,
    /// Records the handler reported as failed (each report, retries included).
    pub failed_records: u64,
    /// Batches retried from a failed record.
    pub retries: u64,
    /// Batches given up on after [`MAX_RETRIES`] retries.
    pub dropped_batches: u64,
}

enum ShardState {
    /// Not read yet: waits for its parent to finish.
    Waiting,
    Reading {
        iterator: String,
        /// Retries of the batch that starts at this iterator.
        retries: u32,
    },
    Finished,
}

struct Shard {
    parent: Option<String>,
    /// LATEST for the shards open when the poller starts (the mapping's `StartingPosition`),
    /// TRIM_HORIZON for the ones that open later (a child must be read from its start).
    start: ShardIteratorType,
    state: ShardState,
}

pub struct Poller {
    client: Client,
    stream_arn: String,
    poll: Duration,
    shards: HashMap<String, Shard>,
    /// Shard ids in the order they were first described (parents before children).
    order: Vec<String>,
    /// A shard finished since the last DescribeStream.
    shard_finished: bool,
    /// The first DescribeStream is done: shards found later opened after the start.
    started: bool,
    pub stats: PollStats,
}

impl Poller {
    pub fn new(client: Client, stream_arn: String, poll: Duration) -> Self {
        Self {
            client,
            stream_arn,
            poll,
            shards: HashMap::new(),
            order: Vec::new(),
            shard_finished: false,
            started: false,
            stats: PollStats::default(),
        }
    }

    /// Reads the stream from now on (as the mapping's `StartingPosition: LATEST`) until
    /// `stop` is set, calling `handler` with each batch. `ready` is set once every open
    /// shard has its iterator: a write after that is delivered.
    pub async fn run<F, Fut>(
        mut self,
        ready: &Cell<bool>,
        stop: &Cell<bool>,
        mut handler: F,
    ) -> Result<PollStats, BenchError>
    where
        F: FnMut(Event) -> Fut,
        Fut: Future<Output = DynamoDbEventResponse>,
    {
        let mut described = None::<Instant>;
        while !stop.get() {
            if self.shard_finished || described.is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY) {
                self.shard_finished = false;
                self.describe().await?;
                described = Some(Instant::now());
            }
            self.start_ready_shards().await?;
            ready.set(true);
            let mut delivered = false;
            for id in self.order.clone() {
                if stop.get() {
                    break;
                }
                delivered |= self.read_shard(&id, &mut handler).await?;
            }
            if !delivered {
                tokio::time::sleep(self.poll).await;
            }
        }
        self.stats.shards = self.shards.len();
        Ok(self.stats)
    }

    /// DescribeStream (every page): adds the shards not seen before.
    async fn describe(&mut self) -> Result<(), BenchError> {
        let mut start = None::<String>;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| BenchError(format!("DescribeStream: {}", error_text(&e))))?;
            let Some(description) = out.stream_description else {
                return Ok(());
            };
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if self.shards.contains_key(&id) {
                    continue;
                }
                let closed = shard
                    .sequence_number_range
                    .is_some_and(|r| r.ending_sequence_number.is_some());
                let (start, state) = match (self.started, closed) {
                    // Closed before the poller started: nothing in it is news.
                    (false, true) => (ShardIteratorType::Latest, ShardState::Finished),
                    (false, false) => (ShardIteratorType::Latest, ShardState::Waiting),
                    (true, _) => (ShardIteratorType::TrimHorizon, ShardState::Waiting),
                };
                self.order.push(id.clone());
                self.shards.insert(
                    id,
                    Shard {
                        parent: shard.parent_shard_id,
                        start,
                        state,
                    },
                );
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => {
                    self.started = true;
                    return Ok(());
                }
            }
        }
    }

    /// Gets an iterator for every waiting shard whose parent is finished (or unknown:
    /// trimmed from the stream).
    async fn start_ready_shards(&mut self) -> Result<(), BenchError> {
        for id in self.order.clone() {
            let shard = &self.shards[&id];
            if !matches!(shard.state, ShardState::Waiting) {
                continue;
            }
            let parent_done = shard.parent.as_ref().is_none_or(|p| {
                self.shards
                    .get(p)
                    .is_none_or(|s| matches!(s.state, ShardState::Finished))
            });
            if parent_done {
                let start = shard.start.clone();
                let iterator = self.iterator(&id, start, None).await?;
                self.set_state(&id, iterator, 0);
            }
        }
        Ok(())
    }

    /// A shard without a next iterator is finished (closed and read to its end): its
    /// children, if any, can be read once DescribeStream lists them.
    fn set_state(&mut self, id: &str, iterator: Option<String>, retries: u32) {
        if let Some(shard) = self.shards.get_mut(id) {
            shard.state = match iterator {
                Some(iterator) => ShardState::Reading { iterator, retries },
                None => {
                    self.shard_finished = true;
                    ShardState::Finished
                }
            };
        }
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        sequence: Option<String>,
    ) -> Result<Option<String>, BenchError> {
        let out = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence)
            .send()
            .await
            .map_err(|e| BenchError(format!("GetShardIterator: {}", error_text(&e))))?;
        Ok(out.shard_iterator)
    }

    /// One GetRecords on a shard being read; its records, if any, go to `handler`. Returns
    /// whether a batch was delivered.
    async fn read_shard<F, Fut>(&mut self, id: &str, handler: &mut F) -> Result<bool, BenchError>
    where
        F: FnMut(Event) -> Fut,
        Fut: Future<Output = DynamoDbEventResponse>,
    {
        let (iterator, retries) = match &self.shards[id].state {
            ShardState::Reading { iterator, retries } => (iterator.clone(), *retries),
            _ => return Ok(false),
        };
        self.stats.get_records_calls += 1;
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(BATCH_SIZE)
            .send()
            .await
            .map_err(|e| BenchError(format!("GetRecords: {}", error_text(&e))))?;
        let records = out.records.unwrap_or_default();
        if records.is_empty() {
            self.set_state(id, out.next_shard_iterator, 0);
            return Ok(false);
        }
        let sequences: Vec<Option<String>> = records
            .iter()
            .map(|r| r.dynamodb.as_ref().and_then(|d| d.sequence_number.clone()))
            .collect();
        self.stats.batches += 1;
        self.stats.records += records.len() as u64;
        let response = handler(to_event(&self.stream_arn, records)).await;
        let failed: HashSet<Option<String>> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        self.stats.failed_records += failed.len() as u64;
        // Lambda retries from the first failed record of the batch, in stream order.
        let first_failed = sequences.into_iter().find(|s| failed.contains(s));
        match first_failed {
            Some(Some(sequence)) if retries < MAX_RETRIES => {
                self.stats.retries += 1;
                let again = self
                    .iterator(id, ShardIteratorType::AtSequenceNumber, Some(sequence))
                    .await?;
                self.set_state(id, again, retries + 1);
            }
            Some(_) => {
                self.stats.dropped_batches += 1;
                self.set_state(id, out.next_shard_iterator, 0);
            }
            None => self.set_state(id, out.next_shard_iterator, 0),
        }
        Ok(true)
    }
}

fn error_text<E: std::error::Error>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The Lambda event for these records, field by field as the event source mapping sends it.
pub fn to_event(stream_arn: &str, records: Vec<Record>) -> Event {
    let mut event = Event::default();
    event.records = records
        .into_iter()
        .map(|record| {
            let mut out = EventRecord::default();
            out.event_id = record.event_id.unwrap_or_default();
            out.event_name = record
                .event_name
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            out.event_version = record.event_version;
            out.event_source = record.event_source;
            out.aws_region = record.aws_region.unwrap_or_default();
            out.event_source_arn = Some(stream_arn.to_owned());
            if let Some(change) = record.dynamodb {
                let c = &mut out.change;
                if let Some(at) = change.approximate_creation_date_time {
                    c.approximate_creation_date_time =
                        chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())
                            .unwrap_or_default();
                }
                c.keys = change.keys.unwrap_or_default().into();
                c.new_image = change.new_image.unwrap_or_default().into();
                c.old_image = change.old_image.unwrap_or_default().into();
                c.sequence_number = change.sequence_number;
                c.size_bytes = change.size_bytes.unwrap_or_default();
                c.stream_view_type = change.stream_view_type.and_then(|v| {
                    serde_json::from_value::<StreamViewType>(serde_json::Value::String(
                        v.as_str().to_owned(),
                    ))
                    .ok()
                });
            }
            out
        })
        .collect();
    event
}
