//! What every part of the running server shares, at the bottom of the layers above the store:
//! the configuration in force, the store, TLS, the directory's login guard and cache, the
//! connection limiter, the message memory budget, the change hub, the queue's wake-up signal,
//! the resolver, the DKIM signers and the search index. Protocols and services take a
//! `Shared`; `server` only makes one and binds listeners to it.

mod hub;
mod limits;
mod login;

pub use hub::Hub;
pub use limits::{ConnGuard, ConnLimiter};
pub use login::{AuthUser, Login, login};

use crate::config::Config;
use crate::directory::{AccountPolicy, AuthGuard, LoginCache};
use crate::dns::Dns;
use crate::memory::MessageMemory;
use crate::search::Search;
use crate::store::Store;
use crate::tls::TlsStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};

pub struct Shared {
    config: RwLock<Arc<Config>>,
    pub store: Store,
    pub tls: TlsStore,
    pub guard: AuthGuard,
    pub limiter: Arc<ConnLimiter>,
    /// Message bytes held in memory by every connection together.
    pub memory: MessageMemory,
    pub hub: Hub,
    /// Password checks at once: argon2 costs 19 MiB and a core each, so a burst of logins
    /// waits its turn instead of multiplying memory.
    pub logins: tokio::sync::Semaphore,
    pub login_cache: LoginCache,
    pub queue: QueueSignal,
    dns: RwLock<Arc<Dns>>,
    /// The resolver of the arrival checks (see `Dns::for_checks`).
    check_dns: RwLock<Option<Arc<Dns>>>,
    pub signers: crate::dkim::Signers,
    /// DNS answers of the arrival checks, kept for their TTL.
    pub auth_cache: crate::protect::DnsCache,
    /// Unknown-recipient counts toward an automatic block.
    pub tracker: crate::protect::reputation::Tracker,
    pub search: Arc<Search>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn new(
        config: Config,
        store: Store,
        tls: TlsStore,
        dns: Dns,
        search: Arc<Search>,
        shutdown: watch::Sender<bool>,
    ) -> Shared {
        let auth = &config.auth;
        Shared {
            guard: AuthGuard::new(
                auth.max_failures,
                Duration::from_secs(auth.block_window_secs),
                Duration::from_secs(auth.block_secs),
                AccountPolicy {
                    max_failures: auth.account_max_failures,
                    first: Duration::from_secs(auth.account_lock_secs),
                    max: Duration::from_secs(auth.account_lock_max_secs),
                },
            ),
            memory: MessageMemory::new(config.limits.message_memory.0),
            limiter: Arc::new(ConnLimiter::default()),
            hub: Hub::default(),
            login_cache: LoginCache::new(Duration::from_secs(auth.cache_secs)),
            logins: tokio::sync::Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            ),
            queue: QueueSignal::default(),
            check_dns: RwLock::new(Dns::for_checks(&config.dns).ok().map(Arc::new)),
            dns: RwLock::new(Arc::new(dns)),
            signers: crate::dkim::Signers::default(),
            auth_cache: crate::protect::DnsCache::default(),
            tracker: Default::default(),
            search,
            store,
            tls,
            shutdown,
            config: RwLock::new(Arc::new(config)),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// After a reload: the new configuration, and name servers that may have changed.
    pub fn reconfigure(&self, new: Config) {
        match Dns::new(&new.dns) {
            Ok(d) => *self.dns.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(d),
            Err(e) => tracing::error!(error = %e, "DNS settings not applied"),
        }
        if let Ok(d) = Dns::for_checks(&new.dns) {
            *self.check_dns.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(d));
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
    }

    /// Blocks the client for a while, as `[protection]` says (a store write, off the async
    /// threads; connections from it are refused once it is written).
    pub fn block_automatically(&self, ip: std::net::IpAddr, reason: &'static str) {
        let store = self.store.clone();
        let cfg = self.config();
        tokio::task::spawn_blocking(move || {
            crate::protect::reputation::block_automatically(&store, &cfg.protection, ip, reason)
        });
    }

    /// The resolver delivery uses.
    pub fn dns(&self) -> Arc<Dns> {
        self.dns.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The resolver of the arrival checks (the delivery one if it could not be made).
    pub fn check_dns(&self) -> Arc<Dns> {
        let d = self
            .check_dns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        d.unwrap_or_else(|| self.dns())
    }

    pub fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells every session and the queue runner to finish.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }

    pub fn tls_available(&self) -> bool {
        true
    }
}

/// Between whoever fills the queue and the runner that empties it: "look now", and how many
/// deliveries are under way (shutdown waits for them within the grace period).
#[derive(Default)]
pub struct QueueSignal {
    wake: Notify,
    workers: AtomicUsize,
}

impl QueueSignal {
    /// New mail is in the queue, or a worker finished.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await
    }

    pub fn started(&self) {
        self.workers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self) {
        self.workers.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn active(&self) -> usize {
        self.workers.load(Ordering::Relaxed)
    }
}
