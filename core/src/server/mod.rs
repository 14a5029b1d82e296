//! The daemon: listeners (bound here, or inherited from the init system), connection limits,
//! privilege drop, pid file, graceful shutdown on SIGTERM and reload on SIGHUP.

mod listen;

use crate::context::Shared;

use crate::admin;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::smtp::{self, Service};
use crate::store::Store;
use crate::tls::{self, TlsStore};
use listen::Bound;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Listeners by (service, configured address): their stop switch, and whether the init system
/// handed them over (those stay whatever the file says).
type Running = HashMap<(String, SocketAddr), (watch::Sender<bool>, bool)>;

/// Which server a listener feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Smtp(Service),
    Pop3 { tls: bool },
    Imap { tls: bool },
}

impl Protocol {
    fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "pop3" => Some(Protocol::Pop3 { tls: false }),
            "pop3s" => Some(Protocol::Pop3 { tls: true }),
            "imap" => Some(Protocol::Imap { tls: false }),
            "imaps" => Some(Protocol::Imap { tls: true }),
            _ => Service::from_name(name).map(Protocol::Smtp),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Smtp(s) => s.name(),
            Protocol::Pop3 { tls: false } => "pop3",
            Protocol::Pop3 { tls: true } => "pop3s",
            Protocol::Imap { tls: false } => "imap",
            Protocol::Imap { tls: true } => "imaps",
        }
    }
}

/// How the daemon was started, so that SIGHUP can read the same file again.
pub struct Launch {
    pub config_path: Option<PathBuf>,
    pub data_override: Option<PathBuf>,
}

