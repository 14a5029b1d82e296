//! FETCH responses (RFC 3501 7.4.2, RFC 9051 7.5.2, RFC 3516 BINARY, RFC 7162 MODSEQ).

use super::command::{FetchItem, Section, SectionKind};
use super::{date, mime, structure};
use crate::store::flags;
use crate::store::messages::Meta;
use base64::Engine;

/// Whether any item needs the message text (not just the index row).
pub fn needs_message(items: &[FetchItem]) -> bool {
    items.iter().any(|i| {
        !matches!(
            i,
            FetchItem::Flags
                | FetchItem::Uid
                | FetchItem::InternalDate
                | FetchItem::Rfc822Size
                | FetchItem::ModSeq
        )
    })
}

/// Whether the header block alone answers every item (no need to open the message file).
pub fn header_only(items: &[FetchItem]) -> bool {
    items.iter().all(|i| match i {
        FetchItem::Flags
        | FetchItem::Uid
        | FetchItem::InternalDate
        | FetchItem::Rfc822Size
        | FetchItem::ModSeq => true,
        FetchItem::Envelope | FetchItem::Rfc822Header => true,
        FetchItem::Section { section, .. } => {
            section.part.is_empty()
                && matches!(
                    section.kind,
                    SectionKind::Header
                        | SectionKind::HeaderFields(_)
                        | SectionKind::HeaderFieldsNot(_)
                )
        }
        _ => false,
    })
}

/// Whether fetching these items marks the message \Seen (non-PEEK body parts).
pub fn sets_seen(items: &[FetchItem]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            FetchItem::Rfc822
                | FetchItem::Rfc822Text
                | FetchItem::Section { peek: false, .. }
                | FetchItem::Binary { peek: false, .. }
        )
    })
}

pub fn flag_list(meta: &Meta, recent: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (bit, name) in [
        (flags::SEEN, "\\Seen"),
        (flags::ANSWERED, "\\Answered"),
        (flags::FLAGGED, "\\Flagged"),
        (flags::DELETED, "\\Deleted"),
        (flags::DRAFT, "\\Draft"),
    ] {
        if meta.flags & bit != 0 {
            names.push(name);
        }
    }
    if recent {
        names.push("\\Recent");
    }
    names.extend(meta.keywords.split_whitespace());
    format!("({})", names.join(" "))
}

pub struct Options {
    pub utf8: bool,
    /// Show \Recent (IMAP4rev1 only).
    pub recent: bool,
}

/// One `* N FETCH (...)` line, with its CRLF.
pub fn response(
    seq: u32,
    meta: &Meta,
    items: &[FetchItem],
    message: Option<&[u8]>,
    opts: &Options,
) -> Vec<u8> {
    let mut out = format!("* {seq} FETCH (").into_bytes();
    let parsed = message.map(mime::parse);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let msg = message.unwrap_or(b"");
        match item {
            FetchItem::Flags => {
                out.extend_from_slice(format!("FLAGS {}", flag_list(meta, opts.recent)).as_bytes())
            }
            FetchItem::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
            FetchItem::ModSeq => {
                out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes())
            }
            FetchItem::InternalDate => out.extend_from_slice(
                format!(
                    "INTERNALDATE \"{}\"",
                    date::format_date_time(meta.internal_date)
                )
                .as_bytes(),
            ),
            FetchItem::Rfc822Size => {
                out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes())
            }
            FetchItem::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                let header = parsed.as_ref().map(|p| p.header).unwrap_or(b"");
                structure::envelope(&mut out, header, opts.utf8);
            }
            FetchItem::BodyStructure | FetchItem::Body => {
                let extended = *item == FetchItem::BodyStructure;
                out.extend_from_slice(if extended {
                    b"BODYSTRUCTURE "
                } else {
                    b"BODY "
                });
                match &parsed {
                    Some(p) => structure::body_structure(&mut out, p, extended, opts.utf8),
                    None => out.extend_from_slice(b"NIL"),
                }
            }
            FetchItem::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                literal(&mut out, msg);
            }
            FetchItem::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                literal(&mut out, mime::split_header(msg).0);
            }
            FetchItem::Rfc822Text => {
                out.extend_from_slice(b"RFC822.TEXT ");
                literal(&mut out, mime::split_header(msg).1);
            }
            FetchItem::Section {
                section, partial, ..
            } => {
                let data = parsed.as_ref().and_then(|p| section_data(p, msg, section));
                out.extend_from_slice(format!("BODY[{}]", section_name(section)).as_bytes());
                write_partial(&mut out, data.as_deref(), *partial);
            }
            FetchItem::Binary { part, partial, .. } => {
                let data = parsed.as_ref().and_then(|p| binary_data(p, msg, part));
                out.extend_from_slice(format!("BINARY[{}]", join(part)).as_bytes());
                write_partial(&mut out, data.as_deref(), *partial);
            }
            FetchItem::BinarySize(part) => {
                let n = parsed
                    .as_ref()
                    .and_then(|p| binary_data(p, msg, part))
                    .map(|d| d.len())
                    .unwrap_or(0);
                out.extend_from_slice(format!("BINARY.SIZE[{}] {n}", join(part)).as_bytes());
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    out
}

