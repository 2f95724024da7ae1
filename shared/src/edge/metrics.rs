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

use std::fmt;

use lambda_http::tracing::subscriber::fmt::format::{Format, Json, Writer};
use lambda_http::tracing::subscriber::fmt::{
    FmtContext, FormatEvent, FormatFields, FormattedFields,
};
use lambda_http::tracing::subscriber::registry::LookupSpan;
use serde_json::{json, Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

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
        let mut line = Map::new();
        line.insert("level".into(), json!(event.metadata().level().as_str()));
        // The span's fields, as the JSON field formatter already wrote them.
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                continue;
            };
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                line.extend(fields);
            }
        }
        event.record(&mut Fields(&mut line));
        line.insert("deployment".into(), json!(self.deployment));
        writeln!(
            writer,
            "{}",
            emf(line, chrono::Utc::now().timestamp_millis())
        )
    }
}

/// The metrics every request line declares, the same for every line: written once.
const DECLARATION: &str = concat!(
    r#""CloudWatchMetrics":[{"Namespace":"Keygate","#,
    r#""Dimensions":[["deployment"],["deployment","function"],["deployment","function","outcome"]],"#,
    r#""Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"latency_us","Unit":"Microseconds"},"#,
    r#"{"Name":"server_errors","Unit":"Count"},{"Name":"cache_fallbacks","Unit":"Count"}]}]"#,
);

/// A request line's fields as EMF: the metrics' members added to them, and the `_aws`
/// member (its time, and [`DECLARATION`]) closing the object.
pub fn emf(mut line: Map<String, Value>, timestamp_ms: i64) -> String {
    let status = line.get("status").and_then(Value::as_u64).unwrap_or(0);
    let fallback = line.get("source").and_then(Value::as_str) == Some("dynamodb_cache_down");
    line.entry("outcome").or_insert_with(|| json!("none"));
    line.entry("function").or_insert_with(|| json!("unknown"));
    line.insert("requests".into(), json!(1));
    line.insert("server_errors".into(), json!(u8::from(status >= 500)));
    line.insert("cache_fallbacks".into(), json!(u8::from(fallback)));
    line.entry("latency_us").or_insert_with(|| json!(0));
    let mut text = Value::Object(line).to_string();
    // The object's closing brace makes way for `_aws`; `line` is never empty, so a member
    // precedes it.
    text.pop();
    text.push_str(&format!(
        r#","_aws":{{"Timestamp":{timestamp_ms},{DECLARATION}}}}}"#
    ));
    text
}

/// The event's own fields, as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), json!(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_its_declaration() {
        let mut line = Map::new();
        line.insert("function".into(), json!("issue"));
        line.insert("status".into(), json!(201));
        let parsed: Value = serde_json::from_str(&emf(line, 1_767_000_000_000)).unwrap();
        assert_eq!(parsed["_aws"]["Timestamp"], 1_767_000_000_000_i64);
        let declared = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Metrics"].as_array().unwrap().len(), 4);
        assert_eq!(parsed["outcome"], "none");
        assert_eq!(parsed["requests"], 1);
    }
}
