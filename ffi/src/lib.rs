//! libroost: Roost's C ABI. A thin shell over the admin layer: every operation the control
//! panel needs goes through `roost_request` (JSON in, JSON out) and a few typed functions where
//! a C caller is better served by numbers than by JSON. No panic crosses the boundary; null
//! pointers and invalid UTF-8 are refused with a code; errors are also kept per thread for
//! `roost_last_error`.

mod error;
mod handle;
mod strings;

pub use error::{RoostCode, roost_last_error};
pub use handle::{
    RoostHandle, RoostQueueCounts, roost_close, roost_dns_check, roost_domain_add,
    roost_domain_remove, roost_open, roost_queue_counts, roost_queue_delete, roost_queue_retry_all,
    roost_request, roost_service_status, roost_settings_get, roost_settings_set, roost_status,
    roost_user_add, roost_user_password, roost_user_quota, roost_user_remove,
};
pub use strings::{roost_string_free, roost_version};
