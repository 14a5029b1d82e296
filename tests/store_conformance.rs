//! The store's interface, as every backend must keep it: the typed operations the rest of
//! Roost calls (accounts, domains, aliases, mailboxes, messages, the queue, settings, search
//! bookkeeping, DKIM keys), their errors, and the transaction rules (one commit per write, a
//! failed write leaves nothing, a snapshot sees one state).
//!
//! `backend` is the only line that names an engine. The cluster's PostgreSQL store will run
//! these same cases with its own `backend`.

mod common;

use common::TempDir;
use roost_core::accept::{self, Content, Filing, Incoming, Local, Remote};
use roost_core::directory::{self, Address, NewAccount, RcptError};
use roost_core::error::Error;
use roost_core::store::messages::{self, FlagOp};
use roost_core::store::{self, Outcome, QueueFilter, QueueState, Store};
use std::path::Path;

fn backend(dir: &Path) -> Store {
    Store::open(dir).expect("the store opens")
}

/// Runs one case on a fresh store.
fn case(f: impl FnOnce(&Store)) {
    let dir = TempDir::new("store");
    let s = backend(&dir.0);
    f(&s);
    s.close();
}

fn domain(s: &Store, name: &str) {
    let n = name.to_string();
    s.write(move |c| directory::domain_add(c, &n).map(|_| ()))
        .unwrap();
}

fn account(s: &Store, address: &str, quota: u64) -> i64 {
    let a = address.to_string();
    s.write(move |c| {
        directory::account_add(
            c,
            &NewAccount {
                address: &a,
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
                name: "",
                quota,
                admin: false,
            },
        )?;
        directory::account_id(c, &a)
    })
    .unwrap()
}

fn inbox(s: &Store, account: i64) -> i64 {
    s.read(move |c| store::mailbox_id(c, account, "INBOX"))
        .unwrap()
        .expect("INBOX exists")
}

/// Delivers `msg` to INBOX of `accounts` (and queues it for `remote`) through the one way in.
fn deliver(s: &Store, accounts: &[i64], remote: &[&str], msg: &[u8]) -> Vec<accept::Stored> {
    let m = Incoming {
        queue_id: accept::new_queue_id(),
        return_path: Some("sender@far.test".into()),
        trace: "Received: by conformance\r\n".into(),
        header: Some(store::header_of(msg).to_vec()),
        local: accounts.iter().map(|a| Local::inbox(*a)).collect(),
        remote: (!remote.is_empty()).then(|| Remote {
            sender: "sender@far.test".into(),
            recipients: remote.iter().map(|r| r.to_string()).collect(),
            signature: None,
            auth_user: None,
            client_ip: "192.0.2.1".into(),
        }),
        sent_by: None,
        arrival: None,
    };
    let prepared = accept::prepare(s.blobs(), &m, &Content::Bytes(msg.to_vec().into()))
        .unwrap_or_else(|_| panic!("prepared"));
    let prepared = std::sync::Arc::new(prepared);
    let p = prepared.clone();
    s.write(move |c| p.apply(c)).unwrap()
}

#[test]
fn domains_accounts_and_their_errors() {
    case(|s| {
        domain(s, "Example.TEST");
        let again = s.write(|c| directory::domain_add(c, "example.test").map(|_| ()));
        assert!(matches!(again, Err(Error::Exists(_))), "{again:?}");
        let bad = s.write(|c| directory::domain_add(c, "not a domain").map(|_| ()));
        assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
        let id = account(s, "alice@example.test", 0);
        let info = s
            .read(|c| directory::user_info(c, "ALICE@example.test"))
            .unwrap();
        assert_eq!(info.address, "alice@example.test");
        let missing = s.read(|c| directory::user_info(c, "bob@example.test"));
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
        let foreign = s.write(|c| {
            directory::account_add(
                c,
                &NewAccount {
                    address: "carol@elsewhere.test",
                    password_hash: "x",
                    name: "",
                    quota: 0,
                    admin: false,
                },
            )
            .map(|_| ())
        });
        assert!(foreign.is_err(), "an account needs a local domain");
        let domains = s.read(directory::domain_list).unwrap();
        assert_eq!(domains.len(), 1);
        assert_eq!(domains[0].accounts, 1);
        let busy = s.write(|c| directory::domain_remove(c, "example.test"));
        assert!(
            matches!(busy, Err(Error::Conflict(_))),
            "a domain with accounts stays: {busy:?}"
        );
        let login = s
            .read(|c| directory::authenticate_lookup(c, "alice@example.test"))
            .unwrap()
            .expect("alice can be looked up to log in");
        assert_eq!(login.id, id);
    });
}

