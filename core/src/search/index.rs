//! The tantivy index beside the store: one document per message, keyed by (mailbox, uid), with
//! one positional field per searched area (the tokens of `terms`; no stored text). Phrase
//! queries over it answer text searches; the store's rows stay the source of truth.

use super::dictionary::TermLists;
use super::terms::{Phrase, Step};
use super::tokenizer;
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::DocSetCollector;
use tantivy::query::{
    BooleanQuery, Occur, PhraseQuery, Query, RegexPhraseQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

/// The parts of a message a search key looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Body,
    Header,
    Subject,
    From,
    To,
    Cc,
    Bcc,
}

impl Area {
    pub const ALL: [Area; 7] = [
        Area::Body,
        Area::Header,
        Area::Subject,
        Area::From,
        Area::To,
        Area::Cc,
        Area::Bcc,
    ];

    fn name(self) -> &'static str {
        match self {
            Area::Body => "body",
            Area::Header => "header",
            Area::Subject => "subject",
            Area::From => "from",
            Area::To => "to",
            Area::Cc => "cc",
            Area::Bcc => "bcc",
        }
    }

    /// The area SUBJECT, FROM, TO, CC or BCC searches.
    pub fn of_header(name: &str) -> Option<Area> {
        Some(match name.to_ascii_lowercase().as_str() {
            "subject" => Area::Subject,
            "from" => Area::From,
            "to" => Area::To,
            "cc" => Area::Cc,
            "bcc" => Area::Bcc,
            _ => return None,
        })
    }
}

/// One message's folded text, per area.
pub struct IndexDoc {
    pub mailbox: i64,
    pub uid: u32,
    pub cjk: bool,
    pub areas: Vec<(Area, String)>,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    mailbox: Field,
    uid: Field,
    areas: [Field; 7],
}

impl Fields {
    fn area(&self, a: Area) -> Field {
        // `Area::ALL` lists the variants in declaration order.
        self.areas[a as usize]
    }
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Option<IndexWriter>>,
    terms: TermLists,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_u64_field("key", NumericOptions::default().set_indexed());
    let mailbox = b.add_u64_field("mailbox", NumericOptions::default().set_indexed());
    let uid = b.add_u64_field("uid", NumericOptions::default().set_fast());
    // Positions for phrases; frequencies come with them in tantivy's format.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let areas = Area::ALL.map(|a| b.add_text_field(a.name(), text.clone()));
    (
        b.build(),
        Fields {
            key,
            mailbox,
            uid,
            areas,
        },
    )
}

/// Tokenizers are not stored with the index: every opening registers ours.
fn with_tokenizer(index: Index) -> Index {
    index
        .tokenizers()
        .register(tokenizer::NAME, tokenizer::RoostTokenizer::default());
    index
}

fn reader(index: &Index) -> Result<IndexReader> {
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(err)
}

/// Opens an existing index only if it has this schema, every file's checksum holds, and its
/// segments open: anything less is rebuilt from the store.
fn open_checked(dir: &Path, schema: &Schema) -> Result<(Index, IndexReader)> {
    let index = with_tokenizer(Index::open_in_dir(dir).map_err(err)?);
    if index.schema() != *schema {
        return Err(err("its schema is from another version"));
    }
    let damaged = index.validate_checksum().map_err(err)?;
    if !damaged.is_empty() {
        return Err(err(format!("{} damaged files", damaged.len())));
    }
    let reader = reader(&index)?;
    Ok((index, reader))
}

fn key(mailbox: i64, uid: u32) -> u64 {
    ((mailbox as u64) << 32) | u64::from(uid)
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("search index: {e}"))
}

fn pattern(step: &Step) -> String {
    let e = regex_syntax::escape;
    match step {
        Step::Exact(s) => e(s),
        Step::Suffix(s) => format!(".*{}", e(s)),
        Step::Prefix(s) => format!("{}.*", e(s)),
        Step::Infix(s) => format!(".*{}.*", e(s)),
    }
}

