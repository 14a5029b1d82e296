//! `roost search reindex`'s progress bar: the running server's indexer does the work (the CLI
//! watches the queue of waiting messages); with no server running, the CLI indexes itself.

use crate::config::Config;
use crate::store::{self, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

pub fn reindex(store: &Store, config: &Config) -> i32 {
    let waiting = || store.read(store::search::unindexed_count).unwrap_or(0);
    let total = waiting();
    if total == 0 {
        return 0;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages  {per_sec}  {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let running = crate::admin::status::running(&config.data_dir);
    let local = (!running).then(|| crate::search::Search::open(config, store));
    loop {
        if let Some(search) = &local {
            match search.index_batch(store) {
                Ok(0) => {}
                Ok(_) => {
                    bar.set_position(total.saturating_sub(waiting()));
                    continue;
                }
                Err(e) => {
                    bar.abandon();
                    eprintln!("roost: {e}");
                    return 1;
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
        let left = waiting();
        bar.set_position(total.saturating_sub(left));
        if left == 0 {
            break;
        }
    }
    bar.finish_with_message("done");
    0
}