#[test]
fn recipients_resolve_through_aliases_sub_addresses_domain_aliases_and_catch_all() {
    case(|s| {
        domain(s, "example.test");
        let alice = account(s, "alice@example.test", 0);
        let bob = account(s, "bob@example.test", 0);
        s.write(|c| {
            directory::alias_add(
                c,
                "team@example.test",
                &[
                    "alice@example.test".into(),
                    "bob@example.test".into(),
                    "out@far.test".into(),
                ],
            )?;
            directory::domain_alias_add(c, "example.org", "example.test")
        })
        .unwrap();
        let resolve = |addr: &str, catchall: bool| {
            let a = Address::parse(addr).unwrap();
            s.read(move |c| directory::resolve(c, &a, "+", catchall))
                .unwrap()
        };
        let team = resolve("team@example.test", true).unwrap();
        let mut ids: Vec<i64> = team.accounts.iter().map(|a| a.id).collect();
        ids.sort();
        assert_eq!(ids, {
            let mut v = vec![alice, bob];
            v.sort();
            v
        });
        assert_eq!(team.external, ["out@far.test"]);
        assert_eq!(
            resolve("alice+news@example.test", true).unwrap().accounts[0].id,
            alice
        );
        assert_eq!(
            resolve("bob@example.org", true).unwrap().accounts[0].id,
            bob
        );
        assert_eq!(
            resolve("nobody@example.test", true),
            Err(RcptError::NoSuchUser)
        );
        assert_eq!(resolve("x@far.test", true), Err(RcptError::NotLocal));
        s.write(|c| directory::catchall_set(c, "example.test", Some("alice@example.test")))
            .unwrap();
        assert_eq!(
            resolve("nobody@example.test", true).unwrap().accounts[0].id,
            alice
        );
        assert_eq!(
            resolve("nobody@example.test", false),
            Err(RcptError::NoSuchUser)
        );
        s.write(|c| directory::account_set_disabled(c, "bob@example.test", true))
            .unwrap();
        assert_eq!(resolve("bob@example.test", true), Err(RcptError::Disabled));
    });
}

#[test]
fn mailboxes_keep_names_uidvalidity_and_children() {
    case(|s| {
        domain(s, "example.test");
        let a = account(s, "alice@example.test", 0);
        let names = |s: &Store| {
            let mut n: Vec<String> = s
                .read(move |c| store::mailboxes::list(c, a))
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect();
            n.sort();
            n
        };
        for m in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
            assert!(
                names(s).contains(&m.to_string()),
                "{m} made with the account"
            );
        }
        s.write(move |c| store::mailboxes::create(c, a, "Work/2026").map(|_| ()))
            .unwrap();
        let dup = s.write(move |c| store::mailboxes::create(c, a, "Work/2026").map(|_| ()));
        assert!(matches!(dup, Err(Error::Exists(_))), "{dup:?}");
        let before = s
            .read(move |c| store::mailbox_id(c, a, "Work/2026"))
            .unwrap()
            .unwrap();
        let v1 = s
            .read(move |c| messages::mailbox_state(c, before))
            .unwrap()
            .uidvalidity;
        s.write(move |c| store::mailboxes::rename(c, a, "Work", "Jobs"))
            .unwrap();
        assert!(
            names(s).contains(&"Jobs/2026".to_string()),
            "{:?}",
            names(s)
        );
        let after = s
            .read(move |c| store::mailbox_id(c, a, "Jobs/2026"))
            .unwrap()
            .unwrap();
        assert_eq!(after, before, "a rename keeps the mailbox");
        let v2 = s
            .read(move |c| messages::mailbox_state(c, after))
            .unwrap()
            .uidvalidity;
        assert_eq!(v1, v2);
        let parent = s.write(move |c| store::mailboxes::delete(c, a, "Jobs"));
        assert!(
            matches!(parent, Err(Error::Conflict(_))),
            "a parent with children stays: {parent:?}"
        );
        s.write(move |c| store::mailboxes::delete(c, a, "Jobs/2026"))
            .unwrap();
        assert!(!names(s).iter().any(|n| n.starts_with("Jobs/")));
    });
}

