//! Delivery status notifications (RFC 3464): the bounce when a message cannot be delivered and
//! the warning when it is delayed, as multipart/report with a plain-language first part.

use crate::util::rfc5322_date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Action: failed; the message is returned.
    Failed,
    /// Action: delayed; still being tried.
    Delayed,
}

/// One recipient's part of the report.
#[derive(Debug, Clone)]
pub struct RecipientStatus {
    pub recipient: String,
    /// RFC 3463 enhanced status, e.g. "5.1.1".
    pub status: String,
    /// "smtp; 550 5.1.1 No such user" or a text of our own.
    pub diagnostic: String,
    /// The server that answered, when one did.
    pub remote_mta: Option<String>,
}

pub struct Report<'a> {
    pub kind: Kind,
    pub hostname: &'a str,
    pub queue_id: &'a str,
    pub sender: &'a str,
    pub arrival: i64,
    pub now: i64,
    /// For delays: when Roost gives up.
    pub retry_until: Option<i64>,
    pub recipients: &'a [RecipientStatus],
    /// The original message (header and body, as queued).
    pub original: &'a [u8],
}

/// Messages larger than this come back as headers only.
const RETURN_FULL_LIMIT: usize = 256 * 1024;

/// The status a reply carries ("550 5.1.1 …" → 5.1.1), else one made from its code.
pub fn status_of(code: u16, text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = first.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && (parts[0] == "4" || parts[0] == "5")
    {
        return first.to_string();
    }
    if code >= 500 {
        "5.0.0".into()
    } else {
        "4.0.0".into()
    }
}

pub fn build(r: &Report<'_>) -> Vec<u8> {
    let boundary = format!("{}.report/{}", r.queue_id, r.hostname);
    let (subject, intro) = match r.kind {
        Kind::Failed => (
            "Undelivered Mail Returned to Sender",
            "Your message could not be delivered to one or more recipients. It is attached \
             below. The reason each server gave is listed; a recipient's address that does not \
             exist or a full mailbox are the usual causes.",
        ),
        Kind::Delayed => (
            "Delayed Mail (still being retried)",
            "Your message has not been delivered yet to the recipients below. The receiving \
             server is not answering or asked us to try later. Nothing needs to be done: Roost \
             keeps trying, and will tell you if it gives up.",
        ),
    };
    let mut text = format!(
        "This is the mail system at {}.\r\n\r\n{intro}\r\n\r\n",
        r.hostname
    );
    for rc in r.recipients {
        text.push_str(&format!("<{}>: {}\r\n", rc.recipient, rc.diagnostic));
    }
    if let (Kind::Delayed, Some(until)) = (r.kind, r.retry_until) {
        text.push_str(&format!(
            "\r\nRoost will keep trying until {}.\r\n",
            rfc5322_date(until)
        ));
    }

    let mut status = format!(
        "Reporting-MTA: dns; {}\r\nX-Roost-Queue-ID: {}\r\nArrival-Date: {}\r\n",
        r.hostname,
        r.queue_id,
        rfc5322_date(r.arrival)
    );
    let action = match r.kind {
        Kind::Failed => "failed",
        Kind::Delayed => "delayed",
    };
    for rc in r.recipients {
        let rcpt_type = if rc.recipient.is_ascii() {
            "rfc822"
        } else {
            "utf-8"
        };
        status.push_str(&format!(
            "\r\nFinal-Recipient: {rcpt_type}; {}\r\nAction: {action}\r\nStatus: {}\r\n",
            rc.recipient, rc.status
        ));
        if let Some(mta) = &rc.remote_mta {
            status.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
        }
        status.push_str(&format!(
            "Diagnostic-Code: {}\r\nLast-Attempt-Date: {}\r\n",
            one_line(&rc.diagnostic),
            rfc5322_date(r.now)
        ));
        if let (Kind::Delayed, Some(until)) = (r.kind, r.retry_until) {
            status.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }

    let (returned_type, returned): (&str, &[u8]) = if r.original.len() <= RETURN_FULL_LIMIT {
        ("message/rfc822", r.original)
    } else {
        ("text/rfc822-headers", crate::store::header_of(r.original))
    };
    let mut m = Vec::with_capacity(text.len() + status.len() + returned.len() + 1024);
    m.extend_from_slice(
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
             To: <{to}>\r\n\
             Subject: {subject}\r\n\
             Date: {date}\r\n\
             Message-ID: <{id}.{kind}@{host}>\r\n\
             Auto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status;\r\n\
             \tboundary=\"{boundary}\"\r\n\
             \r\n\
             This is a MIME-encapsulated message.\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Description: Notification\r\n\
             \r\n\
             {text}\r\n\
             --{boundary}\r\n\
             Content-Type: message/delivery-status\r\n\
             Content-Description: Delivery report\r\n\
             \r\n\
             {status}\r\n\
             --{boundary}\r\n\
             Content-Type: {returned_type}\r\n\
             Content-Description: {what}\r\n\
             \r\n",
            host = r.hostname,
            to = r.sender,
            date = rfc5322_date(r.now),
            id = r.queue_id,
            kind = action,
            what = if returned_type == "message/rfc822" {
                "Undelivered Message"
            } else {
                "Undelivered Message Headers"
            },
        )
        .as_bytes(),
    );
    m.extend_from_slice(returned);
    if !returned.ends_with(b"\r\n") {
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    m
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_replies() {
        assert_eq!(status_of(550, "5.1.1 No such user"), "5.1.1");
        assert_eq!(status_of(550, "No such user"), "5.0.0");
        assert_eq!(status_of(451, "try later"), "4.0.0");
        assert_eq!(status_of(550, "2.1.1 odd"), "5.0.0");
    }

    #[test]
    fn bounce_has_the_three_parts() {
        let original = b"From: a@x.test\r\nSubject: hi\r\n\r\nbody\r\n";
        let rcpts = [RecipientStatus {
            recipient: "nobody@y.test".into(),
            status: "5.1.1".into(),
            diagnostic: "smtp; 550 5.1.1 no such user".into(),
            remote_mta: Some("mx.y.test".into()),
        }];
        let m = build(&Report {
            kind: Kind::Failed,
            hostname: "mail.x.test",
            queue_id: "Q1",
            sender: "a@x.test",
            arrival: 0,
            now: 60,
            retry_until: None,
            recipients: &rcpts,
            original,
        });
        let text = String::from_utf8(m).unwrap();
        assert!(text.contains("report-type=delivery-status"));
        assert!(
            text.contains(
                "Final-Recipient: rfc822; nobody@y.test\r\nAction: failed\r\nStatus: 5.1.1"
            )
        );
        assert!(text.contains("Remote-MTA: dns; mx.y.test"));
        assert!(text.contains("Content-Type: message/rfc822\r\n"));
        assert!(text.contains("Subject: hi"));
        assert!(text.ends_with("--Q1.report/mail.x.test--\r\n"));
    }
}
