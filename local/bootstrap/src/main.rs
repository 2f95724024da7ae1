//! `keygate-local create-table`: creates `TABLE_NAME` (with its indexes) in the DynamoDB
//! that the SDK's configuration points at, unless it exists. In AWS the template does this.

use std::time::{Duration, Instant};

use keygate::app::dynamodb_client;
use keygate::store::{create_table, StoreError};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    if command != "create-table" {
        eprintln!(
            "usage: keygate-local create-table   (reads TABLE_NAME and the AWS SDK variables)"
        );
        std::process::exit(2);
    }
    let Some(table) = std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()) else {
        eprintln!("keygate: TABLE_NAME is not set");
        std::process::exit(1);
    };
    let client = dynamodb_client().await;
    // DynamoDB Local may still be starting: retry for a while, saying so.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match create_table(&client, &table).await {
            Ok(true) => {
                eprintln!("keygate: created table {table}");
                return;
            }
            Ok(false) => {
                eprintln!("keygate: table {table} already exists");
                return;
            }
            Err(err @ StoreError::Unavailable(_)) if Instant::now() < deadline => {
                eprintln!("keygate: DynamoDB not ready yet ({err}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => {
                eprintln!("keygate: could not create table {table}: {err}");
                std::process::exit(1);
            }
        }
    }
}
