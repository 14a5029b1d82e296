//! A DNSSEC-signed zone for the tests: Debian's nsd serves it as ldns-signzone signed it, and
//! unbound validates it against the zone's own key (its only trust anchor), answering with the
//! AD bit; unsigned zones served beside it are answered as insecure. Nothing is asked off the
//! machine: unbound refuses every name outside the test zones, and its root hints point at nsd.

use super::TempDir;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SignedDns {
    nsd: Child,
    unbound: Child,
    resolver: String,
    _dir: TempDir,
}

/// A zone: its name and its records, one per line in zone-file syntax with absolute names.
pub struct ZoneFile<'a> {
    pub name: &'a str,
    pub records: &'a [String],
}

impl SignedDns {
    /// nsd on port 53 of `nsd_ip` with `signed` signed and `unsigned` as they are, unbound on
    /// port 53 of `resolver_ip`. Each record of `signed` whose owner is in `tamper` is changed
    /// after signing, so that its signature no longer matches (a bogus answer).
    pub fn start(
        nsd_ip: &str,
        resolver_ip: &str,
        signed: ZoneFile<'_>,
        unsigned: &[ZoneFile<'_>],
        tamper: &[&str],
    ) -> SignedDns {
        let dir = TempDir::new("dnssec");
        let d = &dir.0;
        write_zone(d, nsd_ip, &signed);
        for z in unsigned {
            write_zone(d, nsd_ip, z);
        }
        let key = run(
            d,
            "ldns-keygen",
            &["-a", "ECDSAP256SHA256", "-k", signed.name],
        );
        let key = key.trim();
        run(
            d,
            "ldns-signzone",
            &["-f", &format!("{}.signed", signed.name), signed.name, key],
        );
        let signed_path = d.join(format!("{}.signed", signed.name));
        let text = std::fs::read_to_string(&signed_path).unwrap();
        let text: Vec<String> = text.lines().map(|l| tampered(l, tamper)).collect();
        std::fs::write(&signed_path, text.join("\n") + "\n").unwrap();

        let mut zones = format!("zone:\n  name: {0}\n  zonefile: {0}.signed\n", signed.name);
        let mut stubs = format!(
            "  local-zone: \"{0}.\" transparent\nstub-zone:\n  name: \"{0}\"\n  stub-addr: {nsd_ip}\n",
            signed.name
        );
        for z in unsigned {
            zones.push_str(&format!("zone:\n  name: {0}\n  zonefile: {0}\n", z.name));
            stubs.push_str(&format!(
                "server:\n  local-zone: \"{0}.\" transparent\nstub-zone:\n  name: \"{0}\"\n  stub-addr: {nsd_ip}\n",
                z.name
            ));
        }
        let p = d.display();
        std::fs::write(
            d.join("nsd.conf"),
            format!(
                "server:\n  ip-address: {nsd_ip}\n  port: 53\n  zonesdir: \"{p}\"\n  username: \"\"\n\
                 \x20 chroot: \"\"\n  pidfile: \"{p}/nsd.pid\"\n  database: \"\"\n\
                 \x20 zonelistfile: \"{p}/zone.list\"\n  xfrdfile: \"{p}/xfrd.state\"\n\
                 \x20 xfrdir: \"{p}\"\n  logfile: \"{p}/nsd.log\"\n\
                 remote-control:\n  control-enable: no\n{zones}"
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("root.hints"),
            format!(
                ". 3600 IN NS ns.{0}.\nns.{0}. 3600 IN A {nsd_ip}\n",
                signed.name
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("unbound.conf"),
            format!(
                "server:\n  interface: {resolver_ip}\n  port: 53\n  do-ip6: no\n\
                 \x20 do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n\
                 \x20 chroot: \"\"\n  username: \"\"\n  directory: \"{p}\"\n\
                 \x20 pidfile: \"{p}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{p}/unbound.log\"\n\
                 \x20 val-log-level: 2\n  root-hints: \"{p}/root.hints\"\n\
                 \x20 trust-anchor-file: \"{p}/{key}.key\"\n  module-config: \"validator iterator\"\n\
                 \x20 local-zone: \".\" refuse\n{stubs}remote-control:\n  control-enable: no\n"
            ),
        )
        .unwrap();
        let nsd = spawn(d, "/usr/sbin/nsd", &["-d", "-c", "nsd.conf"]);
        let unbound = spawn(d, "/usr/sbin/unbound", &["-d", "-c", "unbound.conf"]);
        let dns = SignedDns {
            nsd,
            unbound,
            resolver: resolver_ip.to_string(),
            _dir: dir,
        };
        for ip in [nsd_ip, resolver_ip] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect((ip, 53)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "no DNS server came up on {ip}:53"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        dns
    }

    /// The [dns] table that makes Roost ask the validating resolver.
    pub fn config(&self) -> String {
        format!("[dns]\nnameservers = [\"{}\"]\n", self.resolver)
    }
}

impl Drop for SignedDns {
    fn drop(&mut self) {
        for child in [&mut self.nsd, &mut self.unbound] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn write_zone(dir: &Path, nsd_ip: &str, z: &ZoneFile<'_>) {
    let name = z.name;
    let mut text = format!(
        "$TTL 300\n{name}. IN SOA ns.{name}. admin.{name}. 1 3600 600 86400 300\n\
         {name}. IN NS ns.{name}.\nns.{name}. IN A {nsd_ip}\n"
    );
    for r in z.records {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(dir.join(name), text).unwrap();
}

/// The line with its record's data changed (last hex digit flipped) when its owner is one of
/// `tamper` and it is not a signature.
fn tampered(line: &str, tamper: &[&str]) -> String {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let hit = fields
        .first()
        .is_some_and(|owner| tamper.iter().any(|t| owner.trim_end_matches('.') == *t));
    if !hit || fields.get(3).is_none_or(|t| *t == "RRSIG" || *t == "NSEC") {
        return line.to_string();
    }
    let mut s = line.trim_end().to_string();
    let last = s.pop().unwrap_or('0');
    s.push(if last == '0' { '1' } else { '0' });
    s
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn spawn(dir: &Path, program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}
