//! DNS block and allow lists (RFC 5782): the client's address, reversed, under each list's
//! zone; an answer in 127.0.0.0/8 means listed. Answers in 127.255.255.0/24 are the lists'
//! "query refused" codes (Spamhaus answers them to public resolvers and to over-use), and
//! answers outside 127/8 come from resolvers that invent addresses for unknown names: both
//! count as not listed and are logged, so that a refusing list never blocks everyone.

use super::cache::DnsCache;
use crate::config::DnsList;
use futures_util::future::join_all;
use mail_auth::{DnsError, Error, MessageAuthenticator};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

/// What one list said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Listed(Ipv4Addr),
    NotListed,
    /// The list refused to answer (127.255.255.x) or the answer made no sense.
    Refused(Ipv4Addr),
    /// DNS failed: no verdict.
    Failed(String),
}

/// The lists' verdict on a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    /// (zone, answer) of every list that listed the client.
    pub listed: Vec<(String, Ipv4Addr)>,
}

/// The name to look up: "2.0.0.127.zen.spamhaus.org", or 32 reversed nibbles for IPv6.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let mut name = String::new();
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let _ = write!(name, "{}.{}.{}.{}.", o[3], o[2], o[1], o[0]);
        }
        IpAddr::V6(v6) => {
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0xf, byte >> 4);
            }
        }
    }
    name.push_str(zone.trim_end_matches('.'));
    name
}

/// The meaning of a list's A records.
pub fn classify(answers: &[Ipv4Addr]) -> Answer {
    let Some(first) = answers.first() else {
        return Answer::NotListed;
    };
    for a in answers {
        let o = a.octets();
        if o[0] != 127 || (o[1] == 255 && o[2] == 255) {
            return Answer::Refused(*a);
        }
    }
    Answer::Listed(*first)
}

/// Asks one list, through the cache.
pub async fn ask(auth: &MessageAuthenticator, cache: &DnsCache, ip: IpAddr, zone: &str) -> Answer {
    let name = query_name(ip, zone);
    match auth.ipv4_lookup(name.as_str(), Some(&cache.ipv4)).await {
        Ok(set) => classify(&set.rrset),
        // The checks' resolver keeps this answer a minute (`Dns::for_checks`).
        Err(Error::Dns(DnsError::RecordNotFound(_))) => Answer::NotListed,
        Err(e) => Answer::Failed(e.to_string()),
    }
}

/// Asks every list at once and adds up the weights of those that list the client.
pub async fn check(
    auth: &MessageAuthenticator,
    cache: &DnsCache,
    lists: &[DnsList],
    ip: IpAddr,
) -> Verdict {
    let answers = join_all(lists.iter().map(|l| ask(auth, cache, ip, &l.zone))).await;
    let mut v = Verdict {
        score: 0.0,
        listed: Vec::new(),
    };
    for (list, answer) in lists.iter().zip(answers) {
        match answer {
            Answer::Listed(a) => {
                v.score += list.weight;
                v.listed.push((list.zone.clone(), a));
            }
            Answer::NotListed => {}
            Answer::Refused(a) => tracing::warn!(
                zone = %list.zone,
                answer = %a,
                "the DNS list refused the query (its answer for public resolvers or over-use): \
                 not counted; use your own resolver or remove the list"
            ),
            Answer::Failed(e) => {
                tracing::info!(zone = %list.zone, client = %ip, error = %e, "DNS list did not answer")
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reversed() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "zen.spamhaus.org"),
            "99.2.0.192.zen.spamhaus.org"
        );
        let v6 = query_name("2001:db8::1".parse().unwrap(), "list.test.");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0"), "{v6}");
        assert!(v6.ends_with(".8.b.d.0.1.0.0.2.list.test"), "{v6}");
        // An IPv4 client on an IPv6 socket is asked as IPv4.
        assert_eq!(
            query_name("::ffff:192.0.2.1".parse().unwrap(), "l.test"),
            "1.2.0.192.l.test"
        );
    }

    #[test]
    fn refusal_codes_and_invented_answers_do_not_list() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            classify(&[ip("127.0.0.2")]),
            Answer::Listed(ip("127.0.0.2"))
        );
        assert_eq!(classify(&[]), Answer::NotListed);
        assert!(matches!(
            classify(&[ip("127.255.255.254")]),
            Answer::Refused(_)
        ));
        assert!(matches!(
            classify(&[ip("93.184.216.34")]),
            Answer::Refused(_)
        ));
    }
}