#[test]
fn messages_get_rising_uids_flags_modseqs_quota_and_shared_blobs() {
    case(|s| {
        domain(s, "example.test");
        let alice = account(s, "alice@example.test", 0);
        let bob = account(s, "bob@example.test", 0);
        let msg = b"Subject: one\r\n\r\nbody\r\n";
        let stored = deliver(s, &[alice, bob], &[], msg);
        assert_eq!(stored.len(), 2);
        let second = deliver(s, &[alice], &[], b"Subject: two\r\n\r\nmore\r\n");
        let (b1, b2) = (inbox(s, alice), inbox(s, bob));
        let metas = s.read(move |c| messages::messages(c, b1)).unwrap();
        assert_eq!(metas.len(), 2);
        assert!(metas[0].uid < metas[1].uid);
        assert_eq!(second[0].uid, metas[1].uid);
        let bobs = s.read(move |c| messages::messages(c, b2)).unwrap();
        assert_eq!(bobs[0].blob, metas[0].blob, "one blob for every recipient");
        let body = s.blobs().read(&metas[0].blob).unwrap();
        assert!(body.starts_with(b"Return-Path: <sender@far.test>\r\nReceived: by conformance"));
        assert!(body.ends_with(msg));
        let header = s
            .read({
                let blob = metas[0].blob.clone();
                move |c| store::cached_header(c, &blob)
            })
            .unwrap()
            .expect("the header is cached");
        assert!(header.ends_with(b"Subject: one\r\n\r\n"));

        let st0 = s.read(move |c| messages::mailbox_state(c, b1)).unwrap();
        assert_eq!((st0.exists, st0.unseen), (2, 2));
        let uid = metas[0].uid;
        let (changed, _) = s
            .write(move |c| {
                messages::store_flags(
                    c,
                    b1,
                    &[uid],
                    FlagOp::Add,
                    store::flags::SEEN | store::flags::DELETED,
                    &["$Work".into()],
                    None,
                )
            })
            .unwrap();
        assert_eq!(changed.len(), 1);
        assert!(changed[0].modseq > metas[0].modseq);
        assert!(changed[0].keywords.contains("$Work"));
        let st1 = s.read(move |c| messages::mailbox_state(c, b1)).unwrap();
        assert_eq!(st1.unseen, 1);
        assert!(st1.highestmodseq >= changed[0].modseq);
        let (since, _) = s
            .read(move |c| messages::changes_since(c, b1, st0.highestmodseq))
            .unwrap();
        assert_eq!(since.iter().map(|m| m.uid).collect::<Vec<_>>(), [uid]);
        assert_eq!(s.read(move |c| messages::deleted_count(c, b1)).unwrap(), 1);

        let used = |s: &Store, who: &str| {
            let w = who.to_string();
            s.read(move |c| directory::user_info(c, &w)).unwrap().used
        };
        let before = used(s, "alice@example.test");
        assert!(before > 0, "delivery counts against the quota");
        let gone = s.write(move |c| messages::expunge(c, b1, None)).unwrap();
        assert_eq!(gone, [uid]);
        assert!(used(s, "alice@example.test") < before);
        let (_, vanished) = s
            .read(move |c| messages::changes_since(c, b1, st1.highestmodseq))
            .unwrap();
        assert_eq!(vanished, [uid]);

        let sent = s
            .read(move |c| store::mailbox_id(c, alice, "Sent"))
            .unwrap()
            .unwrap();
        let keep = metas[1].uid;
        let copied = s
            .write(move |c| messages::copy(c, b1, sent, &[keep]))
            .unwrap();
        assert_eq!(copied.len(), 1);
        assert_eq!(copied[0].0, keep);
        let in_sent = s.read(move |c| messages::messages(c, sent)).unwrap();
        assert_eq!(in_sent[0].blob, metas[1].blob, "a copy shares the blob");
    });
}

