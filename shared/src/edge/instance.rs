//! What a function's `main` does once per Lambda instance, before serving: logging,
//! configuration, clients. A bad configuration stops the instance with one line naming the
//! variable, instead of failing every request.

use crate::app::App;
use crate::config::Config;

/// Reads the configuration, or stops the process with one line naming the variable.
pub fn config_or_exit() -> Config {
    Config::from_env().unwrap_or_else(|err| exit_with(&err))
}

pub fn exit_with(err: &dyn std::fmt::Display) -> ! {
    eprintln!("keygate: configuration error: {err}");
    std::process::exit(1)
}

/// Everything a function's `main` does before serving: logging, configuration, clients.
pub async fn start() -> App {
    super::telemetry::init();
    let config = config_or_exit();
    App::from_config(config)
        .await
        .unwrap_or_else(|err| exit_with(&err))
}
