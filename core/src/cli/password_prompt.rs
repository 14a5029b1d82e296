//! Getting a password from a person: one line on stdin with --password-stdin (scripts), else
//! asked twice at the terminal with echo off.

use crate::error::{Error, Result};
use std::io::{BufRead, IsTerminal, Write};

pub fn obtain(from_stdin: bool, address: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            return Err(Error::Invalid("no password on standard input".into()));
        }
        return Ok(pw);
    }
    let first = ask(&format!("Password for {address}: "))?;
    let second = ask("Again: ")?;
    if first != second {
        return Err(Error::Invalid(
            "the two passwords differ; nothing was changed".into(),
        ));
    }
    Ok(first)
}

fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal file descriptor.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin, term points at a valid termios.
    let have_term = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    if have_term {
        let mut quiet = term;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: as above; restores below.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_term {
        // SAFETY: restoring the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