/// Dictionary terms a regex phrase may expand to, over all its steps, before it gives up.
const MAX_EXPANSIONS: u32 = 1 << 15;
/// Terms one phrase step may list as an alternation rather than as its pattern.
const MAX_ALTERNATION: usize = 256;

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one; true in the second place when it is new
    /// (or was unreadable and replaced), so that every message must be indexed again.
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool)> {
        let (schema, fields) = schema();
        let existing = dir.join("meta.json").exists();
        let opened = if existing {
            match open_checked(dir, &schema) {
                Ok(pair) => Some(pair),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "search index unreadable or outdated; rebuilding it");
                    None
                }
            }
        } else {
            None
        };
        let ((index, reader), fresh) = match opened {
            Some(pair) => (pair, false),
            None => {
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir)?;
                let index = with_tokenizer(Index::create_in_dir(dir, schema).map_err(err)?);
                let reader = reader(&index)?;
                ((index, reader), true)
            }
        };
        Ok((
            SearchIndex {
                index,
                reader,
                fields,
                writer: Mutex::new(None),
                terms: TermLists::default(),
            },
            fresh,
        ))
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter, Fields) -> Result<T>) -> Result<T> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            // One thread and a modest arena: a NAS has little memory to spare.
            *guard = Some(
                self.index
                    .writer_with_num_threads(1, 15_000_000)
                    .map_err(err)?,
            );
        }
        match guard.as_mut() {
            Some(w) => f(w, self.fields),
            None => Err(err("no writer")),
        }
    }

    /// Adds (or replaces) the documents of a batch and deletes the expunged ones, in one commit.
    pub fn apply(&self, add: Vec<IndexDoc>, delete: &[(i64, u32)]) -> Result<()> {
        self.with_writer(|w, f| {
            for (mailbox, uid) in delete {
                w.delete_term(Term::from_field_u64(f.key, key(*mailbox, *uid)));
            }
            for d in add {
                w.delete_term(Term::from_field_u64(f.key, key(d.mailbox, d.uid)));
                let mut doc = TantivyDocument::default();
                doc.add_u64(f.key, key(d.mailbox, d.uid));
                doc.add_u64(f.mailbox, d.mailbox as u64);
                doc.add_u64(f.uid, u64::from(d.uid));
                for (area, text) in d.areas {
                    if !text.is_empty() {
                        doc.add_text(f.area(area), tokenizer::value(&text, d.cjk));
                    }
                }
                w.add_document(doc).map_err(err)?;
            }
            w.commit().map_err(err)?;
            Ok(())
        })?;
        self.reader.reload().map_err(err)
    }

    /// Deletes every document (before a full rebuild).
    pub fn clear(&self) -> Result<()> {
        self.with_writer(|w, _| {
            w.delete_all_documents().map_err(err)?;
            w.commit().map_err(err)?;
            Ok(())
        })?;
        self.reader.reload().map_err(err)
    }

    /// The query for a phrase in one field, with every step that is not exact expanded to the
    /// dictionary terms it allows; None when some step allows none (nothing matches).
    fn phrase_query(
        &self,
        searcher: &Searcher,
        field: Field,
        phrase: &Phrase,
    ) -> Result<Option<Box<dyn Query>>> {
        let mut expanded = Vec::with_capacity(phrase.steps.len());
        for (offset, step) in &phrase.steps {
            let terms = self.terms.expand(searcher, field, step)?;
            if terms.is_empty() {
                return Ok(None);
            }
            expanded.push((*offset as usize, step, terms));
        }
        let term = |t: &str| Term::from_field_text(field, t);
        Ok(Some(match expanded.as_slice() {
            [(_, _, terms)] => Box::new(TermSetQuery::new(terms.iter().map(|t| term(t)))),
            _ if expanded.iter().all(|(_, _, t)| t.len() == 1) => {
                Box::new(PhraseQuery::new_with_offset(
                    expanded.iter().map(|(o, _, t)| (*o, term(&t[0]))).collect(),
                ))
            }
            _ => {
                let steps = expanded
                    .iter()
                    .map(|(o, step, terms)| {
                        // A short alternation walks only the dictionary paths it names; a
                        // long one would make a large automaton, so the pattern is used.
                        let p = if terms.len() <= MAX_ALTERNATION {
                            let alts: Vec<String> =
                                terms.iter().map(|t| regex_syntax::escape(t)).collect();
                            format!("(?:{})", alts.join("|"))
                        } else {
                            pattern(step)
                        };
                        (*o, p)
                    })
                    .collect();
                let mut q = RegexPhraseQuery::new_with_offset(field, steps);
                q.set_max_expansions(MAX_EXPANSIONS);
                Box::new(q)
            }
        }))
    }

    /// UIDs in `mailbox` whose text in any of `areas` holds the phrase.
    pub fn matching(&self, mailbox: i64, areas: &[Area], phrase: &Phrase) -> Result<Vec<u32>> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        self.terms.retain(&searcher);
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for a in areas {
            if let Some(q) = self.phrase_query(&searcher, f.area(*a), phrase)? {
                any.push((Occur::Should, q));
            }
        }
        if any.is_empty() {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.mailbox, mailbox as u64),
                    IndexRecordOption::Basic,
                )),
            ),
            (Occur::Must, Box::new(BooleanQuery::new(any))),
        ]);
        let docs = searcher.search(&query, &DocSetCollector).map_err(err)?;
        let mut columns = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            let col = match columns.entry(d.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(
                    searcher
                        .segment_reader(d.segment_ord)
                        .fast_fields()
                        .u64("uid")
                        .map_err(err)?,
                ),
            };
            if let Some(uid) = col.first(d.doc_id) {
                out.push(uid as u32);
            }
        }
        Ok(out)
    }
}

