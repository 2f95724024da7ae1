//! The [`Transport`] of the binary: `POST {URL}/api/keys/import` over HTTP(S), with the
//! credential as a bearer token.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::run::{Answer, Transport, TransportError};

pub struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    token: String,
}

impl Http {
    /// `base` is the admin function's URL, with or without a trailing slash.
    pub fn new(base: &str, token: &str) -> Result<Http, String> {
        let url = endpoint(base)?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("keygate-local/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A batch of 1,000 keys is 1,000 conditional writes: give it time.
            .timeout(Duration::from_secs(120))
            // A POST must not turn into a GET on a redirect: the URL must answer itself.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(Http {
            client,
            url,
            token: token.to_owned(),
        })
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }
}

/// `{base}/api/keys/import`.
pub fn endpoint(base: &str) -> Result<reqwest::Url, String> {
    let base = base.trim().trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!(
            "--url {base:?} must start with http:// or https://, such as \
             http://127.0.0.1:9000/lambda-url/admin"
        ));
    }
    reqwest::Url::parse(&format!("{base}/api/keys/import"))
        .map_err(|err| format!("--url {base:?} is not a URL: {err}"))
}

/// Whether `url` sends the token in clear to another machine.
pub fn in_clear_to_another_host(url: &reqwest::Url) -> bool {
    url.scheme() == "http"
        && !matches!(
            url.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
}

impl Transport for Http {
    async fn send(&mut self, body: &Value) -> Result<Answer, TransportError> {
        let reply = self
            .client
            .post(self.url.clone())
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(error)?;
        let status = reply.status().as_u16();
        let bytes = reply.bytes().await.map_err(error)?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

/// The error and its causes: reqwest's own message alone rarely says what went wrong.
fn error(err: reqwest::Error) -> TransportError {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_under_the_admin_base_with_or_without_a_slash() {
        for base in [
            "http://127.0.0.1:9000/lambda-url/admin",
            "http://127.0.0.1:9000/lambda-url/admin/",
        ] {
            assert_eq!(
                endpoint(base).unwrap().as_str(),
                "http://127.0.0.1:9000/lambda-url/admin/api/keys/import"
            );
        }
        assert!(endpoint("127.0.0.1:9000/admin").is_err());
    }

    #[test]
    fn plain_http_is_flagged_only_off_this_machine() {
        let clear = |base: &str| in_clear_to_another_host(&endpoint(base).unwrap());
        assert!(!clear("http://127.0.0.1:9000/lambda-url/admin"));
        assert!(!clear("http://localhost:9000/admin"));
        assert!(!clear("https://keys.example.com/admin"));
        assert!(clear("http://keys.example.com/admin"));
    }
}
