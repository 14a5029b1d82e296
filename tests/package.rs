//! The .spk installed the way DSM's Package Center does it, into a throw-away NAS root inside a
//! network namespace: unpack, the scripts in DSM's order with SYNOPKG_* and the wizard's answers,
//! as a non-root package user; the harness plays DSM's port-config worker (as root, through
//! `roost firewall register`). A second namespace plays a computer on the LAN.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const USER: &str = "roostpkg";
const NAS_IP: &str = "10.77.0.1";
const CLIENT_IP: &str = "10.77.0.2";
const OUTSIDE_IP: &str = "10.78.0.2";
/// Another mail server beyond the NAS: it greets as "outside".
const OUTSIDE_MX: &str = r#"
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 25)); s.listen(); print("up", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"220 outside ESMTP\r\n"); c.close()
"#;
const ACCOUNT: &str = "owner@family.test";
const PASSWORD: &str = "wizard-password-1";

fn sh(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let o = sh(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Everything the test makes, undone on drop (also when it fails).
struct Nas {
    root: PathBuf,
    ns: String,
    client: String,
    /// A host beyond the NAS (the internet, as far as the LAN knows), once made.
    outside: Option<String>,
    made_user: bool,
}

impl Drop for Nas {
    fn drop(&mut self) {
        if self.made_user {
            let _ = Command::new("pkill").args(["-KILL", "-u", USER]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.client])
            .status();
        if let Some(o) = &self.outside {
            let _ = Command::new("ip").args(["netns", "del", o]).status();
        }
        if self.made_user {
            let _ = Command::new("userdel").arg(USER).status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
        if LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            let _ = std::fs::remove_dir_all(dist_dir());
        }
    }
}

/// Tests holding a Nas: the last one out removes the shared packages.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Nas {
    /// `tag` keeps the two tests (run side by side) apart: one letter. `package_user`: make
    /// the DSM package user (the .deb makes its own).
    fn new(tag: &str, package_user: bool) -> Nas {
        LIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = std::process::id();
        let root = std::env::temp_dir().join(format!("roost-nas{tag}-{id}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let made_user = package_user && !sh(Command::new("id").arg(USER)).status.success();
        if made_user {
            ok(Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(USER));
        }
        let nas = Nas {
            root,
            ns: format!("roost-nas{tag}-{id}"),
            client: format!("roost-lan{tag}-{id}"),
            outside: None,
            made_user,
        };
        for ns in [&nas.ns, &nas.client] {
            ok(Command::new("ip").args(["netns", "add", ns]));
            ok(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        }
        let (a, b) = (format!("rn{tag}{id}"), format!("rc{tag}{id}"));
        let (a, b) = (&a[..a.len().min(15)], &b[..b.len().min(15)]);
        ok(Command::new("ip").args(["link", "add", a, "type", "veth", "peer", "name", b]));
        ok(Command::new("ip").args(["link", "set", a, "netns", &nas.ns]));
        ok(Command::new("ip").args(["link", "set", b, "netns", &nas.client]));
        ok(Command::new("ip").args([
            "-n",
            &nas.ns,
            "addr",
            "add",
            &format!("{NAS_IP}/24"),
            "dev",
            a,
        ]));
        ok(Command::new("ip").args([
            "-n",
            &nas.client,
            "addr",
            "add",
            &format!("{CLIENT_IP}/24"),
            "dev",
            b,
        ]));
        ok(Command::new("ip").args(["-n", &nas.ns, "link", "set", a, "up"]));
        ok(Command::new("ip").args(["-n", &nas.client, "link", "set", b, "up"]));
        for d in ["target", "var", "tmp"] {
            std::fs::create_dir_all(nas.pkg().join(d)).unwrap();
        }
        if package_user {
            ok(Command::new("chown")
                .arg("-R")
                .arg(format!("{USER}:{USER}"))
                .arg(nas.pkg()));
        }
        nas
    }

    fn pkg(&self) -> PathBuf {
        self.root.join("var/packages/roost")
    }

    fn target(&self) -> PathBuf {
        self.pkg().join("target")
    }

    fn var(&self) -> PathBuf {
        self.pkg().join("var")
    }

    /// Runs a package script as DSM would: as the package user, inside the NAS namespace.
    fn script(&self, scripts: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let log = self.pkg().join("tmp/install.log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, "setpriv"])
            .arg(format!("--reuid={USER}"))
            .arg(format!("--regid={USER}"))
            .args(["--clear-groups", "env", "-i"])
            .arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .arg("SYNOPKG_PKGNAME=roost")
            .arg(format!("SYNOPKG_PKGDEST={}", self.target().display()))
            .arg(format!("SYNOPKG_PKGVAR={}", self.var().display()))
            .arg(format!(
                "SYNOPKG_PKGTMP={}",
                self.pkg().join("tmp").display()
            ))
            .arg(format!("SYNOPKG_TEMP_LOGFILE={}", log.display()))
            .arg("SYNOPKG_DSM_VERSION_MAJOR=7")
            .arg("ROOST_INSECURE_FAST_HASH=1");
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg("/bin/sh").arg(scripts.join(name)).args(args);
        sh(&mut cmd)
    }

    fn run_ok(&self, scripts: &Path, name: &str, env: &[(&str, &str)]) {
        let o = self.script(scripts, name, &[], env);
        assert!(
            o.status.success(),
            "{name}: {}\n{}\nlog: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(self.pkg().join("tmp/install.log")).unwrap_or_default()
        );
    }

    fn ctl(&self, scripts: &Path, action: &str) -> i32 {
        self.script(scripts, "start-stop-status", &[action], &[])
            .status
            .code()
            .unwrap_or(-1)
    }

    /// What Package Center does with an .spk before postinst: unpack package.tgz into target.
    fn unpack(&self, spk: &Path, into: &Path) -> PathBuf {
        std::fs::create_dir_all(into).unwrap();
        ok(Command::new("tar").arg("-xf").arg(spk).arg("-C").arg(into));
        into.join("scripts")
    }

    fn extract_payload(&self, unpacked: &Path) {
        let _ = std::fs::remove_dir_all(self.target());
        std::fs::create_dir_all(self.target()).unwrap();
        ok(Command::new("tar")
            .arg("-xzf")
            .arg(unpacked.join("package.tgz"))
            .arg("-C")
            .arg(self.target()));
        ok(Command::new("chown")
            .arg("-R")
            .arg(format!("{USER}:{USER}"))
            .arg(self.target()));
    }

    fn roost_root_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        sh(Command::new("ip")
            .args(["netns", "exec", &self.ns, "env"])
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(self.target().join("bin/roost"))
            .arg("--config")
            .arg(self.var().join("roost.toml"))
            .args(args))
    }

    /// `roost ARGS` as the package user, as DSM's scripts and control panel run it.
    fn roost_as_package_user(&self, args: &[&str]) -> String {
        ok(Command::new("ip")
            .args(["netns", "exec", &self.ns, "setpriv"])
            .arg(format!("--reuid={USER}"))
            .arg(format!("--regid={USER}"))
            .arg("--clear-groups")
            .arg(self.target().join("bin/roost"))
            .arg("--config")
            .arg(self.var().join("roost.toml"))
            .args(args))
    }

    /// A host on a second network behind the NAS, which routes between it and the LAN (as a
    /// NAS does for its containers, VMs and VPN clients); it listens on port 25 itself.
    /// Returns the listener, to be killed.
    fn add_outside(&mut self, tag: &str) -> std::process::Child {
        let id = std::process::id();
        let outside = format!("roost-out{tag}-{id}");
        ok(Command::new("ip").args(["netns", "add", &outside]));
        self.outside = Some(outside.clone());
        ok(Command::new("ip").args(["-n", &outside, "link", "set", "lo", "up"]));
        let (a, b) = (format!("ro{tag}{id}"), format!("rp{tag}{id}"));
        let (a, b) = (&a[..a.len().min(15)], &b[..b.len().min(15)]);
        ok(Command::new("ip").args(["link", "add", a, "type", "veth", "peer", "name", b]));
        ok(Command::new("ip").args(["link", "set", a, "netns", &self.ns]));
        ok(Command::new("ip").args(["link", "set", b, "netns", &outside]));
        ok(Command::new("ip").args(["-n", &self.ns, "addr", "add", "10.78.0.1/24", "dev", a]));
        ok(Command::new("ip").args([
            "-n",
            &outside,
            "addr",
            "add",
            &format!("{OUTSIDE_IP}/24"),
            "dev",
            b,
        ]));
        ok(Command::new("ip").args(["-n", &self.ns, "link", "set", a, "up"]));
        ok(Command::new("ip").args(["-n", &outside, "link", "set", b, "up"]));
        ok(Command::new("ip").args([
            "-n",
            &outside,
            "route",
            "add",
            "default",
            "via",
            "10.78.0.1",
        ]));
        ok(Command::new("ip").args(["-n", &self.client, "route", "add", "default", "via", NAS_IP]));
        ok(Command::new("ip").args([
            "netns",
            "exec",
            &self.ns,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
        ]));
        let mut child = Command::new("ip")
            .args(["netns", "exec", &outside, "/usr/bin/python3", "-c"])
            .arg(OUTSIDE_MX)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "up");
        child
    }

    /// What a LAN computer reads first from `ip`:25.
    fn lan_greeting(&self, ip: &str) -> String {
        let o = self.lan_python(&format!(
            "import socket\ns = socket.create_connection(('{ip}', 25), timeout=5)\n\
             print(s.makefile('rb').readline().decode().strip())"
        ));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// A script on the LAN computer (system Python).
    fn lan_python(&self, code: &str) -> Output {
        sh(Command::new("ip").args([
            "netns",
            "exec",
            &self.client,
            "/usr/bin/python3",
            "-c",
            code,
        ]))
    }
}

/// The packages of `version` (.spk and .deb), built once for both tests; the .spk's path.
fn build(version: &str) -> PathBuf {
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, spk)) = built.iter().find(|(v, p)| v == version && p.exists()) {
        return spk.clone();
    }
    let spk = build_now(version, &dist_dir());
    built.push((version.to_string(), spk.clone()));
    spk
}

/// Where the shared packages go; removed by the test process's last Nas (see Drop).
fn dist_dir() -> PathBuf {
    std::env::temp_dir().join(format!("roost-dist-{}", std::process::id()))
}

fn build_now(version: &str, dist: &Path) -> PathBuf {
    let lib = Path::new(common::roost_bin())
        .parent()
        .unwrap()
        .join("libroost.so");
    assert!(
        lib.exists(),
        "{} is missing: cargo build -p roost-ffi first (scripts/test does)",
        lib.display()
    );
    let out = ok(Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-package"),
    )
    .env("VERSION", version)
    .env("ROOST_BIN", common::roost_bin())
    .env("LIBROOST", &lib)
    .env("DIST", dist)
    .arg("--deb"));
    let made: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(
        made.len() == 2 && made.iter().all(|f| Path::new(f).exists()),
        "build-package made {made:?}"
    );
    PathBuf::from(made[0])
}

const SEND: &str = r#"
import smtplib, sys
s = smtplib.SMTP("10.77.0.1", 25, timeout=10)
s.ehlo("lan.test")
s.sendmail("friend@elsewhere.test", ["owner@family.test"],
           "From: friend@elsewhere.test\r\nTo: owner@family.test\r\nSubject: hello nas\r\n\r\nkept across upgrades\r\n")
s.quit()
print("sent")
"#;

const READ: &str = r#"
import imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("10.77.0.1", 143, timeout=10)
m.starttls(ssl_context=ctx)
m.login("owner@family.test", "wizard-password-1")
m.select("INBOX")
typ, data = m.search(None, "ALL")
for n in data[0].split():
    typ, msg = m.fetch(n, "(BODY[HEADER.FIELDS (SUBJECT)])")
    print(msg[0][1].decode().strip())
m.logout()
"#;

fn assert_mail_readable(nas: &Nas) {
    let o = nas.lan_python(READ);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("Subject: hello nas"),
        "IMAP on 143 from the LAN: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn spk_installs_upgrades_and_uninstalls_in_a_nas_namespace() {
    let nas = Nas::new("s", true);
    let v1 = build("0.1.0-1");
    assert!(
        v1.ends_with(format!("roost-{}-0.1.0-1.spk", arch())),
        "{}",
        v1.display()
    );
    let listing = ok(Command::new("tar").arg("-tf").arg(&v1));
    for entry in [
        "INFO",
        "package.tgz",
        "scripts/postinst",
        "scripts/start-stop-status",
        "conf/privilege",
        "conf/resource",
        "WIZARD_UIFILES/install_uifile",
        "WIZARD_UIFILES/uninstall_uifile",
        "LICENSE",
        "PACKAGE_ICON.PNG",
        "PACKAGE_ICON_256.PNG",
    ] {
        assert!(
            listing.lines().any(|l| l.trim_start_matches("./") == entry),
            "{entry} in {listing}"
        );
    }
    let unpacked = nas.root.join("spk1");
    let scripts = nas.unpack(&v1, &unpacked);
    let info = std::fs::read_to_string(unpacked.join("INFO")).unwrap();
    for key in [
        "package=\"roost\"",
        "version=\"0.1.0-1\"",
        "os_min_ver=",
        "maintainer=",
        "arch=",
        "description=",
        "dsmuidir=\"ui\"",
        "install_conflict_packages=\"MailPlus-Server MailServer\"",
        "checksum=",
    ] {
        assert!(info.contains(key), "INFO has {key}: {info}");
    }
    let sum = ok(Command::new("md5sum").arg(unpacked.join("package.tgz")));
    assert!(
        info.contains(&format!("checksum=\"{}\"", &sum[..32])),
        "checksum matches"
    );

    let wizard = [
        ("SYNOPKG_PKG_STATUS", "INSTALL"),
        ("SYNOPKG_PKGVER", "0.1.0-1"),
        ("wizard_domain", "family.test"),
        ("wizard_hostname", "mail.family.test"),
        ("wizard_account", ACCOUNT),
        ("wizard_password", PASSWORD),
        ("wizard_data_dir", ""),
    ];
    // preinst only checks: a mail port already taken stops the install with its holder named.
    let mut squatter = Command::new("ip")
        .args(["netns", "exec", &nas.ns, "/usr/bin/python3", "-c"])
        .arg("import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 10110)); s.listen(); print('up', flush=True); time.sleep(30)")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(squatter.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let refused = nas.script(&scripts, "preinst", &[], &wizard);
    let _ = squatter.kill();
    let _ = squatter.wait();
    let shown = std::fs::read_to_string(nas.pkg().join("tmp/install.log")).unwrap_or_default();
    assert!(!refused.status.success(), "preinst refuses a taken port");
    assert!(
        shown.contains("Port 10110 is already in use by a program running as root"),
        "{shown}"
    );
    let _ = std::fs::remove_file(nas.pkg().join("tmp/install.log"));
    assert!(
        !nas.var().join("roost.toml").exists(),
        "preinst changed nothing"
    );

    nas.run_ok(&scripts, "preinst", &wizard);
    nas.extract_payload(&unpacked);
    nas.run_ok(&scripts, "postinst", &wizard);
    assert!(
        nas.var().join("data/roost.db").exists(),
        "store initialised in var"
    );
    let shown = std::fs::read_to_string(nas.pkg().join("tmp/install.log")).unwrap_or_default();
    assert!(
        shown.contains("boot-up task") && shown.contains("firewall register"),
        "the installer tells how to map the standard ports: {shown}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&nas.var()), 0o700, "var is the package user's alone");
    assert_eq!(mode(&nas.var().join("data/roost.db")), 0o600);
    let sc = std::fs::read_to_string(nas.target().join("roost.sc")).unwrap();
    assert!(
        sc.contains("dst.ports=\"25/tcp\"") && sc.contains("port_forward=\"yes\""),
        "{sc}"
    );
    assert_eq!(nas.ctl(&scripts, "status"), 3, "installed, not started");
    assert_eq!(
        nas.ctl(&scripts, "start"),
        0,
        "start: {}",
        std::fs::read_to_string(nas.var().join("roost.log")).unwrap_or_default()
    );
    assert_eq!(nas.ctl(&scripts, "status"), 0);
    assert_eq!(daemon_user(&nas.var()), USER, "runs as the package user");

    // Before any rule, the standard ports do not reach Roost, and `roost status` says so.
    let st = nas.roost_as_package_user(&["status"]);
    assert!(st.contains("Firewall: missing: port 25"), "{st}");
    // DSM has iptables, not nft: the boot-up task README describes (a root task in DSM's
    // Task Scheduler), played by the harness as root.
    let dsm = [("ROOST_FIREWALL", "iptables")];
    let reg = nas.roost_root_env(&dsm, &["firewall", "register"]);
    assert!(
        reg.status.success(),
        "{}",
        String::from_utf8_lossy(&reg.stderr)
    );
    let rules = ok(Command::new("ip").args([
        "netns", "exec", &nas.ns, "iptables", "-w", "-t", "nat", "-S", "ROOST",
    ]));
    assert!(
        rules.contains("--dport 25 -j REDIRECT --to-ports 10025")
            && rules.contains("--dport 143 -j REDIRECT --to-ports 10143"),
        "{rules}"
    );
    let jumps = ok(Command::new("ip").args([
        "netns",
        "exec",
        &nas.ns,
        "iptables",
        "-w",
        "-t",
        "nat",
        "-S",
        "PREROUTING",
    ]));
    assert!(jumps.contains("--dst-type LOCAL -j ROOST"), "{jumps}");
    // Registering again (every boot) leaves one set of rules.
    assert!(
        nas.roost_root_env(&dsm, &["firewall", "register"])
            .status
            .success()
    );
    let again = ok(Command::new("ip").args([
        "netns", "exec", &nas.ns, "iptables", "-w", "-t", "nat", "-S",
    ]));
    assert_eq!(again.matches("-j ROOST").count(), 2, "{again}");
    let st = nas.roost_as_package_user(&["status"]);
    assert!(st.contains("Firewall: ok"), "{st}");

    // A computer on the LAN: SMTP on 25 and IMAP on 143 reach Roost.
    let o = nas.lan_python(SEND);
    assert!(
        o.status.success(),
        "SMTP on 25: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_mail_readable(&nas);

    // Service control with DSM's exit codes.
    assert_eq!(nas.ctl(&scripts, "stop"), 0);
    assert_eq!(nas.ctl(&scripts, "status"), 3);
    assert_eq!(nas.ctl(&scripts, "start"), 0);
    let pid = std::fs::read_to_string(nas.var().join("roost.pid")).unwrap();
    ok(Command::new("kill").args(["-KILL", pid.trim()]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        nas.ctl(&scripts, "status"),
        1,
        "dead with its pid file left"
    );
    assert_eq!(nas.ctl(&scripts, "start"), 0);
    assert_eq!(nas.ctl(&scripts, "log"), 0);

    // Upgrade to a newer build, in DSM's order.
    let v2 = build("0.1.0-2");
    let unpacked2 = nas.root.join("spk2");
    let scripts2 = nas.unpack(&v2, &unpacked2);
    let up = [
        ("SYNOPKG_PKG_STATUS", "UPGRADE"),
        ("SYNOPKG_OLD_PKGVER", "0.1.0-1"),
        ("SYNOPKG_PKGVER", "0.1.0-2"),
    ];
    assert_eq!(nas.ctl(&scripts, "stop"), 0);
    nas.run_ok(&scripts2, "preupgrade", &up);
    nas.run_ok(&scripts, "preuninst", &up);
    nas.run_ok(&scripts, "postuninst", &up);
    nas.run_ok(&scripts2, "preinst", &up);
    nas.extract_payload(&unpacked2);
    nas.run_ok(&scripts2, "postinst", &up);
    nas.run_ok(&scripts2, "postupgrade", &up);
    assert_eq!(nas.ctl(&scripts2, "start"), 0);
    assert_mail_readable(&nas);
    let backups: Vec<_> = std::fs::read_dir(nas.var().join("backup"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        !backups.is_empty(),
        "the database was backed up before the new version opened it"
    );
    assert!(nas.var().join("data/tls").exists(), "certificates kept");

    // Uninstall, keeping the mail.
    let un = [
        ("SYNOPKG_PKG_STATUS", "UNINSTALL"),
        ("wizard_keep_data", "true"),
        ("wizard_remove_data", "false"),
    ];
    assert_eq!(nas.ctl(&scripts2, "stop"), 0);
    nas.run_ok(&scripts2, "preuninst", &un);
    nas.run_ok(&scripts2, "postuninst", &un);
    let unreg = nas.roost_root_env(&dsm, &["firewall", "unregister"]);
    assert!(
        unreg.status.success(),
        "{}",
        String::from_utf8_lossy(&unreg.stderr)
    );
    std::fs::remove_dir_all(nas.target()).unwrap();
    let gone = sh(Command::new("ip").args([
        "netns", "exec", &nas.ns, "iptables", "-w", "-t", "nat", "-S", "ROOST",
    ]));
    assert!(!gone.status.success(), "the rules are gone");
    let left = ok(Command::new("ip").args([
        "netns", "exec", &nas.ns, "iptables", "-w", "-t", "nat", "-S",
    ]));
    assert!(!left.contains("ROOST"), "no jump left behind: {left}");
    assert!(nas.var().join("data/roost.db").exists(), "mail kept");
    assert!(nas.var().join("roost.toml").exists(), "settings kept");

    // Had the uninstall wizard said "remove them for good", the mail would be gone too.
    let remove = [
        ("SYNOPKG_PKG_STATUS", "UNINSTALL"),
        ("wizard_keep_data", "false"),
        ("wizard_remove_data", "true"),
    ];
    nas.run_ok(&scripts2, "postuninst", &remove);
    assert!(!nas.var().join("data").exists(), "mail removed on request");
    assert!(
        !nas.var().join("roost.toml").exists(),
        "settings removed on request"
    );
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "armv8",
        other => other,
    }
}

/// The .deb for Debian-based NAS systems, installed with dpkg inside the NAS namespace (so
/// that its nftables rules and its daemon live there), checked the same way.
#[test]
fn deb_installs_upgrades_and_removes_in_a_nas_namespace() {
    let mut nas = Nas::new("d", false);
    let _purge = Purge(nas.ns.clone());
    let dist = dist_dir();
    build("0.1.0-1");
    let deb = |v: &str| dist.join(format!("roost_{v}_{}.deb", debarch()));
    let ns = nas.ns.clone();
    let dpkg = |args: &[&str], file: Option<&Path>| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns, "env"])
            .arg("ROOST_INIT=script")
            .arg("ROOST_INSECURE_FAST_HASH=1")
            .arg("ROOST_DOMAIN=family.test")
            .arg("ROOST_HOSTNAME=mail.family.test")
            .arg(format!("ROOST_ACCOUNT={ACCOUNT}"))
            .arg(format!("ROOST_PASSWORD={PASSWORD}"))
            .arg("dpkg")
            .args(args);
        if let Some(f) = file {
            cmd.arg(f);
        }
        ok(&mut cmd)
    };
    dpkg(&["-i"], Some(&deb("0.1.0-1")));
    let var = Path::new("/var/packages/roost/var");
    assert!(var.join("data/roost.db").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(var), 0o700, "var is the package user's alone");
    assert_eq!(mode(&var.join("data")), 0o700);
    assert_eq!(mode(&var.join("data/roost.db")), 0o600);
    let rules = ok(Command::new("ip").args([
        "netns", "exec", &nas.ns, "nft", "list", "table", "inet", "roost",
    ]));
    assert!(rules.contains("tcp dport 25 redirect to :10025"), "{rules}");
    assert_eq!(daemon_user(var), "roost", "runs as the package user");
    let o = nas.lan_python(SEND);
    assert!(
        o.status.success(),
        "SMTP on 25: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_mail_readable(&nas);

    // A connection the NAS routes to another server's port 25 keeps its destination; one to
    // the NAS's own port 25 reaches Roost.
    let mut outside = nas.add_outside("d");
    assert_eq!(nas.lan_greeting(OUTSIDE_IP), "220 outside ESMTP");
    assert!(
        nas.lan_greeting(NAS_IP).contains("ESMTP Roost"),
        "{}",
        nas.lan_greeting(NAS_IP)
    );
    let status = |nas: &Nas| {
        ok(Command::new("ip").args([
            "netns",
            "exec",
            &nas.ns,
            "/usr/bin/roost",
            "--config",
            "/var/packages/roost/var/roost.toml",
            "status",
        ]))
    };
    assert!(status(&nas).contains("Firewall: ok"), "{}", status(&nas));
    // The rules come back after a flush of the whole ruleset and a start of the package.
    ok(Command::new("ip").args(["netns", "exec", &nas.ns, "nft", "flush", "ruleset"]));
    assert_eq!(
        nas.lan_greeting(NAS_IP),
        "",
        "no redirect: port 25 is closed"
    );
    assert!(
        status(&nas).contains("Firewall: missing"),
        "{}",
        status(&nas)
    );
    ok(Command::new("ip").args([
        "netns",
        "exec",
        &nas.ns,
        "env",
        "ROOST_INIT=script",
        "ROOST_INSECURE_FAST_HASH=1",
        "/etc/init.d/roost",
        "restart",
    ]));
    assert!(nas.lan_greeting(NAS_IP).contains("ESMTP Roost"));
    assert_eq!(nas.lan_greeting(OUTSIDE_IP), "220 outside ESMTP");
    assert!(status(&nas).contains("Firewall: ok"), "{}", status(&nas));
    let _ = outside.kill();
    let _ = outside.wait();

    build("0.1.0-2");
    dpkg(&["-i"], Some(&deb("0.1.0-2")));
    assert_mail_readable(&nas);
    assert!(
        std::fs::read_dir(var.join("backup"))
            .unwrap()
            .next()
            .is_some(),
        "database backed up"
    );

    dpkg(&["-r", "roost"], None);
    let gone = sh(Command::new("ip").args([
        "netns", "exec", &nas.ns, "nft", "list", "table", "inet", "roost",
    ]));
    assert!(!gone.status.success(), "the rules are gone");
    assert!(
        !Path::new("/var/packages/roost/target/bin/roost").exists(),
        "the program is gone"
    );
    assert!(var.join("data/roost.db").exists(), "remove keeps the mail");
    dpkg(&["--purge", "roost"], None);
    assert!(
        !Path::new("/var/packages/roost").exists(),
        "purge removes the rest"
    );
    assert!(
        !sh(Command::new("id").arg("roost")).status.success(),
        "and the user"
    );
}

/// Purges the .deb if a failed test left it installed.
struct Purge(String);

impl Drop for Purge {
    fn drop(&mut self) {
        let installed = Command::new("dpkg")
            .args(["-s", "roost"])
            .output()
            .is_ok_and(|o| o.status.success());
        if installed {
            let _ = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.0,
                    "env",
                    "ROOST_INIT=script",
                    "dpkg",
                    "--purge",
                    "roost",
                ])
                .status();
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", "roost"])
            .status();
    }
}

fn debarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The user the daemon whose pid file is in `var` runs as.
fn daemon_user(var: &Path) -> String {
    let pid = std::fs::read_to_string(var.join("roost.pid")).unwrap();
    ok(Command::new("ps").args(["-o", "user=", "-p", pid.trim()]))
        .trim()
        .to_string()
}
