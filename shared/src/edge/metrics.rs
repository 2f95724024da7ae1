//! The request's log line as CloudWatch metrics: in Lambda (JSON logs) the one line each
//! request already writes is in the Embedded Metric Format, so CloudWatch turns it into
//! metrics with no call, no agent and no added latency.
//!
//! The line holds the request span's fields (function, key id, outcome, source, route) and
//! the event's (status or authorized, latency) at its root, with an `_aws` member that
//! declares, in the namespace [`NAMESPACE`]:
//!
//! | metric            | unit         | value                                            |
//! |-------------------|--------------|--------------------------------------------------|
//! | `requests`        | Count        | 1                                                |
//! | `latency_us`      | Microseconds | the request's latency inside the function        |
//! | `server_errors`   | Count        | 1 for a 5xx answer, else 0                       |
//! | `cache_fallbacks` | Count        | 1 when DynamoDB answered because Redis could not |
//!
//! each over three dimension sets: `deployment` (`KEYGATE_DEPLOYMENT`, the stack's name;
//! `local` without it), that and `function`, and those and `outcome` (`valid`, `revoked`,
//! `rate_limited`, ...; `none` when the request had none).
//! The template's dashboard and alarms read these (docs/DEPLOY.md).

use std::fmt::{self, Write as _};

use lambda_http::tracing::subscriber::fmt::format::{Format, Json, Writer};
use lambda_http::tracing::subscriber::fmt::{
    FmtContext, FormatEvent, FormatFields, FormattedFields,
};
use lambda_http::tracing::subscriber::registry::LookupSpan;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

use super::span_json::write_json_str;

/// The target of the request's line, the one event written as metrics.
pub const REQUEST_TARGET: &str = "keygate::request";
pub const NAMESPACE: &str = "Keygate";

/// Lambda's JSON lines, with the request's line in the Embedded Metric Format.
pub struct EmfLines {
    json: Format<Json, ()>,
    /// Which deployment the metrics are of (`KEYGATE_DEPLOYMENT`, the stack's name in the
    /// template), so two stacks in one account and region keep their metrics apart.
    deployment: String,
}

impl EmfLines {
    pub fn new(deployment: Option<String>) -> Self {
        Self {
            json: Format::default().json().with_target(false).without_time(),
            deployment: deployment.unwrap_or_else(|| "local".to_owned()),
        }
    }
}

impl<S, N> FormatEvent<S, N> for EmfLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if event.metadata().target() != REQUEST_TARGET {
            return self.json.format_event(ctx, writer, event);
        }
        // The line is written as text, never built as a map and searched: it is written
        // for every request, and the map and its re-serialization were a fifth of a
        // request's CPU. The span's fields are a JSON object's text already
        // (`span_json.rs`), and the event's are not the span's, so members are appended.
        let mut line = String::with_capacity(768);
        line.push_str(r#"{"level":"#);
        write_json_str(&mut line, event.metadata().level().as_str())?;
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                append_members(&mut line, fields);
            }
        }
        let mut members = EventMembers {
            line: &mut line,
            status: 0,
            latency: false,
        };
        event.record(&mut members);
        let (status, latency) = (members.status, members.latency);
        line.push_str(r#","deployment":"#);
        write_json_str(&mut line, &self.deployment)?;
        finish(
            &mut line,
            status,
            latency,
            chrono::Utc::now().timestamp_millis(),
        );
        writer.write_str(&line)?;
        writer.write_char('\n')
    }
}

/// Appends the members of the JSON object text `fields` to the open object `line`.
fn append_members(line: &mut String, fields: &str) {
    let inner = fields
        .trim()
        .strip_prefix('{')
        .and_then(|f| f.strip_suffix('}'))
        .unwrap_or("");
    if !inner.trim().is_empty() {
        line.push(',');
        line.push_str(inner);
    }
}

const DECLARATION: &str = concat!(
    r#""CloudWatchMetrics":[{"Namespace":"Keygate","#,
    r#""Dimensions":[["deployment"],["deployment","function"],["deployment","function","outcome"]],"#,
    r#""Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"latency_us","Unit":"Microseconds"},"#,
    r#"{"Name":"server_errors","Unit":"Count"},{"Name":"cache_fallbacks","Unit":"Count"}]}]"#,
);

/// Completes the request's line (an open JSON object: `{` and its members so far) with
/// the defaults for members it lacks, the metrics members and their `_aws` declaration.
/// `status` (0 without one) and `latency` come from the event.
pub fn finish(line: &mut String, status: u64, latency: bool, timestamp_ms: i64) {
    let fallback = line.contains(r#","source":"dynamodb_cache_down""#);
    if !line.contains(r#","outcome":"#) {
        line.push_str(r#","outcome":"none""#);
    }
    if !line.contains(r#","function":"#) {
        line.push_str(r#","function":"unknown""#);
    }
    if !latency {
        line.push_str(r#","latency_us":0"#);
    }
    let flag = |on: bool| if on { '1' } else { '0' };
    write!(
        line,
        r#","requests":1,"server_errors":{},"cache_fallbacks":{},"_aws":{{"Timestamp":{timestamp_ms},{DECLARATION}}}}}"#,
        flag(status >= 500),
        flag(fallback),
    )
    .expect("writing to a String cannot fail");
}

/// Appends the event's fields to the line, noting the status and whether it has a latency.
struct EventMembers<'a> {
    line: &'a mut String,
    status: u64,
    latency: bool,
}

impl EventMembers<'_> {
    fn push(&mut self, field: &Field, value: impl fmt::Display) {
        self.line.push(',');
        write_json_str(self.line, field.name()).expect("writing to a String cannot fail");
        write!(self.line, ":{value}").expect("writing to a String cannot fail");
    }
}

impl Visit for EventMembers<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = value,
            "latency_us" => self.latency = true,
            _ => {}
        }
        self.push(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.line.push(',');
        write_json_str(self.line, field.name()).expect("writing to a String cannot fail");
        self.line.push(':');
        write_json_str(self.line, value).expect("writing to a String cannot fail");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_line_is_one_json_object_with_its_declaration() {
        let mut line = r#"{"level":"INFO","function":"issue","status":201"#.to_owned();
        finish(&mut line, 201, false, 1_767_000_000_000);
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["_aws"]["Timestamp"], 1_767_000_000_000_i64);
        let declared = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Metrics"].as_array().unwrap().len(), 4);
        assert_eq!(parsed["outcome"], "none");
        assert_eq!(parsed["requests"], 1);
    }
}
