//! SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms. The SASL decoding is
//! plain functions; the exchange with the client is the only I/O.

use super::session::{Flow, State};
use crate::config::Config;
use crate::context::{Login, Shared};
use crate::net::sasl::{Credentials, decode_plain, decode_text};
use crate::net::{Conn, Line};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

enum Step {
    Got(String),
    Cancelled,
    Failed,
}

async fn challenge<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    prompt: &str,
    cfg: &Config,
) -> Step {
    conn.reply(&format!("334 {prompt}"));
    if conn.flush().await.is_err() {
        return Step::Failed;
    }
    match conn
        .read_line(
            12288,
            Duration::from_secs(cfg.smtp.command_timeout_secs),
            None,
        )
        .await
    {
        Ok(Line::Complete(l)) if l == b"*" => Step::Cancelled,
        Ok(Line::Complete(l)) => match String::from_utf8(l) {
            Ok(s) => Step::Got(s),
            Err(_) => Step::Got(String::new()),
        },
        _ => Step::Failed,
    }
}

pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cfg: &Config,
    mechanism: &str,
    initial: Option<String>,
) -> Flow {
    let ip = st.peer.ip().to_canonical();
    if shared.guard.is_blocked(ip) {
        conn.reply("454 4.7.0 Too many failed logins from your address; try again later");
        return Flow::Continue;
    }
    let creds = match mechanism {
        "PLAIN" => {
            let text = match initial {
                // "=" is an empty initial response (RFC 4954 4).
                Some(t) if t != "=" => t,
                _ => match challenge(conn, "", cfg).await {
                    Step::Got(t) => t,
                    Step::Cancelled => return cancelled(conn),
                    Step::Failed => return Flow::Close,
                },
            };
            decode_plain(&text)
        }
        "LOGIN" => {
            let login = match initial {
                Some(t) => Ok(t),
                None => match challenge(conn, "VXNlcm5hbWU6", cfg).await {
                    Step::Got(t) => Ok(t),
                    Step::Cancelled => return cancelled(conn),
                    Step::Failed => return Flow::Close,
                },
            };
            match login.and_then(|l| decode_text(&l).map_err(|_| "invalid base64")) {
                Ok(login) => match challenge(conn, "UGFzc3dvcmQ6", cfg).await {
                    Step::Got(p) => decode_text(&p).map(|password| Credentials { login, password }),
                    Step::Cancelled => return cancelled(conn),
                    Step::Failed => return Flow::Close,
                },
                Err(e) => Err(e),
            }
        }
        _ => {
            conn.reply("504 5.5.4 Unrecognized authentication mechanism; use PLAIN or LOGIN");
            return Flow::Continue;
        }
    };
    let creds = match creds {
        Ok(c) => c,
        Err(why) => {
            conn.reply(&format!("501 5.5.2 Cannot decode the response: {why}"));
            return Flow::Continue;
        }
    };
    match crate::context::login(
        shared,
        ip,
        &creds.login,
        &creds.password,
        st.service.name(),
        mechanism,
    )
    .await
    {
        Login::Ok(user) => {
            st.auth = Some(user);
            conn.reply("235 2.7.0 Authentication successful");
        }
        Login::Failed => conn.reply("535 5.7.8 Authentication credentials invalid"),
        Login::Blocked => {
            conn.reply("454 4.7.0 Too many failed logins from your address; try again later")
        }
    }
    Flow::Continue
}

fn cancelled<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>) -> Flow {
    conn.reply("501 5.0.0 Authentication cancelled");
    Flow::Continue
}
