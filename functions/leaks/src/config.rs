//! The leaks function's settings, read once at start; a bad value names its variable.
//!
//! | variable                   | default                         | meaning                  |
//! |----------------------------|---------------------------------|--------------------------|
//! | `LEAK_PUBLIC_KEYS_URL`     | GitHub's secret scanning keys   | the signers' public keys |
//! | `LEAK_PUBLIC_KEYS_SOURCE`  | `url`                           | `url`: fetch that URL; `table`: read the copy `leaks-refresh` keeps in `TABLE_NAME` |
//! | `LEAKED_KEY_ACTION`        | `revoke`                        | `revoke` or `report`     |

use keygate::config::ConfigError;
use keygate::ops::leak::LeakAction;
pub use reqwest::Url;

/// Where GitHub publishes the keys its secret scanning signs partner reports with.
pub const GITHUB_PUBLIC_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// Where the function gets the public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysSource {
    /// Fetch `LEAK_PUBLIC_KEYS_URL` itself: locally, in tests, or wherever the function can
    /// reach the internet.
    Url,
    /// Read the copy `leaks-refresh` keeps in the table: in AWS, where the function runs in
    /// a VPC with no route out.
    Table,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakConfig {
    pub public_keys_url: Url,
    pub source: KeysSource,
    pub action: LeakAction,
}

impl LeakConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let source = match get("LEAK_PUBLIC_KEYS_SOURCE").as_deref().map(str::trim) {
            None | Some("url") => KeysSource::Url,
            Some("table") => KeysSource::Table,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "LEAK_PUBLIC_KEYS_SOURCE",
                    reason: "use `url` or `table`".to_owned(),
                })
            }
        };
        let action = match get("LEAKED_KEY_ACTION") {
            None => LeakAction::default(),
            Some(text) => LeakAction::parse(text.trim()).ok_or_else(|| ConfigError::Invalid {
                name: "LEAKED_KEY_ACTION",
                reason: "use `revoke` or `report`".to_owned(),
            })?,
        };
        Ok(Self {
            public_keys_url: public_keys_url(&lookup)?,
            source,
            action,
        })
    }
}

/// `LEAK_PUBLIC_KEYS_URL`, GitHub's by default. It must be `https`: whoever could change the
/// document in transit could sign reports that revoke any key. Plain `http` is accepted
/// for a loopback address only (local runs and tests).
pub fn public_keys_url(lookup: impl Fn(&str) -> Option<String>) -> Result<Url, ConfigError> {
    const NAME: &str = "LEAK_PUBLIC_KEYS_URL";
    let text = lookup(NAME)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| GITHUB_PUBLIC_KEYS_URL.to_owned());
    let invalid = |reason: String| ConfigError::Invalid { name: NAME, reason };
    let url = Url::parse(&text).map_err(|e| invalid(format!("not a URL ({e})")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(invalid(
            "use an https:// URL (http:// only for 127.0.0.1 or localhost)".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<LeakConfig, ConfigError> {
        LeakConfig::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_defaults_fetch_githubs_keys_and_revoke() {
        let config = read(&[]).unwrap();
        assert_eq!(config.public_keys_url.as_str(), GITHUB_PUBLIC_KEYS_URL);
        assert_eq!(config.source, KeysSource::Url);
        assert_eq!(config.action, LeakAction::Revoke);
    }

    #[test]
    fn each_setting_is_read() {
        let config = read(&[
            ("LEAK_PUBLIC_KEYS_URL", "http://127.0.0.1:4567/keys"),
            ("LEAK_PUBLIC_KEYS_SOURCE", "table"),
            ("LEAKED_KEY_ACTION", "report"),
        ])
        .unwrap();
        assert_eq!(
            config.public_keys_url.as_str(),
            "http://127.0.0.1:4567/keys"
        );
        assert_eq!(config.source, KeysSource::Table);
        assert_eq!(config.action, LeakAction::Report);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("LEAKED_KEY_ACTION", "delete"),
            ("LEAK_PUBLIC_KEYS_SOURCE", "s3"),
            ("LEAK_PUBLIC_KEYS_URL", "not a url"),
            ("LEAK_PUBLIC_KEYS_URL", "http://keys.example.com/"),
            ("LEAK_PUBLIC_KEYS_URL", "ftp://127.0.0.1/keys"),
        ] {
            let err = read(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}={value}: {err}");
        }
    }
}
