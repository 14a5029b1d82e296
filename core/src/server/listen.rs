//! Where listening sockets come from: sockets handed over by the init system (LISTEN_FDS with
//! LISTEN_FDNAMES naming the service, as systemd does), else bound here from the configuration.
//! Then, when configured, the process drops from root to the service user.

use crate::config::{Config, SERVED};
use crate::error::{Error, Result};
use nix::sys::socket::{setsockopt, sockopt};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use tokio::net::{TcpListener, TcpSocket};

pub struct Bound {
    pub service: String,
    /// The configured address; None for an inherited socket.
    pub configured: Option<SocketAddr>,
    pub addr: SocketAddr,
    pub listener: TcpListener,
}

const LISTEN_FDS_START: RawFd = 3;

pub fn bind_all(cfg: &Config) -> Result<Vec<Bound>> {
    let mut out = inherited()?;
    let from_init: Vec<String> = out.iter().map(|b| b.service.clone()).collect();
    for (service, addr) in cfg.listen_addrs() {
        if from_init.contains(&service) {
            continue;
        }
        match bind_one(&service, addr) {
            Ok(b) => out.push(b),
            // The default IPv6 wildcard on a machine without IPv6 is not an error.
            Err(_) if !cfg.listeners.contains_key(&service) && addr.is_ipv6() => {
                tracing::debug!(%addr, "no IPv6 here; listening on IPv4 only");
            }
            Err(e) => return Err(e),
        }
    }
    if out.is_empty() {
        return Err(Error::Invalid(
            "no listener configured: nothing to serve".into(),
        ));
    }
    Ok(out)
}

pub fn bind_one(service: &str, addr: SocketAddr) -> Result<Bound> {
    let fail = |e: std::io::Error| {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE; or use 10000 + the port and a redirect)"
            }
            std::io::ErrorKind::AddrInUse => {
                " (another program holds this port: `ss -ltnp` shows which)"
            }
            _ => "",
        };
        Error::Invalid(format!("cannot listen for {service} on {addr}: {e}{hint}"))
    };
    let socket = if addr.is_ipv6() {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    if addr.is_ipv6() {
        // The IPv4 wildcard is its own listener; keep the two from colliding.
        setsockopt(&socket, sockopt::Ipv6V6Only, &true).map_err(|e| fail(e.into()))?;
    }
    socket.bind(addr).map_err(fail)?;
    let listener = socket.listen(1024).map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    Ok(Bound {
        service: service.to_string(),
        configured: Some(addr),
        addr: local,
        listener,
    })
}

/// Sockets passed by the init system. They are ours only when LISTEN_PID names this process.
fn inherited() -> Result<Vec<Bound>> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0);
    if !pid_ok || count <= 0 {
        return Ok(Vec::new());
    }
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .unwrap_or_default()
        .split(':')
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for i in 0..count {
        let name = names.get(i as usize).cloned().unwrap_or_default();
        if !SERVED.contains(&name.as_str()) {
            return Err(Error::Invalid(format!(
                "inherited socket {} is named '{name}'; LISTEN_FDNAMES must name each one: {}",
                i + LISTEN_FDS_START,
                SERVED.join(", ")
            )));
        }
        // SAFETY: the init system hands these descriptors to this process (LISTEN_PID checked)
        // and nothing else in it owns them.
        let std_listener = unsafe { std::net::TcpListener::from_raw_fd(LISTEN_FDS_START + i) };
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        out.push(Bound {
            service: name,
            configured: None,
            addr,
            listener,
        });
    }
    // SAFETY: removing variables before any other thread reads the environment.
    unsafe {
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    Ok(out)
}

/// As root with `user` set: hand the data folder to that user, then become it for good.
pub fn drop_privileges(cfg: &Config) -> Result<()> {
    use nix::unistd::{Uid, User, setgid, setgroups, setuid};
    if cfg.user.is_empty() {
        return Ok(());
    }
    let user = User::from_name(&cfg.user)
        .map_err(|e| Error::Invalid(format!("user '{}': {e}", cfg.user)))?
        .ok_or_else(|| {
            Error::Invalid(format!("user '{}' does not exist on this system", cfg.user))
        })?;
    if !Uid::effective().is_root() {
        if Uid::effective() == user.uid {
            return Ok(());
        }
        return Err(Error::Invalid(format!(
            "user = '{}' needs roost to be started as root",
            cfg.user
        )));
    }
    chown_tree(&cfg.data_dir, user.uid, user.gid)?;
    setgroups(&[user.gid]).map_err(|e| Error::Invalid(format!("setgroups: {e}")))?;
    setgid(user.gid).map_err(|e| Error::Invalid(format!("setgid: {e}")))?;
    setuid(user.uid).map_err(|e| Error::Invalid(format!("setuid: {e}")))?;
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(Error::Invalid(
            "privileges could be regained after dropping them; refusing to run".into(),
        ));
    }
    tracing::info!(user = %cfg.user, "dropped root privileges");
    Ok(())
}

/// Gives the data folder and everything in it to `uid`, without following symbolic links
/// (a link planted in the folder must not hand over a file elsewhere), walking with a stack.
fn chown_tree(root: &std::path::Path, uid: nix::unistd::Uid, gid: nix::unistd::Gid) -> Result<()> {
    use nix::fcntl::AtFlags;
    use nix::unistd::fchownat;
    let mut todo = vec![root.to_path_buf()];
    while let Some(path) = todo.pop() {
        fchownat(
            nix::fcntl::AT_FDCWD,
            &path,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::Storage(format!("chown {}: {e}", path.display())))?;
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                todo.push(entry?.path());
            }
        }
    }
    Ok(())
}
