//! `roost block` and `roost allow`: the server's and each user's lists of client addresses,
//! networks, senders and sending domains.

use crate::admin::Request;
use crate::store::reputation::ListKind;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ListCmd {
    /// Entries in force (automatic blocks included, with when they lapse).
    List {
        /// One user's own entries instead of every entry.
        #[arg(long)]
        user: Option<String>,
    },
    /// Add an address (192.0.2.7), a network (198.51.100.0/24), a sender (spam@bad.example)
    /// or a whole sending domain (@bad.example).
    Add {
        entry: String,
        /// For one user's mail only, not the whole server.
        #[arg(long)]
        user: Option<String>,
        /// Lapse after this long (e.g. 2h, 7d); without it the entry stays until removed.
        #[arg(long = "for", value_parser = crate::util::parse_duration)]
        duration: Option<u64>,
        /// Why, shown by `list` and in the log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Take an entry off the list.
    Remove {
        entry: String,
        #[arg(long)]
        user: Option<String>,
    },
}

/// `roost quarantine`: messages held instead of delivered.
#[derive(Subcommand)]
pub enum QuarantineCmd {
    /// What is held, why, from whom, for whom.
    List,
    /// One held message's header.
    Show { id: String },
    /// Deliver it to its recipients after all.
    Release { id: String },
    /// Delete it for good.
    Delete { id: String },
}

/// `roost classifier`: what each user's spam classifier learned from their sorting.
#[derive(Subcommand)]
pub enum ClassifierCmd {
    /// Messages learned as spam and as not spam, words kept, whether it decides yet.
    Show {
        #[arg(long)]
        user: Option<String>,
    },
    /// Forget everything a user's classifier learned.
    Reset { user: String },
}

pub fn classifier_request(cmd: ClassifierCmd) -> Request {
    match cmd {
        ClassifierCmd::Show { user } => Request::ClassifierShow { user },
        ClassifierCmd::Reset { user } => Request::ClassifierReset { user },
    }
}

/// `roost reports`: the reports Roost sends to other domains.
#[derive(Subcommand)]
pub enum ReportsCmd {
    /// Queue the TLS reports (RFC 8460), and the DMARC reports when dmarc_reports is on, that
    /// are due now instead of at the hourly look.
    Send {
        /// Today's sessions too, so far (the day is otherwise reported once it is over; the
        /// rest of today is then not reported again).
        #[arg(long)]
        today: bool,
    },
    /// The DMARC reports other servers sent about your domains: who sends mail in their name,
    /// and how much of it fails.
    Dmarc {
        #[arg(long)]
        domain: Option<String>,
    },
}

pub fn reports_request(cmd: ReportsCmd) -> Request {
    match cmd {
        ReportsCmd::Send { today } => Request::ReportsSend {
            include_today: today,
        },
        ReportsCmd::Dmarc { domain } => Request::DmarcReports { domain },
    }
}

pub fn quarantine_request(cmd: QuarantineCmd) -> Request {
    match cmd {
        QuarantineCmd::List => Request::QuarantineList,
        QuarantineCmd::Show { id } => Request::QuarantineShow { id },
        QuarantineCmd::Release { id } => Request::QuarantineRelease { id },
        QuarantineCmd::Delete { id } => Request::QuarantineDelete { id },
    }
}

pub fn request(list: ListKind, cmd: ListCmd) -> Request {
    match cmd {
        ListCmd::List { user } => Request::ListShow {
            list: Some(list),
            user,
        },
        ListCmd::Add {
            entry,
            user,
            duration,
            reason,
        } => Request::ListAdd {
            list,
            entry,
            user,
            for_secs: duration,
            reason,
        },
        ListCmd::Remove { entry, user } => Request::ListRemove { entry, user },
    }
}
