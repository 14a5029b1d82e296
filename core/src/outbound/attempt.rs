//! One destination's share of the queue on one connection: connect to the best host that
//! answers, send each message's recipients in one transaction, reuse the connection for the
//! next message, and move on to the next host when one fails or answers 4xx.

use super::dane::HostPolicy;
use super::route::{Destination, Host, NoRoute};
use crate::config::Config;
use crate::dns::Dns;
use crate::outbound::client::{Client, ClientError, Reply, Security, Timeouts, Verification};
use crate::store::QueueEntry;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Recipients of one queue entry bound for one destination.
pub struct Job {
    pub entry: Arc<QueueEntry>,
    pub rcpts: Vec<String>,
}

/// What happened to one recipient in this attempt.
#[derive(Debug, Clone)]
pub enum Result {
    Delivered {
        host: String,
        reply: String,
    },
    Failed {
        status: String,
        diagnostic: String,
        host: Option<String>,
    },
    Deferred {
        diagnostic: String,
        host: Option<String>,
    },
}

/// A destination's connection, kept open across messages.
pub struct Session<'a> {
    dns: &'a Dns,
    cfg: &'a Config,
    hosts: Vec<Host>,
    /// The host being used or tried next.
    index: usize,
    client: Option<(Client, String)>,
    sent_on_connection: usize,
    /// Set when no host could be reached: later messages in this round are deferred at once.
    dead: Option<String>,
    /// Each TLS negotiation's outcome, for TLS-RPT: (failure type or None, host, address).
    pub tls_outcomes: Vec<(Option<&'static str>, String, String)>,
    /// DNSSEC vouched for the MX answer: the hosts' TLSA records count (DANE).
    mx_secure: bool,
    /// The TLSA records a host was held to, for TLS-RPT.
    pub dane: Option<Vec<String>>,
}

