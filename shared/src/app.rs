//! What a function builds once per Lambda instance, in `main`, and lends to every request.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

use crate::cache::{Cache, CacheError};
use crate::config::Config;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub cache: Cache,
}

impl App {
    /// Builds the DynamoDB client through the SDK's normal configuration chain (so
    /// `AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local) and connects to Redis. With
    /// a `HOME_REGION` other than this region, writes get a client of their own for it.
    pub async fn from_config(config: Config) -> Result<Self, CacheError> {
        let local = dynamodb_client().await;
        let here = local.config().region().map(|r| r.as_ref().to_owned());
        let store = match &config.home_region {
            Some(home) if here.as_deref() != Some(home.as_str()) => {
                let home_client = aws_sdk_dynamodb::Client::from_conf(
                    local
                        .config()
                        .to_builder()
                        .region(aws_sdk_dynamodb::config::Region::new(home.clone()))
                        .build(),
                );
                Store::new(home_client, config.table_name.clone()).with_local_replica(local)
            }
            _ => Store::new(local, config.table_name.clone()),
        };
        let cache = Cache::new(&config.redis_url, config.cache.clone())?;
        cache.warm_up().await;
        Ok(Self::from_parts(config, store, cache))
    }

    pub fn from_parts(config: Config, store: Store, cache: Cache) -> Self {
        Self {
            store: store.with_legacy_keys(config.legacy_keys),
            config,
            cache,
        }
    }
}

/// A DynamoDB client with timeouts short enough that an outage becomes a prompt 503
/// rather than a request hanging until the function's own timeout.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
}