#[test]
fn a_chosen_mailbox_gets_the_flags_and_date_given() {
    case(|s| {
        domain(s, "example.test");
        let a = account(s, "alice@example.test", 0);
        let drafts = s
            .read(move |c| store::mailbox_id(c, a, "Drafts"))
            .unwrap()
            .unwrap();
        let m = Incoming {
            queue_id: accept::new_queue_id(),
            return_path: None,
            trace: String::new(),
            header: Some(b"Subject: draft\r\n\r\n".to_vec()),
            local: vec![Local {
                account_id: a,
                into: Filing::Mailbox {
                    id: drafts,
                    flags: store::flags::DRAFT,
                    keywords: vec!["$Todo".into()],
                    internal_date: Some(1_700_000_000),
                },
            }],
            remote: None,
            sent_by: None,
            arrival: None,
        };
        let msg = b"Subject: draft\r\n\r\nhello\r\n";
        let p = std::sync::Arc::new(
            accept::prepare(s.blobs(), &m, &Content::Bytes(msg.to_vec().into()))
                .unwrap_or_else(|_| panic!("prepared")),
        );
        let p2 = p.clone();
        let stored = s.write(move |c| p2.apply(c)).unwrap();
        let state = s.read(move |c| messages::mailbox_state(c, drafts)).unwrap();
        assert_eq!(stored[0].uidvalidity, Some(state.uidvalidity));
        let meta = &s.read(move |c| messages::messages(c, drafts)).unwrap()[0];
        assert_eq!(meta.uid, stored[0].uid);
        assert_eq!(meta.internal_date, 1_700_000_000);
        assert!(meta.flags & store::flags::DRAFT != 0);
        assert_eq!(meta.keywords, "$Todo");
        assert_eq!(s.blobs().read(&meta.blob).unwrap(), msg, "filed as given");
    });
}

#[test]
fn the_queue_keeps_recipients_until_their_outcome() {
    case(|s| {
        domain(s, "example.test");
        let a = account(s, "alice@example.test", 0);
        deliver(
            s,
            &[a],
            &["x@far.test", "y@far.test"],
            b"Subject: out\r\n\r\nhi\r\n",
        );
        let all = s
            .read(|c| store::queue_list(c, &QueueFilter::default()))
            .unwrap();
        assert_eq!(all.len(), 1);
        let id = all[0].id.clone();
        assert_eq!(all[0].recipients.len(), 2);
        let due = s
            .read(|c| store::queue_due(c, store::now() + 1, 100))
            .unwrap();
        assert_eq!(due.len(), 2);
        let (i2, i3) = (id.clone(), id.clone());
        s.write(move |c| {
            store::queue_set_state(c, &i2, &["x@far.test".into()], QueueState::Active)
        })
        .unwrap();
        assert_eq!(s.write(store::queue_reset_active).unwrap(), 1);
        let next = store::now() + 600;
        s.write(move |c| {
            store::queue_record(
                c,
                &i3,
                &[
                    ("x@far.test".into(), Outcome::Done),
                    (
                        "y@far.test".into(),
                        Outcome::Deferred {
                            next,
                            error: "451 try later".into(),
                        },
                    ),
                ],
                &[],
            )
        })
        .unwrap();
        let entry = s.read(move |c| store::queue_get(c, &id)).unwrap();
        assert_eq!(entry.recipients.len(), 1);
        assert_eq!(entry.recipients[0].address, "y@far.test");
        assert_eq!(entry.recipients[0].last_error, "451 try later");
        assert!(
            s.read(|c| store::queue_due(c, store::now(), 100))
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.read(store::queue_next_due).unwrap(), Some(next));
        let missing = s.read(|c| store::queue_get(c, "NOSUCHID"));
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    });
}

