//! Configuration, read once at start-up into typed values. A missing or malformed variable
//! is an error that names it, so a function stops at init instead of failing per request.

use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::key::{KeyPrefix, ADMIN_PREFIX};
use crate::domain::legacy::LegacyKeys;
use crate::domain::limit::WhenCacheDown;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub redis_url: String,
    pub key_prefix: KeyPrefix,
    pub cache: CacheSettings,
    /// The bootstrap (break-glass) credential, with the `admin` role. Optional: a
    /// deployment may run on personal admin credentials alone (`edge/auth.rs`).
    pub admin_token: Option<AdminToken>,
    /// The region every write goes to (`HOME_REGION`), when the deployment spans regions;
    /// `None`: this region (`store/mod.rs`).
    pub home_region: Option<String>,
    /// Whether keys in the old system's format are looked up (`LEGACY_KEYS`: `auto`, the
    /// default, once a key has been imported; `on`; `off`).
    pub legacy_keys: LegacyKeys,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Longest time an entry lives in Redis (`CACHE_TTL_SECONDS`).
    pub ttl: Duration,
    /// How long an unknown hash is remembered (`NEGATIVE_CACHE_TTL_SECONDS`).
    pub negative_ttl: Duration,
    /// Per-command budget before Redis is given up on for this request (`REDIS_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Per-try budget of a change's cache write (`REDIS_WRITE_TIMEOUT_MS`): changes are rare,
    /// and one must not fail for a slow moment.
    pub write_timeout: Duration,
    /// Prepended to every Redis key (`CACHE_KEY_PREFIX`), so deployments and tests can share
    /// one Redis.
    pub namespace: String,
    /// What a key with a rate limit or quota gets while Redis cannot count its use
    /// (`RATE_LIMIT_WHEN_CACHE_DOWN`, `allow` or `deny`).
    pub limits_when_down: WhenCacheDown,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            timeout: Duration::from_millis(50),
            write_timeout: Duration::from_millis(250),
            namespace: "kg".to_owned(),
            limits_when_down: WhenCacheDown::Allow,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = CacheSettings::default();

        let table_name = get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        if !valid_table_name(&table_name) {
            return Err(invalid(
                "TABLE_NAME",
                "use 3 to 255 letters, digits, '_', '-' or '.'",
            ));
        }

        let redis_url = get("REDIS_URL").ok_or(ConfigError::Missing("REDIS_URL"))?;
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(invalid(
                "REDIS_URL",
                "it must start with redis:// or rediss://",
            ));
        }
        redis::Client::open(redis_url.as_str())
            .map_err(|e| invalid("REDIS_URL", &e.to_string()))?;

        let key_prefix = match get("KEY_PREFIX") {
            None => KeyPrefix::default(),
            Some(p) if p == ADMIN_PREFIX => {
                return Err(invalid(
                    "KEY_PREFIX",
                    "kga_ is the prefix of admin credentials; client keys need another",
                ))
            }
            Some(p) => KeyPrefix::parse(&p)
                .map_err(|_| invalid("KEY_PREFIX", "use 1 to 16 letters, digits or underscores"))?,
        };

        let seconds = |name: &'static str, default: Duration, max: u64| match get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err(invalid(
                    name,
                    &format!("expected whole seconds from 1 to {max}"),
                )),
            },
        };
        let millis = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=10_000).contains(&n) => Ok(Duration::from_millis(n)),
                _ => Err(invalid(name, "expected milliseconds from 1 to 10000")),
            },
        };
        let cache = CacheSettings {
            ttl: seconds("CACHE_TTL_SECONDS", defaults.ttl, 86_400)?,
            negative_ttl: seconds("NEGATIVE_CACHE_TTL_SECONDS", defaults.negative_ttl, 3_600)?,
            timeout: millis("REDIS_TIMEOUT_MS", defaults.timeout)?,
            write_timeout: millis("REDIS_WRITE_TIMEOUT_MS", defaults.write_timeout)?,
            namespace: match get("CACHE_KEY_PREFIX") {
                None => defaults.namespace,
                Some(ns) if ns.len() <= 64 && !ns.contains(char::is_whitespace) => ns,
                Some(_) => {
                    return Err(invalid(
                        "CACHE_KEY_PREFIX",
                        "use at most 64 characters and no spaces",
                    ))
                }
            },
            limits_when_down: match get("RATE_LIMIT_WHEN_CACHE_DOWN") {
                None => defaults.limits_when_down,
                Some(v) => WhenCacheDown::parse(v.trim()).ok_or_else(|| {
                    invalid("RATE_LIMIT_WHEN_CACHE_DOWN", "expected allow or deny")
                })?,
            },
        };

        let admin_token = match get("ADMIN_TOKEN") {
            None => None,
            Some(t) if t.len() >= 16 => Some(AdminToken::new(t)),
            Some(_) => {
                return Err(invalid(
                    "ADMIN_TOKEN",
                    "it must be at least 16 characters long",
                ))
            }
        };

        let home_region = match get("HOME_REGION") {
            None => None,
            Some(r) if valid_region(r.trim()) => Some(r.trim().to_owned()),
            Some(_) => {
                return Err(invalid(
                    "HOME_REGION",
                    "expected a region name such as eu-west-1",
                ))
            }
        };

        let legacy_keys = match get("LEGACY_KEYS") {
            None => LegacyKeys::default(),
            Some(v) => LegacyKeys::parse(v.trim())
                .ok_or_else(|| invalid("LEGACY_KEYS", "expected auto, on or off"))?,
        };

        Ok(Self {
            table_name,
            redis_url,
            key_prefix,
            cache,
            admin_token,
            home_region,
            legacy_keys,
        })
    }
}

