//! Strings across the boundary: borrowed C strings in, owned C strings out.

use crate::error::{RoostCode, fail};
use std::ffi::{CStr, CString, c_char};

/// Roost's version, e.g. "0.1.0". Owned by Roost (static); do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn roost_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Frees a string that libroost returned through an out-parameter. NULL is ignored.
///
/// # Safety
/// `s` must come from libroost and not have been freed already.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller passes a pointer that CString::into_raw made (contract above).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// A required string argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for the call.
pub unsafe fn arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, RoostCode> {
    if p.is_null() {
        return Err(fail(RoostCode::NullArgument, &format!("{name} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        fail(
            RoostCode::InvalidUtf8,
            &format!("{name} is not valid UTF-8"),
        )
    })
}

/// An optional string argument: NULL means absent.
///
/// # Safety
/// As `arg`.
pub unsafe fn opt_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, RoostCode> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { arg(p, name) }.map(Some)
}

/// Hands `s` to the caller through `out` (which must not be NULL).
///
/// # Safety
/// `out` is NULL or points to writable storage for one pointer.
pub unsafe fn put(out: *mut *mut c_char, s: String) -> RoostCode {
    if out.is_null() {
        return fail(RoostCode::NullArgument, "the out-parameter is NULL");
    }
    let c = CString::new(s.replace('\0', " ")).unwrap_or_default();
    // SAFETY: non-null, writable by contract.
    unsafe { *out = c.into_raw() };
    RoostCode::Ok
}
