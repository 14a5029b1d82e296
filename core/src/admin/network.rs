//! Admin operations that talk to the network (DNS, other servers): run on a runtime of their
//! own, since the admin layer's callers (CLI, C ABI) are not async.

use super::{Response, status};
use crate::config::Config;
use crate::directory;
use crate::error::{Error, Result};
use crate::store::{self, Store};
use std::future::Future;

/// Runs `job` to its end on a one-thread runtime of its own thread.
fn block_on<T: Send, F: Future<Output = Result<T>> + Send>(what: &str, job: F) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Storage(format!("cannot start {what}: {e}")))?;
                rt.block_on(job)
            })
            .join()
            .map_err(|_| Error::Storage(format!("{what} stopped unexpectedly")))?
    })
}

/// The setup check for one domain or every domain, with the published MTA-STS policies read.
pub fn dns_check(
    s: &Store,
    cfg: &Config,
    domain: Option<String>,
) -> Result<crate::dns::check::Report> {
    let domains: Vec<String> = match domain {
        Some(d) => vec![directory::normalize_domain(&d)?],
        None => s
            .read(directory::domain_list)?
            .into_iter()
            .map(|d| d.name)
            .collect(),
    };
    let keys = s.read(store::dkim::list)?;
    block_on("the DNS check", async {
        let dns = crate::dns::Dns::impatient(&cfg.dns).map_err(Error::Invalid)?;
        let mut report = crate::dns::check::run(cfg, &dns, &domains, &keys).await;
        super::sts_check::add_policy_checks(cfg, &dns, &mut report).await;
        Ok(report)
    })
}

/// Queues the TLS reports that are due; the running server sends them at once.
pub fn reports_send(s: &Store, cfg: &Config, include_today: bool) -> Result<Response> {
    let (tls, dmarc) = block_on("the reports", async {
        let dns = crate::dns::Dns::new(&cfg.dns).map_err(Error::Invalid)?;
        let tls = crate::outbound::tls_report::send_reports(s, &dns, cfg, include_today).await?;
        let dmarc = if cfg.protection.dmarc_reports {
            crate::outbound::dmarc_report::send_reports(s, &dns, cfg, include_today).await?
        } else {
            0
        };
        Ok((tls, dmarc))
    })?;
    status::signal_daemon(&cfg.data_dir, nix::sys::signal::Signal::SIGUSR1);
    let count = |n: usize, what: &str| match n {
        0 => format!("no {what} report is due (none asked for, or already sent)"),
        1 => format!("1 {what} report queued"),
        n => format!("{n} {what} reports queued"),
    };
    let mut text = count(tls, "TLS");
    if cfg.protection.dmarc_reports {
        text = format!("{text}; {}", count(dmarc, "DMARC"));
    }
    Ok(Response::Done(text))
}
