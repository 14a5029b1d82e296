//! Look-ups whose DNSSEC status matters (DANE): the query asks the resolver to validate (EDNS
//! DO, and the AD bit set in the query, RFC 6840 5.7) and the answer's AD bit says whether it
//! did. Roost does not check signatures itself: like Postfix's `smtp_dns_support_level =
//! dnssec` it believes the resolver it is configured with, so DANE needs a validating
//! resolver (unbound on the box, or a router that validates). Without one every answer is
//! "insecure" and delivery is what it would be without DANE.

use crate::config::{DnsConfig, parse_nameserver};
use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the resolver said about one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The records of the type asked for (following any CNAME the resolver chased).
    pub records: Vec<RData>,
    /// The resolver validated the answer (AD): records, or their proven absence.
    pub secure: bool,
    /// The name the records belong to when the resolver followed CNAMEs to it.
    pub canonical: Option<String>,
}

pub struct SecureDns {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

/// EDNS payload that avoids IP fragmentation (the DNS flag day 2020 figure).
const PAYLOAD: u16 = 1232;

impl SecureDns {
    pub fn new(cfg: &DnsConfig, timeout: Duration) -> SecureDns {
        let servers = if cfg.nameservers.is_empty() {
            system_servers()
        } else {
            cfg.nameservers
                .iter()
                .filter_map(|n| parse_nameserver(n).ok())
                .collect()
        };
        SecureDns { servers, timeout }
    }

    /// Asks each name server in turn until one answers; NXDOMAIN and NODATA are answers (with
    /// no records), SERVFAIL (which a validating resolver gives for a bogus answer), time-outs
    /// and garbage are not.
    pub async fn query(&self, name: &str, kind: RecordType) -> Result<Answer, String> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let name = Name::from_ascii(&fqdn).map_err(|e| format!("{fqdn}: {e}"))?;
        let mut errors = Vec::new();
        for server in &self.servers {
            match tokio::time::timeout(self.timeout, ask(*server, &name, kind)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => errors.push(format!("{server}: {e}")),
                Err(_) => errors.push(format!("{server}: timed out")),
            }
        }
        if errors.is_empty() {
            return Err("no name server configured".into());
        }
        Err(errors.join("; "))
    }
}

fn system_servers() -> Vec<SocketAddr> {
    let Ok((config, _)) = hickory_resolver::system_conf::read_system_conf() else {
        return Vec::new();
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
        let addr = SocketAddr::new(ns.ip, port);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

fn request(name: &Name, kind: RecordType) -> Result<(u16, Vec<u8>), String> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.metadata.authentic_data = true;
    m.add_query(Query::query(name.clone(), kind));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(PAYLOAD);
    m.set_edns(edns);
    let bytes = m.to_vec().map_err(|e| e.to_string())?;
    Ok((m.metadata.id, bytes))
}

/// One question to one server: UDP, and TCP again when the answer was truncated.
async fn ask(server: SocketAddr, name: &Name, kind: RecordType) -> Result<Answer, String> {
    let (id, bytes) = request(name, kind)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|_| "bind address".to_string())?;
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&bytes).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_535];
    let reply = loop {
        let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
        // A stray or spoofed datagram with another id is not the answer.
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == id => break m,
            _ => continue,
        }
    };
    let reply = if reply.metadata.truncation {
        ask_tcp(server, id, &bytes).await?
    } else {
        reply
    };
    judge(&reply, name, kind)
}

async fn ask_tcp(server: SocketAddr, id: u16, bytes: &[u8]) -> Result<Message, String> {
    let mut tcp = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    let len = u16::try_from(bytes.len()).map_err(|_| "query too long".to_string())?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    tcp.write_all(&framed).await.map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    let m = Message::from_vec(&buf).map_err(|e| e.to_string())?;
    if m.metadata.id != id {
        return Err("answer to another question".into());
    }
    Ok(m)
}

/// The answer as DANE needs it, from a reply to our question.
fn judge(reply: &Message, name: &Name, kind: RecordType) -> Result<Answer, String> {
    let asked = reply
        .queries
        .first()
        .is_some_and(|q| q.query_type() == kind && q.name() == name);
    if !asked {
        return Err("answer to another question".into());
    }
    let secure = reply.metadata.authentic_data;
    match reply.metadata.response_code {
        ResponseCode::NoError => Ok(Answer {
            records: reply
                .answers
                .iter()
                .filter(|r| r.record_type() == kind)
                .map(|r| r.data.clone())
                .collect(),
            secure,
            canonical: canonical(reply, name),
        }),
        ResponseCode::NXDomain => Ok(Answer {
            records: Vec::new(),
            secure,
            canonical: None,
        }),
        other => Err(format!("{other}")),
    }
}

/// Where the answer's CNAME chain from `name` ends, if it has one (at most 16 links).
fn canonical(reply: &Message, name: &Name) -> Option<String> {
    let mut at = name.clone();
    let mut followed = false;
    for _ in 0..16 {
        let next = reply.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == at => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => {
                at = n;
                followed = true;
            }
            None => break,
        }
    }
    followed.then(|| at.to_ascii().trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::A;

    fn reply_to(name: &Name, kind: RecordType, ad: bool, code: ResponseCode) -> Message {
        let mut m = Message::response(7, hickory_resolver::proto::op::OpCode::Query);
        m.add_query(Query::query(name.clone(), kind));
        m.metadata.authentic_data = ad;
        m.metadata.response_code = code;
        m
    }

    #[test]
    fn answers_are_judged_by_their_ad_bit_and_code() {
        let name = Name::from_ascii("mx.example.").unwrap();
        let mut m = reply_to(&name, RecordType::A, true, ResponseCode::NoError);
        m.add_answer(Record::from_rdata(
            name.clone(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        let a = judge(&m, &name, RecordType::A).unwrap();
        assert!(a.secure && a.records.len() == 1 && a.canonical.is_none());
        let alias = Name::from_ascii("smtp.example.").unwrap();
        let mut c = reply_to(&alias, RecordType::A, true, ResponseCode::NoError);
        c.add_answer(Record::from_rdata(
            alias.clone(),
            60,
            RData::CNAME(hickory_resolver::proto::rr::rdata::CNAME(name.clone())),
        ));
        c.add_answer(Record::from_rdata(
            name.clone(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        let a = judge(&c, &alias, RecordType::A).unwrap();
        assert_eq!(a.canonical.as_deref(), Some("mx.example"));
        assert_eq!(a.records.len(), 1);
        // Records of another type (a CNAME on the way) are not the answer.
        let a = judge(&m, &name, RecordType::TLSA).unwrap_err();
        assert!(a.contains("another question"), "{a}");
        let m = reply_to(&name, RecordType::TLSA, false, ResponseCode::NXDomain);
        let a = judge(&m, &name, RecordType::TLSA).unwrap();
        assert!(!a.secure && a.records.is_empty());
        let m = reply_to(&name, RecordType::TLSA, false, ResponseCode::ServFail);
        assert!(judge(&m, &name, RecordType::TLSA).is_err());
        let other = Name::from_ascii("elsewhere.example.").unwrap();
        assert!(judge(&m, &other, RecordType::TLSA).is_err());
    }

    #[test]
    fn queries_ask_for_validation() {
        let name = Name::from_ascii("_25._tcp.mx.example.").unwrap();
        let (id, bytes) = request(&name, RecordType::TLSA).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, id);
        assert!(m.metadata.authentic_data && m.metadata.recursion_desired);
        assert!(m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
    }
}