pub fn run(config: Config, launch: Launch) -> Result<()> {
    // glibc gives every thread that allocates its own arena (up to 8 per core); with tokio's
    // blocking pool that is memory held and never reused. Two arenas serve this server well.
    // A fixed mmap threshold also stops glibc from raising it after the first large free, so
    // argon2's 19 MiB working memory goes back to the kernel after each login instead of
    // staying in the heap.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("roost")
        .build()
        .map_err(|e| Error::Storage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(serve(config, launch))
}

async fn serve(config: Config, launch: Launch) -> Result<()> {
    log_deprecated(&config);
    let store = Store::open(&config.data_dir)?;
    let stale = store.blobs().clear_tmp()?;
    if stale > 0 {
        tracing::info!(
            stale_temp_files = stale,
            "removed temporary files left by a crash"
        );
    }
    // Collecting unreferenced blobs walks every blob folder: on a large store that takes a
    // while, so it runs beside the server instead of before it.
    let collector = store.clone();
    tokio::task::spawn_blocking(move || match admin::collect_garbage(&collector) {
        Ok(0) => {}
        Ok(n) => tracing::info!(unreferenced_blobs = n, "cleaned the store"),
        Err(e) => tracing::warn!(error = %e, "could not clean the store"),
    });
    let first_admin = admin::bootstrap(&store, &config)?;
    let (cert, key) = tls::cert_paths(&config)?;
    let tls_config = tls::load(&cert, &key)?;

    let mut bound = listen::bind_all(&config)?;
    listen::drop_privileges(&config)?;
    if !config.pid_file.is_empty() {
        std::fs::write(&config.pid_file, format!("{}\n", std::process::id())).map_err(|e| {
            Error::Storage(format!("cannot write pid file {}: {e}", config.pid_file))
        })?;
    }

    let (shutdown, _) = watch::channel(false);
    let dns = crate::dns::Dns::new(&config.dns)
        .map_err(|e| Error::Invalid(format!("DNS resolver: {e}")))?;
    let search = Arc::new(crate::search::Search::open(&config, &store));
    let indexer_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let indexer = {
        let (search, store, stop) = (search.clone(), store.clone(), indexer_stop.clone());
        std::thread::Builder::new()
            .name("roost-indexer".into())
            .spawn(move || search.run(store, stop))
            .map_err(|e| Error::Storage(format!("cannot start the indexer: {e}")))?
    };
    let shared = Arc::new(Shared::new(
        config.clone(),
        store.clone(),
        TlsStore::new(tls_config),
        dns,
        search.clone(),
        shutdown,
    ));

    println!(
        "roost {} serving mail for {} (data in {})",
        env!("CARGO_PKG_VERSION"),
        config.hostname,
        config.data_dir.display()
    );
    let mut running: Running = HashMap::new();
    let mut listening = Vec::new();
    for b in bound.drain(..) {
        listening.push(format!("{} {}", b.service, b.addr));
        let from = if b.configured.is_none() {
            " (inherited socket)"
        } else {
            ""
        };
        println!("roost: {} listening on {}{from}", b.service, b.addr);
        let key = (b.service.clone(), b.configured.unwrap_or(b.addr));
        let inherited = b.configured.is_none();
        running.insert(key, (start_listener(&shared, b), inherited));
    }
    if let Some(a) = first_admin {
        println!(
            "roost: first start: created the admin account {}",
            a.address
        );
        println!(
            "roost:   password: {}   (also saved in {})",
            a.password,
            a.password_file.display()
        );
        println!(
            "roost:   add a domain and a user:  roost domain add example.com; roost user add alice@example.com"
        );
    }
    tokio::spawn(crate::outbound::run(shared.clone()));
    let info = admin::status::RunInfo {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        started: crate::store::now(),
        listeners: listening,
    };
    if let Err(e) = admin::status::write(&config.data_dir, &info) {
        tracing::warn!(error = %e, "cannot write the status file");
    }
    println!("roost: TLS certificate {}", cert.display());
    println!("roost: ready");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::Storage(format!("signal: {e}")))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| Error::Storage(format!("signal: {e}")))?;
    let mut hup =
        signal(SignalKind::hangup()).map_err(|e| Error::Storage(format!("signal: {e}")))?;
    // SIGUSR1: an admin command changed the queue (retry, release).
    let mut usr1 =
        signal(SignalKind::user_defined1()).map_err(|e| Error::Storage(format!("signal: {e}")))?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&shared, &launch, &mut running),
            _ = usr1.recv() => shared.queue.wake(),
        }
    }

    tracing::info!("shutting down: no new connections; transactions in progress may finish");
    for (stop, _) in running.values() {
        let _ = stop.send(true);
    }
    shared.shut_down();
    let grace = Duration::from_secs(shared.config().limits.shutdown_grace_secs);
    let deadline = tokio::time::Instant::now() + grace;
    while (shared.limiter.active() > 0 || shared.queue.active() > 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = shared.limiter.active();
    if left > 0 {
        tracing::warn!(
            connections = left,
            "grace period over; closing the remaining connections"
        );
    }
    indexer_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    search.wake();
    let _ = indexer.join();
    store.close();
    admin::status::remove(&config.data_dir);
    let cfg = shared.config();
    if !cfg.pid_file.is_empty() {
        let _ = std::fs::remove_file(&cfg.pid_file);
    }
    tracing::info!("stopped");
    Ok(())
}

fn start_listener(shared: &Arc<Shared>, b: Bound) -> watch::Sender<bool> {
    let (stop, stop_rx) = watch::channel(false);
    let Some(service) = Protocol::from_name(&b.service) else {
        return stop;
    };
    tokio::spawn(accept_loop(shared.clone(), service, b.listener, stop_rx));
    stop
}

async fn accept_loop(
    shared: Arc<Shared>,
    service: Protocol,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let cfg = shared.config();
        let ip = peer.ip().to_canonical();
        use crate::store::reputation::ListKind;
        let verdict = crate::protect::reputation::client_verdict(&shared.store, ip);
        if let Some((ListKind::Block, why)) = &verdict {
            tracing::info!(client = %ip, service = service.name(), reason = %why,
                "connection refused: blocked");
            refuse(stream, &blocked_reply(service, &cfg.hostname, ip));
            continue;
        }
        let allowed = matches!(verdict, Some((ListKind::Allow, _)));
        let per_minute = if cfg.rate_exempt(ip) {
            0
        } else {
            cfg.limits.connections_per_minute
        };
        match shared.limiter.acquire(
            ip,
            cfg.limits.max_connections,
            cfg.limits.max_connections_per_ip,
            per_minute,
        ) {
            Ok(guard) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    match service {
                        Protocol::Smtp(s) => smtp::handle(shared, s, stream, peer, allowed).await,
                        Protocol::Pop3 { tls } => {
                            crate::pop3::handle(shared, tls, stream, peer).await
                        }
                        Protocol::Imap { tls } => {
                            crate::imap::handle(shared, tls, stream, peer).await
                        }
                    }
                    drop(guard);
                });
            }
            Err(why) => {
                tracing::info!(client = %ip, service = service.name(), why, "connection refused");
                let msg = match service {
                    Protocol::Smtp(Service::Submissions)
                    | Protocol::Pop3 { tls: true }
                    | Protocol::Imap { tls: true } => None,
                    Protocol::Imap { tls: false } => {
                        Some(format!("* BYE [UNAVAILABLE] {why}, try again later\r\n"))
                    }
                    Protocol::Smtp(_) => Some(format!("421 4.7.0 {why}, try again later\r\n")),
                    Protocol::Pop3 { tls: false } => {
                        Some(format!("-ERR [SYS/TEMP] {why}, try again later\r\n"))
                    }
                };
                refuse(stream, &msg);
            }
        }
    }
}

