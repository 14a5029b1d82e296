//! Log lines a person can grep: time, level, what, then key=value pairs. The daemon logs at the
//! configured level to stderr; admin commands only say what went wrong.

use crate::config::Config;
use tracing_subscriber::EnvFilter;

pub fn init(cfg: &Config, daemon: bool) {
    let filter = if daemon {
        std::env::var("ROOST_LOG")
            .ok()
            .unwrap_or_else(|| cfg.log.level.clone())
    } else {
        "warn".to_string()
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(daemon)
        .with_ansi(false)
        .try_init();
}
