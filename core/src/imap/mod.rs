//! The IMAP server: `imap` (143, STARTTLS) and `imaps` (993, implicit TLS); IMAP4rev1 and, after
//! ENABLE, IMAP4rev2. Parsing is apart from I/O: `token` and `command` turn bytes into commands,
//! `session` runs the state machine, the command families live in their own files.

pub mod command;
mod copy_command;
pub mod date;
pub mod fetch;
mod fetch_command;
mod idle;
mod learn;
mod link_cut;
mod list;
mod mailboxes;
pub mod mime;
pub mod mutf7;
pub mod pattern;
pub mod search;
mod search_command;
mod selected;
mod session;
pub mod sort;
mod store_command;
mod structure;
pub mod thread;
pub mod token;
mod view;

use crate::context::Shared;
use crate::net::{Conn, tls_accept, tls_info};
use session::{Outcome, Session};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub async fn handle(shared: Arc<Shared>, implicit_tls: bool, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    if implicit_tls {
        let Some(tls) = tls_accept(&shared, stream, peer).await else {
            return;
        };
        let mut s = Session::new(peer, Some(tls_info(&tls)), "imaps");
        let mut conn = Conn::new(tls);
        session::greet(&mut conn, &s, &shared).await;
        session::run(&mut conn, &mut s, &shared).await;
        return;
    }
    let mut conn = Conn::new(stream);
    let mut s = Session::new(peer, None, "imap");
    session::greet(&mut conn, &s, &shared).await;
    if let Outcome::StartTls = session::run(&mut conn, &mut s, &shared).await {
        let Some(tls) = tls_accept(&shared, conn.into_stream(), peer).await else {
            return;
        };
        // RFC 3501 6.2.1: everything learned before TLS is forgotten.
        let mut s = Session::new(peer, Some(tls_info(&tls)), "imap");
        let mut conn = Conn::new(tls);
        session::run(&mut conn, &mut s, &shared).await;
    }
}