/// Bytes the index at `dir` takes on disk.
pub fn disk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Documents in the index at `dir`, read without taking the writer's lock.
pub fn document_count(dir: &Path) -> Result<u64> {
    let index = Index::open_in_dir(dir).map_err(err)?;
    Ok(reader(&index)?.searcher().num_docs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::extract::fold;
    use crate::search::terms::needle_phrase;

    /// The index answers phrases as the reference matcher does, over real tantivy segments.
    #[test]
    fn phrases_in_the_index_agree_with_the_tokens() {
        let dir = std::env::temp_dir().join(format!("roost-index-test-{}", std::process::id()));
        let (idx, fresh) = SearchIndex::open(&dir).unwrap();
        assert!(fresh);
        let texts = [
            "the quarterly report, as promised",
            "quarterly\nreport follows",
            "unquarterly reports (draft)",
            "会议记录 in 南京市长江大桥",
            "a.b-c (x) [y] $z^ *w+ ?",
        ];
        let docs = texts
            .iter()
            .enumerate()
            .map(|(i, t)| IndexDoc {
                mailbox: 7,
                uid: i as u32 + 1,
                cjk: true,
                areas: vec![(Area::Body, fold(t))],
            })
            .collect();
        idx.apply(docs, &[]).unwrap();
        for needle in [
            "quarterly report",
            "ly rep",
            "arterly report",
            "terly\nrepo",
            "report",
            "市长",
            "会议",
            "议记录 in 南",
            "b-c (x) [y] $z^ *w+",
            "(draft)",
        ] {
            let p = needle_phrase(needle, true).unwrap();
            let mut got = idx.matching(7, &[Area::Body], &p).unwrap();
            got.sort();
            let want: Vec<u32> = texts
                .iter()
                .enumerate()
                .filter(|(_, t)| fold(t).contains(&fold(needle)))
                .map(|(i, _)| i as u32 + 1)
                .collect();
            if p.exact {
                assert_eq!(got, want, "{needle:?}");
            } else {
                assert!(want.iter().all(|u| got.contains(u)), "{needle:?}");
            }
            assert!(idx.matching(8, &[Area::Body], &p).unwrap().is_empty());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
