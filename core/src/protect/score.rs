//! Roost's own spam score, for boxes without rspamd: rules on the header and structure, the
//! sender authentication results, and the recipient's Bayesian classifier. Each rule that
//! fires has a name and weight, written into X-Roost-Score so that a verdict explains itself.

use super::authenticate::Words;
use crate::rfc5322;

pub type Hit = (&'static str, f64);

/// The rules of the whole message (the classifier is per recipient: `bayes_hit`).
pub fn message_rules(header: Option<&[u8]>, words: Option<Words>) -> Vec<Hit> {
    let mut hits = Vec::new();
    if let Some(h) = header {
        let field = |name: &str| rfc5322::field_values(h, name);
        if field("date").is_empty() {
            hits.push(("MISSING_DATE", 1.0));
        }
        if field("message-id").is_empty() {
            hits.push(("MISSING_MESSAGE_ID", 1.0));
        }
        let subject = field("subject");
        match subject.first().map(|s| s.trim()) {
            None | Some("") => hits.push(("EMPTY_SUBJECT", 0.5)),
            Some(s) => {
                let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
                if letters.len() >= 10 && letters.iter().all(|c| c.is_uppercase()) {
                    hits.push(("SUBJECT_ALL_CAPS", 1.0));
                }
            }
        }
        if field("to").is_empty() && field("cc").is_empty() {
            hits.push(("NO_RECIPIENT_HEADER", 0.5));
        }
        if let Some(from) = field("from").first()
            && from_name_names_another_address(from)
        {
            hits.push(("FROM_NAME_OTHER_ADDRESS", 2.0));
        }
        if field("content-type")
            .first()
            .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("text/html"))
        {
            hits.push(("HTML_ONLY", 0.5));
        }
    }
    if let Some(w) = words {
        match w.spf {
            "fail" => hits.push(("SPF_FAIL", 2.0)),
            "softfail" => hits.push(("SPF_SOFTFAIL", 1.0)),
            _ => {}
        }
        if w.dkim == "fail" {
            hits.push(("DKIM_INVALID", 1.0));
        }
        if w.dmarc == "fail" {
            hits.push(("DMARC_FAIL", 2.5));
        }
        if matches!(w.spf, "none" | "neutral") && w.dkim == "none" {
            hits.push(("NO_AUTHENTICATION", 1.0));
        }
    }
    hits
}

/// "PayPal service@paypal.com" <x@elsewhere.example>: a display name that shows an address
/// other than the real one, the phisher's favourite.
fn from_name_names_another_address(from: &str) -> bool {
    let Some(lt) = from.rfind('<') else {
        return false;
    };
    let (name, addr) = from.split_at(lt);
    let addr = addr
        .trim_matches(|c| c == '<' || c == '>' || c == ' ')
        .to_ascii_lowercase();
    name.split(|c: char| c.is_whitespace() || c == '"' || c == '(' || c == ')')
        .filter(|w| w.contains('@') && w.contains('.'))
        .any(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase()
                != addr
        })
}

/// What the recipient's classifier adds, from its spam probability.
pub fn bayes_hit(p: f64) -> Option<Hit> {
    match p {
        p if p >= 0.99 => Some(("BAYES_99", 6.0)),
        p if p >= 0.95 => Some(("BAYES_95", 4.5)),
        p if p >= 0.80 => Some(("BAYES_80", 2.0)),
        p if p <= 0.01 => Some(("BAYES_00", -4.0)),
        p if p <= 0.10 => Some(("BAYES_10", -2.0)),
        _ => None,
    }
}

pub fn total(hits: &[Hit]) -> f64 {
    hits.iter().map(|(_, w)| w).sum()
}

/// "2.0 (MISSING_DATE=1.0 MISSING_MESSAGE_ID=1.0)"
pub fn describe(hits: &[Hit]) -> String {
    let names: Vec<String> = hits.iter().map(|(n, w)| format!("{n}={w:.1}")).collect();
    format!("{:.1} ({})", total(hits), names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &[Hit]) -> Vec<&'static str> {
        h.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn header_rules() {
        let clean = b"From: Amy <amy@example.com>\r\nTo: bob@example.org\r\nSubject: Lunch\r\n\
                      Date: Mon, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n";
        assert!(message_rules(Some(clean), None).is_empty());
        let bad =
            b"From: \"service@paypal.com\" <x@phish.example>\r\nSubject: ACT NOW OR LOSE IT\r\n\
                    Content-Type: text/html\r\n\r\n";
        let hits = message_rules(Some(bad), None);
        assert_eq!(
            names(&hits),
            [
                "MISSING_DATE",
                "MISSING_MESSAGE_ID",
                "SUBJECT_ALL_CAPS",
                "NO_RECIPIENT_HEADER",
                "FROM_NAME_OTHER_ADDRESS",
                "HTML_ONLY"
            ]
        );
        assert_eq!(total(&hits), 6.0);
        // The display name may repeat the real address.
        let same = b"From: amy@example.com <amy@example.com>\r\n\r\n";
        assert!(!names(&message_rules(Some(same), None)).contains(&"FROM_NAME_OTHER_ADDRESS"));
    }

    #[test]
    fn authentication_and_bayes() {
        let w = Words {
            spf: "softfail",
            dkim: "none",
            dmarc: "fail",
        };
        assert_eq!(
            names(&message_rules(None, Some(w))),
            ["SPF_SOFTFAIL", "DMARC_FAIL"]
        );
        assert_eq!(bayes_hit(0.999), Some(("BAYES_99", 6.0)));
        assert_eq!(bayes_hit(0.5), None);
        assert_eq!(bayes_hit(0.0), Some(("BAYES_00", -4.0)));
        assert_eq!(describe(&[("A", 1.0), ("B", 2.5)]), "3.5 (A=1.0 B=2.5)");
    }
}