fn invalid(name: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    }
}

fn valid_region(name: &str) -> bool {
    (4..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.contains('-')
}

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The administrator's bearer token. Only its SHA-256 is kept; `Debug` never prints it.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn new(token: String) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Compares in constant time. Comparing digests of equal length means neither the
    /// length nor the first differing byte of the real token leaks through timing; the
    /// fold never exits early.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<String, String> = HashMap::from([
            ("TABLE_NAME".into(), "keygate-keys".into()),
            ("REDIS_URL".into(), "redis://127.0.0.1:6379".into()),
        ]);
        for (k, v) in vars {
            env.insert((*k).into(), (*v).into());
        }
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.key_prefix.as_str(), "kg_");
        assert_eq!(c.cache, CacheSettings::default());
        assert!(c.admin_token.is_none());
    }

    #[test]
    fn a_missing_table_name_is_named() {
        let err = config(&[("TABLE_NAME", "")]).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME is not set");
    }

    #[test]
    fn the_home_region_is_a_region_name() {
        let c = config(&[("HOME_REGION", "eu-west-1")]).unwrap();
        assert_eq!(c.home_region.as_deref(), Some("eu-west-1"));
        assert!(config(&[]).unwrap().home_region.is_none());
        for bad in ["EU-WEST-1", "eu west 1", "europe", "eu-west-1/x"] {
            let err = config(&[("HOME_REGION", bad)]).unwrap_err();
            assert!(err.to_string().contains("HOME_REGION"), "{bad}: {err}");
        }
    }

    #[test]
    fn legacy_keys_are_auto_on_or_off() {
        assert_eq!(config(&[]).unwrap().legacy_keys, LegacyKeys::Auto);
        let c = config(&[("LEGACY_KEYS", "off")]).unwrap();
        assert_eq!(c.legacy_keys, LegacyKeys::Off);
        let err = config(&[("LEGACY_KEYS", "yes")]).unwrap_err();
        assert!(err.to_string().contains("LEGACY_KEYS"), "{err}");
    }

    #[test]
    fn the_admin_credentials_prefix_is_no_key_prefix() {
        let err = config(&[("KEY_PREFIX", "kga_")]).unwrap_err();
        assert!(err.to_string().contains("KEY_PREFIX"), "{err}");
        assert!(err.to_string().contains("admin credentials"), "{err}");
    }

    #[test]
    fn malformed_values_are_rejected_with_their_name() {
        for (name, value) in [
            ("REDIS_URL", "http://x"),
            ("CACHE_TTL_SECONDS", "five"),
            ("CACHE_TTL_SECONDS", "0"),
            ("NEGATIVE_CACHE_TTL_SECONDS", "-1"),
            ("REDIS_TIMEOUT_MS", "0"),
            ("REDIS_WRITE_TIMEOUT_MS", "10001"),
            ("KEY_PREFIX", "bad prefix"),
            ("ADMIN_TOKEN", "short"),
            ("TABLE_NAME", "a"),
            ("RATE_LIMIT_WHEN_CACHE_DOWN", "sometimes"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn rediss_urls_are_accepted() {
        assert!(config(&[("REDIS_URL", "rediss://cache.example:6379")]).is_ok());
    }

    #[test]
    fn the_admin_token_matches_only_itself() {
        let token = AdminToken::new("correct horse battery staple".into());
        assert!(token.matches("correct horse battery staple"));
        assert!(!token.matches("correct horse battery stapl"));
        assert!(!token.matches(""));
    }

    #[test]
    fn debug_output_never_shows_the_admin_token() {
        let c = config(&[("ADMIN_TOKEN", "super-secret-admin-token")]).unwrap();
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}
