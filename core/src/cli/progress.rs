//! `roost search reindex`'s progress bar. Each step is an admin request: the running server's
//! indexer does the work (the step only counts what waits); with no server running, the step
//! indexes a batch in this process.

use crate::admin::{Admin, Request, Response};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

pub fn reindex(admin: &Admin) -> i32 {
    let step = || match admin.handle(Request::SearchIndexStep) {
        Ok(Response::SearchProgress(p)) => Ok(p),
        Ok(_) => Err("unexpected reply to a reindex step".to_string()),
        Err(e) => Err(e.to_string()),
    };
    let first = match step() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("roost: {e}");
            return 1;
        }
    };
    let total = first.waiting + first.indexed;
    if first.waiting == 0 {
        return 0;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages  {per_sec}  {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(total.saturating_sub(first.waiting));
    loop {
        let p = match step() {
            Ok(p) => p,
            Err(e) => {
                bar.abandon();
                eprintln!("roost: {e}");
                return 1;
            }
        };
        bar.set_position(total.saturating_sub(p.waiting));
        if p.waiting == 0 {
            break;
        }
        if p.indexed == 0 {
            // The server indexes: look again in a while.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    bar.finish_with_message("done");
    0
}
