//! A real DNS server for the tests: Debian's dnsmasq on a loopback port, answering only from
//! the zone the test gives it (every other name: NXDOMAIN), so nothing leaves the machine.

use super::TempDir;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

#[derive(Default, Clone)]
pub struct Zone {
    lines: Vec<String>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }
    pub fn mx(mut self, domain: &str, host: &str, pref: u16) -> Zone {
        self.lines.push(format!("mx-host={domain},{host},{pref}"));
        self
    }
    pub fn null_mx(mut self, domain: &str) -> Zone {
        self.lines.push(format!("mx-host={domain},.,0"));
        self
    }
    pub fn a(mut self, name: &str, ip: &str) -> Zone {
        self.lines.push(format!("host-record={name},{ip}"));
        self
    }
    /// A PTR for `ip` (overrides the one host-record makes).
    pub fn ptr(mut self, ip: &str, name: &str) -> Zone {
        let rev: Vec<&str> = ip.split('.').rev().collect();
        self.lines
            .push(format!("ptr-record={}.in-addr.arpa,{name}", rev.join(".")));
        self
    }
    /// TXT, split into strings of at most 255 bytes.
    pub fn txt(mut self, name: &str, text: &str) -> Zone {
        let parts: Vec<String> = text
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        self.lines
            .push(format!("txt-record={name},{}", parts.join(",")));
        self
    }
}

pub struct DnsServer {
    pub addr: SocketAddr,
    child: Option<Child>,
    dir: TempDir,
}

impl DnsServer {
    /// Picks the address now so that configurations can name it before the zone is known:
    /// port 53 of an address of its own (127.0.53.N), where nothing else of the tests binds;
    /// an ephemeral port when that is taken (a system DNS server on the wildcard address).
    pub fn reserve() -> DnsServer {
        static N: AtomicU8 = AtomicU8::new(1);
        let ip = Ipv4Addr::new(127, 0, 53, N.fetch_add(1, Ordering::Relaxed));
        let free = UdpSocket::bind((ip, 53)).is_ok() && TcpListener::bind((ip, 53)).is_ok();
        let addr = if free {
            SocketAddr::from((ip, 53))
        } else {
            UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap()
        };
        DnsServer {
            addr,
            child: None,
            dir: TempDir::new("dns"),
        }
    }

    pub fn start(zone: &Zone) -> DnsServer {
        let mut d = DnsServer::reserve();
        d.serve(zone);
        d
    }

    /// Starts (or restarts with a new zone) dnsmasq.
    pub fn serve(&mut self, zone: &Zone) {
        self.stop();
        let conf = self.dir.0.join("dnsmasq.conf");
        let mut text = format!(
            "no-resolv\nno-hosts\nno-poll\nbind-interfaces\nlisten-address={}\nport={}\n\
             local=/test/\nlocal=/example/\nlocal=/arpa/\n",
            self.addr.ip(),
            self.addr.port()
        );
        for l in &zone.lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&conf, text).unwrap();
        let child = Command::new("dnsmasq")
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", conf.display()))
            .arg("--pid-file=")
            .arg("--user=root")
            .arg(format!(
                "--log-facility={}",
                self.dir.0.join("dnsmasq.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.0.join("stderr")).unwrap(),
            ))
            .spawn()
            .expect("dnsmasq (Debian package dnsmasq-base)");
        self.child = Some(child);
        // dnsmasq also answers over TCP on the same port: ready when that accepts.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "dnsmasq did not start: {}",
                std::fs::read_to_string(self.dir.0.join("stderr")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `dns.nameservers` for a Roost configuration.
    pub fn config(&self) -> String {
        format!("[dns]\nnameservers = [\"{}\"]\n", self.addr)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
