//! Dangerous attachments, without any virus engine: files whose name ends in a program's
//! extension (.exe, .js, .scr, ...), programs whatever their name (a Windows executable starts
//! with "MZ"), and the same inside .zip archives and forwarded messages.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use std::io::Cursor;

/// Forwarded messages inside forwarded messages: deeper than this is not looked into.
const MAX_DEPTH: usize = 3;
/// Names looked at in one archive.
const MAX_ZIP_ENTRIES: usize = 1000;

/// The first refused file found, with why, as "invoice.pdf.exe (.exe)".
pub fn refused(message: &[u8], extensions: &[String]) -> Option<String> {
    if extensions.is_empty() || !may_attach(message) {
        return None;
    }
    let parsed = MessageParser::default().parse(message)?;
    // A work list instead of recursion: nested messages are bounded by MAX_DEPTH.
    let mut work: Vec<(&Message<'_>, usize)> = vec![(&parsed, 0)];
    while let Some((msg, depth)) = work.pop() {
        for part in &msg.parts {
            let name = part.attachment_name().unwrap_or("");
            match &part.body {
                PartType::Message(inner) if depth < MAX_DEPTH => work.push((inner, depth + 1)),
                PartType::Binary(data) | PartType::InlineBinary(data) => {
                    if let Some(why) = refused_file(name, data, extensions) {
                        return Some(why);
                    }
                }
                PartType::Text(_) | PartType::Html(_) => {
                    if let Some(ext) = refused_name(name, extensions) {
                        return Some(format!("{name} (.{ext})"));
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Whether the message can carry a file at all: a single text part cannot (most mail, and
/// all of a mailing list's), and is not parsed.
pub fn may_attach(message: &[u8]) -> bool {
    let name = b"content-type:";
    for line in crate::store::header_of(message).split(|&b| b == b'\n') {
        if line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name) {
            let value = String::from_utf8_lossy(&line[name.len()..]);
            let value = value.trim().to_ascii_lowercase();
            // A name on a text part still makes it a file ("text/plain; name=x.js").
            return !value.starts_with("text/") || value.contains("name");
        }
    }
    false
}

fn refused_file(name: &str, data: &[u8], extensions: &[String]) -> Option<String> {
    if let Some(ext) = refused_name(name, extensions) {
        return Some(format!("{name} (.{ext})"));
    }
    if data.starts_with(b"MZ") && extensions.iter().any(|e| e == "exe") {
        let shown = if name.is_empty() {
            "an attachment"
        } else {
            name
        };
        return Some(format!("{shown} (a Windows program)"));
    }
    if data.starts_with(b"PK\x03\x04") || name.to_ascii_lowercase().ends_with(".zip") {
        return refused_in_zip(name, data, extensions);
    }
    None
}

fn refused_in_zip(name: &str, data: &[u8], extensions: &[String]) -> Option<String> {
    let archive = mail_auth::zip::ZipArchive::new(Cursor::new(data)).ok()?;
    for inner in archive.file_names().take(MAX_ZIP_ENTRIES) {
        if let Some(ext) = refused_name(inner, extensions) {
            return Some(format!("{inner} in {name} (.{ext})"));
        }
    }
    None
}

/// The refused extension `name` ends in, if any ("x.PDF.exe" → "exe").
fn refused_name<'a>(name: &str, extensions: &'a [String]) -> Option<&'a str> {
    let (_, ext) = name.trim().trim_end_matches('.').rsplit_once('.')?;
    extensions
        .iter()
        .find(|e| e.eq_ignore_ascii_case(ext))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exts() -> Vec<String> {
        ["exe", "js", "scr"].map(String::from).to_vec()
    }

    fn with_attachment(name: &str, b64: &str) -> Vec<u8> {
        format!(
            "From: a@b.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--b\r\n\
             Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn names_real_types_and_archives() {
        use base64::Engine;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let text = b64(b"just text");
        assert_eq!(
            refused(&with_attachment("invoice.pdf.EXE", &text), &exts()),
            Some("invoice.pdf.EXE (.exe)".into())
        );
        assert_eq!(
            refused(&with_attachment("report.pdf", &text), &exts()),
            None
        );
        // A program under an innocent name.
        let mz = b64(b"MZ\x90\x00\x03 a program");
        assert!(
            refused(&with_attachment("photo.jpg", &mz), &exts())
                .is_some_and(|w| w.contains("Windows program"))
        );
        // A script inside a zip.
        let mut zip = Vec::new();
        {
            let mut w = mail_auth::zip::ZipWriter::new(Cursor::new(&mut zip));
            w.start_file(
                "docs/readme.js",
                mail_auth::zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut w, b"alert(1)").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            refused(&with_attachment("docs.zip", &b64(&zip)), &exts()),
            Some("docs/readme.js in docs.zip (.js)".into())
        );
        assert_eq!(refused(&with_attachment("x.exe", &text), &[]), None);
        assert!(!may_attach(b"Subject: x\r\n\r\nMZ plain text"));
        assert!(!may_attach(
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nx"
        ));
        assert!(may_attach(
            b"Content-Type: application/x-msdownload\r\n\r\nMZ"
        ));
        assert!(may_attach(
            b"Content-type: text/plain; name=\"a.js\"\r\n\r\nx"
        ));
    }
}
