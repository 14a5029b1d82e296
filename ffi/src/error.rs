//! Return codes and the per-thread last error.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

/// What a libroost function returns. ROOST_CODE_OK (0) is success.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoostCode {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// The request or a value in it is not valid (the message says which).
    Invalid = 3,
    /// The domain, user, queue entry … does not exist.
    NotFound = 4,
    /// It exists already.
    Exists = 5,
    /// The change conflicts with the current state (e.g. a domain that still has users).
    Conflict = 6,
    /// The store or the disk failed.
    Storage = 7,
    /// The configuration file cannot be read or is not valid.
    Config = 8,
    /// A bug inside Roost was caught at the boundary; the handle is still usable.
    Internal = 9,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

pub fn clear_last_error() {
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::default());
}

/// Records `e` and returns its code.
pub fn fail(code: RoostCode, message: &str) -> RoostCode {
    set_last_error(message);
    code
}

pub fn code_of(e: &roost_core::error::Error) -> RoostCode {
    match e.kind() {
        "not_found" => RoostCode::NotFound,
        "exists" => RoostCode::Exists,
        "invalid" => RoostCode::Invalid,
        "conflict" => RoostCode::Conflict,
        _ => RoostCode::Storage,
    }
}

/// The message of the last failure on this thread ("" when the last call succeeded). Owned by
/// Roost: valid until the next libroost call on the same thread; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn roost_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Runs `f`, turning a panic into ROOST_CODE_INTERNAL.
pub fn guard(f: impl FnOnce() -> RoostCode) -> RoostCode {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(code) => {
            if code == RoostCode::Ok {
                clear_last_error();
            }
            code
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            fail(
                RoostCode::Internal,
                &format!("internal error in libroost: {what}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_code_and_a_message() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, RoostCode::Internal);
        // SAFETY: roost_last_error returns a valid NUL-terminated string owned by this thread.
        let msg = unsafe { std::ffi::CStr::from_ptr(roost_last_error()) };
        assert!(msg.to_string_lossy().contains("boom"));
        assert_eq!(guard(|| RoostCode::Ok), RoostCode::Ok);
        // SAFETY: as above.
        assert!(unsafe { std::ffi::CStr::from_ptr(roost_last_error()) }.is_empty());
    }
}