impl<'a> Session<'a> {
    /// Resolves the hosts of `dest`; Err when the destination has none (and will not).
    pub async fn open(
        dns: &'a Dns,
        cfg: &'a Config,
        dest: &Destination,
        sts: Option<&super::mta_sts::Policy>,
    ) -> std::result::Result<Session<'a>, NoRoute> {
        let hosts = super::route::hosts(dns, cfg, dest, sts).await?;
        let mx_secure = match dest {
            Destination::Mx(domain) if cfg.queue.dane && !domain.starts_with('[') => {
                super::dane::mx_secure(dns, domain).await
            }
            _ => false,
        };
        Ok(Session {
            dns,
            cfg,
            hosts,
            index: 0,
            client: None,
            sent_on_connection: 0,
            dead: None,
            tls_outcomes: Vec::new(),
            mx_secure,
            dane: None,
        })
    }

    pub async fn deliver(&mut self, job: &Job, message: &[u8]) -> Vec<(String, Result)> {
        let mut results = Vec::with_capacity(job.rcpts.len());
        let mut pending = job.rcpts.clone();
        loop {
            if let Some(why) = &self.dead {
                defer_all(&mut results, &pending, why, None);
                return results;
            }
            if self.client.is_none()
                && let Err(why) = self.connect().await
            {
                self.dead = Some(why.clone());
                defer_all(&mut results, &pending, &why, None);
                return results;
            }
            let Some((client, host)) = self.client.as_mut() else {
                continue;
            };
            let host = host.clone();
            tracing::info!(
                queue_id = %job.entry.id,
                host = %host,
                tls = client.tls.as_deref().unwrap_or("none"),
                recipients = pending.len(),
                "sending"
            );
            let mut retry = Vec::new();
            match client.send(&job.entry.sender, &pending, message).await {
                Ok(sent) => {
                    for (rcpt, reply) in sent.rcpts {
                        let verdict = match (&reply, &sent.data) {
                            (r, _) if !r.is_positive() => reply,
                            (_, Some(data)) => data.clone(),
                            (_, None) => reply,
                        };
                        match classify(&verdict, &host) {
                            Some(r) => results.push((rcpt, r)),
                            None => retry.push((rcpt, verdict.text())),
                        }
                    }
                    self.sent_on_connection += 1;
                }
                Err(ClientError::Rejected { stage, reply }) => {
                    let text = format!("{} (in reply to {stage})", reply.text());
                    for rcpt in &pending {
                        if reply.is_permanent() {
                            results.push((
                                rcpt.clone(),
                                Result::Failed {
                                    status: super::dsn::status_of(
                                        reply.code,
                                        &reply.lines.join(" "),
                                    ),
                                    diagnostic: format!("smtp; {text}"),
                                    host: Some(host.clone()),
                                },
                            ));
                        } else {
                            retry.push((rcpt.clone(), text.clone()));
                        }
                    }
                }
                Err(e) => {
                    // The connection is gone or unusable.
                    self.client = None;
                    retry = pending.iter().map(|r| (r.clone(), e.to_string())).collect();
                }
            }
            if self.sent_on_connection >= self.cfg.queue.max_messages_per_connection {
                self.close().await;
            }
            if retry.is_empty() {
                return results;
            }
            // 4xx or a broken connection: the next host may do better (RFC 5321 5.1).
            if self.index + 1 < self.hosts.len() {
                self.close().await;
                self.index += 1;
                pending = retry.into_iter().map(|(r, _)| r).collect();
                continue;
            }
            for (rcpt, why) in retry {
                results.push((
                    rcpt,
                    Result::Deferred {
                        diagnostic: format!("smtp; {why}"),
                        host: Some(host.clone()),
                    },
                ));
            }
            return results;
        }
    }

    /// Connects to the first host from `index` on that answers; errors name every failure.
    async fn connect(&mut self) -> std::result::Result<(), String> {
        let mut errors = Vec::new();
        while self.index < self.hosts.len() {
            let host = match self.with_dane(self.hosts[self.index].clone()).await {
                Ok(h) => h,
                Err(e) => {
                    self.tls_outcomes.push((
                        Some("dnssec-invalid"),
                        self.hosts[self.index].name.clone(),
                        String::new(),
                    ));
                    errors.push(format!("{}: {e}", self.hosts[self.index].name));
                    self.index += 1;
                    continue;
                }
            };
            let ips = match host.name.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => match self.dns.ips(&host.name).await {
                    Ok(ips) => ips,
                    Err(e) => {
                        errors.push(format!("{}: {e}", host.name));
                        self.index += 1;
                        continue;
                    }
                },
            };
            for ip in ips {
                let addr = SocketAddr::new(ip, host.port);
                let label = format!("{}[{ip}]:{}", host.name, host.port);
                match self.try_host(&host, addr).await {
                    Ok((client, tls_failure)) => {
                        let outcome = match (&client.tls, tls_failure) {
                            (Some(_), _) => None,
                            (None, Some(e)) => Some(tls_failure_type(&e)),
                            (None, None) => Some("starttls-not-supported"),
                        };
                        self.tls_outcomes
                            .push((outcome, host.name.clone(), ip.to_string()));
                        tracing::info!(host = %label, tls = client.tls.as_deref().unwrap_or("none"), "connected");
                        self.client = Some((client, label));
                        self.sent_on_connection = 0;
                        return Ok(());
                    }
                    Err(e) => {
                        if e.contains("TLS") && self.tls_outcomes.len() < 1000 {
                            self.tls_outcomes.push((
                                Some(tls_failure_type(&e)),
                                host.name.clone(),
                                ip.to_string(),
                            ));
                        }
                        match &host.policy {
                            Some(p) => errors.push(format!("{label}: {e} ({p})")),
                            None => errors.push(format!("{label}: {e}")),
                        }
                    }
                }
            }
            self.index += 1;
        }
        self.index = 0;
        Err(if errors.is_empty() {
            "no host to connect to".into()
        } else {
            format!("could not deliver to any host: {}", errors.join("; "))
        })
    }

    /// The host as DANE wants it reached: over TLS with a certificate its TLSA records name,
    /// in place of whatever MTA-STS asked.
    async fn with_dane(&mut self, host: Host) -> std::result::Result<Host, String> {
        if !self.mx_secure || host.login.is_some() || host.name.parse::<IpAddr>().is_ok() {
            return Ok(host);
        }
        match super::dane::host_policy(self.dns, &host.name, host.port).await? {
            HostPolicy::None => Ok(host),
            HostPolicy::EncryptOnly => Ok(Host {
                security: Security::StartTls,
                ..host
            }),
            HostPolicy::Authenticate { owner, records } => {
                self.dane = Some(
                    records
                        .iter()
                        .map(|r| format!("{owner}. IN TLSA {}", r.describe()))
                        .collect(),
                );
                Ok(Host {
                    security: Security::StartTls,
                    verify: Verification::Dane(records),
                    policy: Some(format!(
                        "DANE: the TLSA records of {owner} require TLS with a certificate they name"
                    )),
                    ..host
                })
            }
        }
    }

    /// The client, and why TLS failed when it fell back to clear text.
    async fn try_host(
        &self,
        host: &Host,
        addr: SocketAddr,
    ) -> std::result::Result<(Client, Option<String>), String> {
        let connect = |security| {
            Client::connect(
                addr,
                &host.name,
                &self.cfg.hostname,
                security,
                &host.verify,
                Timeouts::default(),
            )
        };
        let mut tls_failure = None;
        let mut client = match connect(host.security).await {
            Ok(c) => c,
            // Opportunistic TLS that fails is no reason to give up: the mail goes in clear,
            // as it would to a server without STARTTLS (RFC 7435).
            Err(ClientError::Tls(e)) if host.security == Security::Opportunistic => {
                tracing::warn!(host = %host.name, %addr, error = %e, "TLS failed; delivering without TLS");
                tls_failure = Some(e);
                connect(Security::None).await.map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        if let Some((user, file)) = &host.login {
            if client.tls.is_none() {
                return Err(format!(
                    "not sending the password of {user} over an unencrypted connection"
                ));
            }
            let password = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the relay password file {file}: {e}"))?;
            let password = password.lines().next().unwrap_or("").to_string();
            client
                .auth(user, &password)
                .await
                .map_err(|e| format!("the relay refused the login of {user}: {e}"))?;
        }
        Ok((client, tls_failure))
    }

    pub async fn close(&mut self) {
        if let Some((client, _)) = self.client.take() {
            client.quit().await;
        }
    }
}

/// The RFC 8460 4.3 result type of a TLS failure, from its text.
fn tls_failure_type(error: &str) -> &'static str {
    if error.contains("TLSA records") {
        "tlsa-invalid"
    } else if error.contains("NotValidForName") {
        "certificate-host-mismatch"
    } else if error.contains("Expired") {
        "certificate-expired"
    } else if error.contains("UnknownIssuer") || error.contains("not trusted") {
        "certificate-not-trusted"
    } else if error.contains("STARTTLS") {
        "starttls-not-supported"
    } else {
        "validation-failure"
    }
}

/// A final answer for a recipient, or None when it is temporary.
fn classify(reply: &Reply, host: &str) -> Option<Result> {
    if reply.is_positive() {
        Some(Result::Delivered {
            host: host.to_string(),
            reply: reply.text(),
        })
    } else if reply.is_permanent() {
        Some(Result::Failed {
            status: super::dsn::status_of(reply.code, &reply.lines.join(" ")),
            diagnostic: format!("smtp; {}", reply.text()),
            host: Some(host.to_string()),
        })
    } else {
        None
    }
}

fn defer_all(out: &mut Vec<(String, Result)>, rcpts: &[String], why: &str, host: Option<String>) {
    for r in rcpts {
        out.push((
            r.clone(),
            Result::Deferred {
                diagnostic: why.to_string(),
                host: host.clone(),
            },
        ));
    }
}
