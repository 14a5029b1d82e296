//! Roost: a complete mail server for a NAS. Every behaviour lives in this library; the `roost`
//! binary, the C ABI and the admin console are front ends over `admin`.

pub mod accept;
pub mod address;
pub mod admin;
pub mod cli;
pub mod config;
pub mod context;
pub mod directory;
pub mod dkim;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod imap;
pub mod logging;
pub mod memory;
pub mod net;
pub mod netaddr;
pub mod outbound;
pub mod pop3;
pub mod protect;
pub mod rfc5322;
pub mod search;
pub mod server;
pub mod smtp;
pub mod store;
pub mod tls;
pub mod util;
