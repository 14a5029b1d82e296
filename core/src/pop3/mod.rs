//! The POP3 server: `pop3` (110, STLS) and `pop3s` (995, implicit TLS). Messages are INBOX's;
//! deletions happen at QUIT; one session per mailbox at a time.

pub mod command;
mod session;

use crate::context::Shared;
use crate::net::{Conn, tls_accept, tls_info};
use session::{Outcome, State};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub async fn handle(shared: Arc<Shared>, implicit_tls: bool, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    if implicit_tls {
        let Some(tls) = tls_accept(&shared, stream, peer).await else {
            return;
        };
        let mut st = State::new(peer, Some(tls_info(&tls)), "pop3s");
        let mut conn = Conn::new(tls);
        session::greet(&mut conn).await;
        session::run(&mut conn, &mut st, &shared).await;
        return;
    }
    let mut conn = Conn::new(stream);
    session::greet(&mut conn).await;
    let mut st = State::new(peer, None, "pop3");
    if let Outcome::StartTls = session::run(&mut conn, &mut st, &shared).await {
        let Some(tls) = tls_accept(&shared, conn.into_stream(), peer).await else {
            return;
        };
        st = State::new(peer, Some(tls_info(&tls)), "pop3");
        let mut conn = Conn::new(tls);
        session::run(&mut conn, &mut st, &shared).await;
    }
}
