//! The tantivy index beside the store: one document per message, keyed by (mailbox, uid), whose
//! only text field holds the message's search terms (no positions, no stored text: it narrows
//! SEARCH, the store answers it).

use super::terms::Constraint;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    mailbox: Field,
    uid: Field,
    text: Field,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Option<IndexWriter>>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_u64_field("key", NumericOptions::default().set_indexed());
    let mailbox = b.add_u64_field("mailbox", NumericOptions::default().set_indexed());
    let uid = b.add_u64_field("uid", NumericOptions::default().set_fast());
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic),
        ),
    );
    (
        b.build(),
        Fields {
            key,
            mailbox,
            uid,
            text,
        },
    )
}

fn key(mailbox: i64, uid: u32) -> u64 {
    ((mailbox as u64) << 32) | u64::from(uid)
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("search index: {e}"))
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one; true in the second place when it is new
    /// (or was unreadable and replaced), so that every message must be indexed again.
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool)> {
        let (schema, fields) = schema();
        let existing = dir.join("meta.json").exists();
        let opened = if existing {
            Index::open_in_dir(dir)
                .ok()
                .filter(|i| i.schema() == schema)
        } else {
            None
        };
        let (index, fresh) = match opened {
            Some(i) => (i, false),
            None => {
                if existing {
                    tracing::warn!(dir = %dir.display(), "search index unreadable or outdated; rebuilding it");
                }
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir)?;
                (Index::create_in_dir(dir, schema).map_err(err)?, true)
            }
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok((
            SearchIndex {
                index,
                reader,
                fields,
                writer: Mutex::new(None),
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
    pub fn apply(&self, add: &[(i64, u32, Vec<String>)], delete: &[(i64, u32)]) -> Result<()> {
        self.with_writer(|w, f| {
            for (mailbox, uid) in delete {
                w.delete_term(Term::from_field_u64(f.key, key(*mailbox, *uid)));
            }
            for (mailbox, uid, terms) in add {
                w.delete_term(Term::from_field_u64(f.key, key(*mailbox, *uid)));
                let mut doc = TantivyDocument::default();
                doc.add_u64(f.key, key(*mailbox, *uid));
                doc.add_u64(f.mailbox, *mailbox as u64);
                doc.add_u64(f.uid, u64::from(*uid));
                for t in terms {
                    doc.add_text(f.text, t);
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

    /// UIDs in `mailbox` whose documents satisfy every constraint.
    pub fn candidates(&self, mailbox: i64, constraints: &[Constraint]) -> Result<HashSet<u32>> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_u64(f.mailbox, mailbox as u64),
                IndexRecordOption::Basic,
            )),
        )];
        for c in constraints {
            let q: Box<dyn Query> = match c {
                Constraint::Term(t) => Box::new(TermQuery::new(
                    Term::from_field_text(f.text, t),
                    IndexRecordOption::Basic,
                )),
                Constraint::Pattern(p) => {
                    Box::new(RegexQuery::from_pattern(p, f.text).map_err(err)?)
                }
            };
            clauses.push((Occur::Must, q));
        }
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(&BooleanQuery::new(clauses), &DocSetCollector)
            .map_err(err)?;
        let mut columns = std::collections::HashMap::new();
        let mut out = HashSet::with_capacity(docs.len());
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
                out.insert(uid as u32);
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
    let reader: IndexReader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(err)?;
    Ok(reader.searcher().num_docs())
}