/// What a blocked client reads before the connection closes (nothing on implicit TLS).
fn blocked_reply(service: Protocol, hostname: &str, ip: std::net::IpAddr) -> Option<String> {
    match service {
        Protocol::Smtp(Service::Submissions)
        | Protocol::Pop3 { tls: true }
        | Protocol::Imap { tls: true } => None,
        Protocol::Smtp(_) => Some(format!(
            "554 5.7.1 {hostname}: client [{ip}] is blocked here; write to postmaster from \
             another address if this is a mistake\r\n"
        )),
        Protocol::Imap { tls: false } => Some(format!(
            "* BYE [UNAVAILABLE] client [{ip}] is blocked here\r\n"
        )),
        Protocol::Pop3 { tls: false } => {
            Some(format!("-ERR [AUTH] client [{ip}] is blocked here\r\n"))
        }
    }
}

/// Writes the refusal (bounded in time) and closes. An implicit-TLS client cannot read a
/// clear-text answer: it just gets closed.
fn refuse(stream: tokio::net::TcpStream, msg: &Option<String>) {
    let Some(msg) = msg.clone() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut s = stream;
        let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(msg.as_bytes())).await;
    });
}

/// SIGHUP: read the configuration again, swap it in, reload certificates, and bind or close
/// listeners whose addresses changed. A bad file changes nothing and says why.
fn reload(shared: &Arc<Shared>, launch: &Launch, running: &mut Running) {
    let new = match Config::load(
        launch.config_path.as_deref(),
        launch.data_override.as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reload refused: configuration kept as it was");
            return;
        }
    };
    log_deprecated(&new);
    let old = shared.config();
    if new.data_dir != old.data_dir {
        tracing::warn!("data_dir cannot change while running; restart roost to move the data");
    }
    match tls::cert_paths(&new).and_then(|(c, k)| tls::load(&c, &k)) {
        Ok(t) => shared.tls.replace(t),
        Err(e) => tracing::error!(error = %e, "reload: certificates kept as they were"),
    }
    let wanted: Vec<(String, SocketAddr)> = new.listen_addrs();
    let inherited: Vec<String> = running
        .iter()
        .filter(|(_, (_, i))| *i)
        .map(|(k, _)| k.0.clone())
        .collect();
    running.retain(|key, (stop, is_inherited)| {
        let keep = *is_inherited || wanted.contains(key);
        if !keep {
            let _ = stop.send(true);
            tracing::info!(service = %key.0, addr = %key.1, "listener closed");
        }
        keep
    });
    for (service, addr) in wanted {
        if running.contains_key(&(service.clone(), addr)) || inherited.contains(&service) {
            continue;
        }
        match listen::bind_one(&service, addr) {
            Ok(b) => {
                tracing::info!(service = %service, addr = %b.addr, "listener opened");
                running.insert((service, addr), (start_listener(shared, b), false));
            }
            Err(e) => tracing::error!(error = %e, "reload: cannot open listener"),
        }
    }
    shared.reconfigure(new);
    shared.queue.wake();
    tracing::info!("configuration reloaded");
}

/// One line per key of an older version that the file still uses.
fn log_deprecated(config: &Config) {
    for note in &config.deprecated {
        tracing::warn!("deprecated setting: {note}");
    }
}