fn join(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

pub fn section_name(s: &Section) -> String {
    let mut name = join(&s.part);
    let kind = match &s.kind {
        SectionKind::Full => String::new(),
        SectionKind::Header => "HEADER".into(),
        SectionKind::Text => "TEXT".into(),
        SectionKind::Mime => "MIME".into(),
        SectionKind::HeaderFields(f) => format!("HEADER.FIELDS ({})", f.join(" ")),
        SectionKind::HeaderFieldsNot(f) => format!("HEADER.FIELDS.NOT ({})", f.join(" ")),
    };
    if !name.is_empty() && !kind.is_empty() {
        name.push('.');
    }
    name + &kind
}

fn literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

fn write_partial(out: &mut Vec<u8>, data: Option<&[u8]>, partial: Option<(u32, u32)>) {
    let Some(data) = data else {
        out.extend_from_slice(b" NIL");
        return;
    };
    match partial {
        Some((start, len)) => {
            let s = (start as usize).min(data.len());
            let e = s.saturating_add(len as usize).min(data.len());
            out.extend_from_slice(format!("<{start}> ").as_bytes());
            literal(out, &data[s..e]);
        }
        None => {
            out.push(b' ');
            literal(out, data);
        }
    }
}

fn section_data(root: &mime::Part<'_>, msg: &[u8], s: &Section) -> Option<Vec<u8>> {
    if s.part.is_empty() {
        let (h, b) = mime::split_header(msg);
        return Some(match &s.kind {
            SectionKind::Full => msg.to_vec(),
            SectionKind::Header => h.to_vec(),
            SectionKind::Text => b.to_vec(),
            SectionKind::HeaderFields(f) => mime::header_subset(h, f, false),
            SectionKind::HeaderFieldsNot(f) => mime::header_subset(h, f, true),
            SectionKind::Mime => return None,
        });
    }
    let p = root.find(&s.part)?;
    Some(match &s.kind {
        SectionKind::Full => p.body.to_vec(),
        SectionKind::Mime => p.header.to_vec(),
        // HEADER and TEXT of a part address the message inside a message/rfc822 part.
        kind => {
            let m = p.message.as_deref()?;
            match kind {
                SectionKind::Header => m.header.to_vec(),
                SectionKind::Text => m.body.to_vec(),
                SectionKind::HeaderFields(f) => mime::header_subset(m.header, f, false),
                SectionKind::HeaderFieldsNot(f) => mime::header_subset(m.header, f, true),
                _ => return None,
            }
        }
    })
}

/// The part's content with its transfer encoding undone (RFC 3516).
fn binary_data(root: &mime::Part<'_>, msg: &[u8], part: &[u32]) -> Option<Vec<u8>> {
    if part.is_empty() {
        return Some(msg.to_vec());
    }
    let p = root.find(part)?;
    let enc = mime::field(p.header, "content-transfer-encoding")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(match enc.as_str() {
        "base64" => {
            let clean: Vec<u8> = p
                .body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .ok()?
        }
        "quoted-printable" => quoted_printable(p.body),
        _ => p.body.to_vec(),
    })
}

fn quoted_printable(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    while i < s.len() {
        if s[i] == b'=' {
            if s[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if s[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(&a), Some(&b)) = (s.get(i + 1), s.get(i + 2))
                && let (Some(h), Some(l)) = (hex(a), hex(b))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BlobId;

    fn meta() -> Meta {
        Meta {
            uid: 7,
            modseq: 3,
            flags: flags::SEEN | flags::FLAGGED,
            keywords: "$Label1".into(),
            size: 42,
            internal_date: 837_596_665,
            blob: BlobId(String::new()),
        }
    }

    #[test]
    fn flags_uid_date_size() {
        let items = [
            FetchItem::Uid,
            FetchItem::Flags,
            FetchItem::InternalDate,
            FetchItem::Rfc822Size,
            FetchItem::ModSeq,
        ];
        let r = response(
            2,
            &meta(),
            &items,
            None,
            &Options {
                utf8: false,
                recent: true,
            },
        );
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "* 2 FETCH (UID 7 FLAGS (\\Seen \\Flagged \\Recent $Label1) INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" RFC822.SIZE 42 MODSEQ (3))\r\n"
        );
    }

    #[test]
    fn sections_and_partials() {
        let msg = b"From: a@x\r\nSubject: s\r\n\r\nHello world\r\n";
        let item = |kind, partial| FetchItem::Section {
            peek: true,
            section: Section { part: vec![], kind },
            partial,
        };
        let r = response(
            1,
            &meta(),
            &[item(SectionKind::Text, Some((6, 5)))],
            Some(msg),
            &Options {
                utf8: false,
                recent: false,
            },
        );
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "* 1 FETCH (BODY[TEXT]<6> {5}\r\nworld)\r\n"
        );
        let r = response(
            1,
            &meta(),
            &[item(
                SectionKind::HeaderFields(vec!["SUBJECT".into()]),
                None,
            )],
            Some(msg),
            &Options {
                utf8: false,
                recent: false,
            },
        );
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: s\r\n\r\n)\r\n"
        );
    }

    #[test]
    fn binary_decodes() {
        assert_eq!(quoted_printable(b"a=3Db=\r\nc"), b"a=bc");
        let msg = b"Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n";
        let p = mime::parse(msg);
        assert_eq!(binary_data(&p, msg, &[1]).unwrap(), b"hello");
    }
}