#[test]
fn settings_search_bookkeeping_and_dkim_keys_are_kept() {
    case(|s| {
        domain(s, "example.test");
        let a = account(s, "alice@example.test", 0);
        s.write(|c| store::search::set_state(c, "expunge_cursor", 42))
            .unwrap();
        assert_eq!(
            s.read(|c| store::search::state(c, "expunge_cursor"))
                .unwrap(),
            42
        );
        assert_eq!(s.read(|c| store::search::state(c, "never_set")).unwrap(), 0);
        deliver(s, &[a], &[], b"Subject: index me\r\n\r\nwords\r\n");
        let pending = s.read(|c| store::search::unindexed(c, 10)).unwrap();
        assert_eq!(pending.len(), 1);
        let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
        s.write(move |c| store::search::mark_indexed(c, &ids))
            .unwrap();
        assert_eq!(s.read(store::search::unindexed_count).unwrap(), 0);
        assert_eq!(
            s.write(move |c| store::search::reset(c, Some(a))).unwrap(),
            1
        );
        assert_eq!(s.read(store::search::unindexed_count).unwrap(), 1);
        s.write(move |c| store::search::set_cjk(c, Some(a), None, true).map(|_| ()))
            .unwrap();
        assert!(s.read(store::search::cjk_accounts).unwrap().contains(&a));

        let key = roost_core::dkim::generate("example.test", "sel1", 0).unwrap();
        let public = key.public_key.clone();
        s.write(move |c| store::dkim::put(c, &key)).unwrap();
        let back = s
            .read(|c| store::dkim::get(c, "example.test"))
            .unwrap()
            .expect("the key is kept");
        assert_eq!(back.selector, "sel1");
        assert_eq!(back.public_key, public);
        assert!(!back.private_key.is_empty());
        assert_eq!(s.read(store::dkim::list).unwrap().len(), 1);
    });
}

#[test]
fn a_failed_write_leaves_nothing_and_others_commit() {
    case(|s| {
        domain(s, "example.test");
        let failed = s.write(|c| {
            directory::domain_add(c, "half.test")?;
            Err::<(), _>(Error::Invalid("changed my mind".into()))
        });
        assert!(failed.is_err());
        let names: Vec<String> = s
            .read(directory::domain_list)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["example.test"], "nothing of the failed write stays");
        // Concurrent writers, some failing: each commits or fails on its own.
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    s.write(move |c| {
                        directory::domain_add(c, &format!("d{i}.test"))?;
                        if i % 2 == 1 {
                            return Err(Error::Invalid("odd".into()));
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        let results: Vec<bool> = threads
            .into_iter()
            .map(|t| t.join().unwrap().is_ok())
            .collect();
        assert_eq!(
            results,
            [true, false, true, false, true, false, true, false]
        );
        let count = s.read(directory::domain_list).unwrap().len();
        assert_eq!(count, 1 + 4);
    });
}

#[test]
fn a_snapshot_sees_one_state_and_expunged_blobs_are_removed() {
    case(|s| {
        domain(s, "example.test");
        let a = account(s, "alice@example.test", 0);
        deliver(s, &[a], &[], b"Subject: x\r\n\r\ny\r\n");
        let b = inbox(s, a);
        let (listed, state) = s
            .snapshot(move |c| Ok((messages::messages(c, b)?, messages::mailbox_state(c, b)?)))
            .unwrap();
        assert_eq!(listed.len() as u32, state.exists);
        let blob = listed[0].blob.clone();
        let uid = listed[0].uid;
        let kept = s.write(move |c| messages::expunge(c, b, None)).unwrap();
        assert!(
            kept.is_empty(),
            "EXPUNGE takes only what is marked \\Deleted"
        );
        s.write(move |c| {
            messages::store_flags(c, b, &[uid], FlagOp::Add, store::flags::DELETED, &[], None)
        })
        .unwrap();
        assert_eq!(
            s.write(move |c| messages::expunge(c, b, None)).unwrap(),
            [uid]
        );
        let b2 = blob.clone();
        assert!(!s.read(move |c| store::blob_known(c, &b2)).unwrap());
        // The store removes the file of a blob nothing names after the commit, by itself.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while s.blobs().read(&blob).is_ok() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            s.blobs().read(&blob).is_err(),
            "the expunged message's blob goes"
        );
        assert_eq!(
            store::collect_garbage(s).unwrap(),
            0,
            "nothing is left to collect"
        );
    });
}
