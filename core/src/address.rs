//! Mail addresses as the directory stores and compares them: local part kept as written
//! (compared without case), domain lower-cased.

use crate::error::{Error, Result};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub local: String,
    pub domain: String,
}

impl Address {
    pub fn parse(text: &str) -> Result<Address> {
        let t = text.trim();
        let t = t
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(t);
        let (local, domain) = t.rsplit_once('@').ok_or_else(|| {
            Error::Invalid(format!(
                "'{text}' is not a mail address (expected name@domain)"
            ))
        })?;
        validate_local(local).map_err(|why| Error::Invalid(format!("'{text}': {why}")))?;
        let domain = normalize_domain(domain)?;
        Ok(Address {
            local: local.to_string(),
            domain,
        })
    }

    /// The same address without a "+tag" sub-address, if it has one.
    pub fn without_detail(&self, delimiter: &str) -> Option<Address> {
        if delimiter.is_empty() {
            return None;
        }
        let (base, _) = self.local.split_once(delimiter)?;
        (!base.is_empty()).then(|| Address {
            local: base.to_string(),
            domain: self.domain.clone(),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

fn validate_local(local: &str) -> std::result::Result<(), &'static str> {
    if local.is_empty() {
        return Err("the part before @ is empty");
    }
    if local.len() > 64 {
        return Err("the part before @ is longer than 64 characters");
    }
    if local.chars().any(|c| {
        c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '@' | ',' | ';' | '\\')
    }) {
        return Err("the part before @ holds a space, a control character or one of < > @ , ; \\");
    }
    Ok(())
}

/// Lower-cases and checks a domain name: labels of letters, digits and hyphens (UTF-8 letters
/// allowed for internationalised domains), 253 characters at most.
pub fn normalize_domain(text: &str) -> Result<String> {
    let d = text.trim().trim_end_matches('.').to_lowercase();
    let bad = |why: &str| {
        Err(Error::Invalid(format!(
            "'{}' is not a domain name: {why}",
            text.trim()
        )))
    };
    if d.is_empty() {
        return bad("it is empty");
    }
    if d.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in d.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (two dots in a row?)");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with '-'");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return bad("only letters, digits, '-' and '.' are allowed");
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let a = Address::parse("<Alice@Example.TEST>").unwrap();
        assert_eq!(a.local, "Alice");
        assert_eq!(a.domain, "example.test");
        assert_eq!(a.to_string(), "Alice@example.test");
        assert_eq!(
            Address::parse("用户@例子.测试").unwrap().domain,
            "例子.测试"
        );
    }

    #[test]
    fn refuses_bad_addresses_with_a_reason() {
        for bad in [
            "",
            "alice",
            "@example.test",
            "alice@",
            "a b@example.test",
            "alice@exa mple.test",
            "alice@-x.test",
            "alice@x..test",
        ] {
            let e = Address::parse(bad).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{bad}: {e}");
        }
        assert!(Address::parse(&format!("{}@x.test", "a".repeat(65))).is_err());
    }

    #[test]
    fn strips_sub_address() {
        let a = Address::parse("bob+lists@example.test").unwrap();
        assert_eq!(
            a.without_detail("+").unwrap().to_string(),
            "bob@example.test"
        );
        assert!(a.without_detail("").is_none());
        assert!(
            Address::parse("+x@example.test")
                .unwrap()
                .without_detail("+")
                .is_none()
        );
    }
}
