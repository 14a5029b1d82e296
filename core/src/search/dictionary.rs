//! Finding the dictionary terms a phrase step allows. A term containing a word, or ending with
//! one, cannot be found by walking tantivy's FST without visiting all of it (a regex like
//! `.*word.*` has no prefix to follow), which takes a hundred milliseconds and more on a large
//! mailbox. So each segment's terms of a field are kept in memory as one byte string, searched
//! with memchr's SIMD substring search: a few milliseconds. Segments never change, so an entry
//! stays valid until a merge removes its segment.

use super::terms::{Step, step_matches};
use crate::error::{Error, Result};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tantivy::Searcher;
use tantivy::index::SegmentId;
use tantivy::schema::Field;

/// One segment's terms of one field, in dictionary order.
struct TermList {
    /// Every term followed by a newline.
    bytes: Vec<u8>,
    /// Where each term starts in `bytes`.
    starts: Vec<u32>,
}

impl TermList {
    fn term(&self, i: usize) -> &[u8] {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.bytes.len(), |&s| s as usize);
        &self.bytes[start..end - 1]
    }

    /// Terms holding `needle` where `step` wants it.
    fn find(&self, needle: &str, step: &Step, out: &mut BTreeSet<String>) {
        let mut last = usize::MAX;
        for at in memchr::memmem::find_iter(&self.bytes, needle.as_bytes()) {
            let i = self.starts.partition_point(|&s| s as usize <= at) - 1;
            if i == last {
                continue;
            }
            // Whether the term qualifies does not depend on where in it the needle was found.
            last = i;
            let Ok(term) = std::str::from_utf8(self.term(i)) else {
                continue;
            };
            if step_matches(step, term) {
                out.insert(term.to_string());
            }
        }
    }
}

#[derive(Default)]
pub struct TermLists {
    lists: Mutex<HashMap<(SegmentId, Field), Arc<TermList>>>,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("search index: {e}"))
}

impl TermLists {
    fn list(&self, searcher: &Searcher, ord: usize, field: Field) -> Result<Arc<TermList>> {
        let segment = searcher.segment_reader(ord as u32);
        let key = (segment.segment_id(), field);
        if let Some(l) = self
            .lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(l.clone());
        }
        let inverted = segment.inverted_index(field).map_err(err)?;
        let mut stream = inverted.terms().stream().map_err(err)?;
        let mut list = TermList {
            bytes: Vec::new(),
            starts: Vec::new(),
        };
        while stream.advance() {
            list.starts.push(list.bytes.len() as u32);
            list.bytes.extend_from_slice(stream.key());
            list.bytes.push(b'\n');
        }
        let list = Arc::new(list);
        self.lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, list.clone());
        Ok(list)
    }

    /// The terms of `field`, in any segment, that satisfy `step`.
    pub fn expand(&self, searcher: &Searcher, field: Field, step: &Step) -> Result<Vec<String>> {
        let needle = match step {
            Step::Exact(s) => return Ok(vec![s.clone()]),
            Step::Suffix(s) | Step::Prefix(s) | Step::Infix(s) => s,
        };
        let mut out = BTreeSet::new();
        for ord in 0..searcher.segment_readers().len() {
            self.list(searcher, ord, field)?
                .find(needle, step, &mut out);
        }
        Ok(out.into_iter().collect())
    }

    /// Forgets the segments the searcher no longer has (merged away or deleted).
    pub fn retain(&self, searcher: &Searcher) {
        let live: std::collections::HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        self.lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _), _| live.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_terms_by_part() {
        let words = ["invoice", "invoices", "preinvoice", "voice", "xinvoicex"];
        let mut list = TermList {
            bytes: Vec::new(),
            starts: Vec::new(),
        };
        for w in words {
            list.starts.push(list.bytes.len() as u32);
            list.bytes.extend_from_slice(w.as_bytes());
            list.bytes.push(b'\n');
        }
        let run = |step: Step| {
            let needle = match &step {
                Step::Suffix(s) | Step::Prefix(s) | Step::Infix(s) | Step::Exact(s) => s.clone(),
            };
            let mut out = BTreeSet::new();
            list.find(&needle, &step, &mut out);
            out.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(
            run(Step::Infix("invoice".into())),
            ["invoice", "invoices", "preinvoice", "xinvoicex"]
        );
        assert_eq!(
            run(Step::Suffix("voice".into())),
            ["invoice", "preinvoice", "voice"]
        );
        assert_eq!(run(Step::Prefix("invoice".into())), ["invoice", "invoices"]);
        assert_eq!(
            run(Step::Infix("e\ni".into())),
            Vec::<String>::new(),
            "never across terms"
        );
    }
}
