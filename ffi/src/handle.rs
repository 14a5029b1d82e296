//! The handle on a configuration and data folder, and the operations on it.

use crate::error::{RoostCode, code_of, fail, guard};
use crate::strings::{arg, opt_arg, put};
use roost_core::admin::{Admin, QueueSelect, Request, Response};
use roost_core::config::{ByteSize, Config};
use roost_core::store::{QueueFilter, Store};
use std::ffi::c_char;
use std::path::Path;
use std::sync::Arc;

/// An open configuration and store. Opaque to C; safe to use from several threads at once.
pub struct RoostHandle {
    admin: Admin,
    store: Store,
}

/// The outbound queue's recipients by state.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RoostQueueCounts {
    pub queued: u64,
    pub active: u64,
    pub deferred: u64,
    pub held: u64,
}

/// Opens Roost's configuration (`config_path`, or the built-in defaults when NULL) and its
/// store (`data_dir`, or the configuration's data_dir when NULL). On success `*out` receives a
/// handle to release with roost_close().
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `out` points to storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_open(
    config_path: *const c_char,
    data_dir: *const c_char,
    out: *mut *mut RoostHandle,
) -> RoostCode {
    guard(|| {
        if out.is_null() {
            return fail(RoostCode::NullArgument, "out is NULL");
        }
        // SAFETY: contract of this function.
        let (config_path, data_dir) = match unsafe {
            (
                opt_arg(config_path, "config_path"),
                opt_arg(data_dir, "data_dir"),
            )
        } {
            (Ok(c), Ok(d)) => (c.map(Path::new), d.map(Path::new)),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        let config = match Config::load(config_path, data_dir) {
            Ok(c) => c,
            Err(e) => return fail(RoostCode::Config, &e.0),
        };
        let store = match Store::open(&config.data_dir) {
            Ok(s) => s,
            Err(e) => return fail(code_of(&e), &e.to_string()),
        };
        let admin = Admin::new(store.clone(), Arc::new(config))
            .with_config_path(config_path.map(Path::to_path_buf));
        let handle = Box::new(RoostHandle { admin, store });
        // SAFETY: `out` checked non-null above.
        unsafe { *out = Box::into_raw(handle) };
        RoostCode::Ok
    })
}

/// Closes a handle (pending writes are finished first). NULL is ignored.
///
/// # Safety
/// `handle` comes from roost_open, is closed once, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_close(handle: *mut RoostHandle) {
    if handle.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: made by Box::into_raw in roost_open; closed once (contract).
        let h = unsafe { Box::from_raw(handle) };
        h.store.close();
        RoostCode::Ok
    });
}

/// # Safety
/// `handle` is NULL or a live handle from roost_open.
unsafe fn handle_ref<'a>(handle: *const RoostHandle) -> Result<&'a RoostHandle, RoostCode> {
    if handle.is_null() {
        return Err(fail(RoostCode::NullArgument, "handle is NULL"));
    }
    // SAFETY: live handle (contract); shared access only.
    Ok(unsafe { &*handle })
}

/// Runs a typed request; the reply as JSON (the payload alone) through `out` when not NULL.
unsafe fn run(handle: *const RoostHandle, req: Request, out: *mut *mut c_char) -> RoostCode {
    // SAFETY: forwarded contract.
    let h = match unsafe { handle_ref(handle) } {
        Ok(h) => h,
        Err(code) => return code,
    };
    match h.admin.handle(req) {
        Ok(resp) => {
            if out.is_null() {
                return RoostCode::Ok;
            }
            let json = payload(&resp);
            // SAFETY: non-null out (checked), writable by contract.
            unsafe { put(out, json) }
        }
        Err(e) => fail(code_of(&e), e.message()),
    }
}

/// A reply's data as JSON: {"message": …} for a change, else the object or list itself.
fn payload(resp: &Response) -> String {
    let v = serde_json::to_value(resp).unwrap_or(serde_json::Value::Null);
    let data = match v {
        serde_json::Value::Object(mut m) => match (m.remove("type"), m.remove("data")) {
            (Some(t), Some(serde_json::Value::String(msg))) if t == "done" => {
                serde_json::json!({ "message": msg })
            }
            (_, Some(d)) => d,
            _ => serde_json::Value::Null,
        },
        other => other,
    };
    data.to_string()
}

/// The one entry point for every admin operation: `request_json` is an admin request such as
/// {"op":"domain_add","name":"example.com"}; `*out_json` receives {"ok": reply} or
/// {"error": {"kind": …, "message": …}} (also when the code is not ROOST_CODE_OK, so a caller
/// may show it as it is). Free it with roost_string_free().
///
/// # Safety
/// `handle` from roost_open; `request_json` NUL-terminated; `out_json` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_request(
    handle: *const RoostHandle,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> RoostCode {
    guard(|| {
        // SAFETY: contract of this function.
        let (h, text) = match unsafe { (handle_ref(handle), arg(request_json, "request_json")) } {
            (Ok(h), Ok(t)) => (h, t),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        if out_json.is_null() {
            return fail(RoostCode::NullArgument, "out_json is NULL");
        }
        let (code, reply) = match serde_json::from_str::<Request>(text) {
            Err(e) => {
                let msg = format!("bad request: {e}");
                (
                    fail(RoostCode::Invalid, &msg),
                    serde_json::json!({"error": {"kind": "invalid", "message": msg}}),
                )
            }
            Ok(req) => match h.admin.handle(req) {
                Ok(r) => (RoostCode::Ok, serde_json::json!({ "ok": r })),
                Err(e) => (
                    fail(code_of(&e), e.message()),
                    serde_json::json!({ "error": e }),
                ),
            },
        };
        // SAFETY: non-null (checked), writable by contract.
        let stored = unsafe { put(out_json, reply.to_string()) };
        if stored != RoostCode::Ok {
            stored
        } else {
            code
        }
    })
}

/// The service status as JSON: {"running", "pid", "version", "started", "listeners", "queue"}.
///
/// # Safety
/// As roost_request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_status(
    handle: *const RoostHandle,
    out_json: *mut *mut c_char,
) -> RoostCode {
    if out_json.is_null() {
        return fail(RoostCode::NullArgument, "out_json is NULL");
    }
    // SAFETY: forwarded contract.
    guard(|| unsafe { run(handle, Request::Status, out_json) })
}

/// Whether the daemon runs: `*running` 1 or 0, `*pid` its process id (0 when not running).
/// Either pointer may be NULL when not wanted.
///
/// # Safety
/// `handle` from roost_open; non-NULL pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_service_status(
    handle: *const RoostHandle,
    running: *mut i32,
    pid: *mut u32,
) -> RoostCode {
    guard(|| {
        // SAFETY: contract.
        let h = match unsafe { handle_ref(handle) } {
            Ok(h) => h,
            Err(code) => return code,
        };
        match h.admin.handle(Request::Status) {
            Ok(Response::Status(st)) => {
                // SAFETY: non-null pointers are writable (contract).
                unsafe {
                    if !running.is_null() {
                        *running = i32::from(st.running);
                    }
                    if !pid.is_null() {
                        *pid = if st.running { st.pid.unwrap_or(0) } else { 0 };
                    }
                }
                RoostCode::Ok
            }
            Ok(_) => fail(RoostCode::Internal, "unexpected reply to status"),
            Err(e) => fail(code_of(&e), e.message()),
        }
    })
}

/// The queue's recipients by state.
///
/// # Safety
/// `handle` from roost_open; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_queue_counts(
    handle: *const RoostHandle,
    out: *mut RoostQueueCounts,
) -> RoostCode {
    guard(|| {
        if out.is_null() {
            return fail(RoostCode::NullArgument, "out is NULL");
        }
        // SAFETY: contract.
        let h = match unsafe { handle_ref(handle) } {
            Ok(h) => h,
            Err(code) => return code,
        };
        match h.admin.handle(Request::Status) {
            Ok(Response::Status(st)) => {
                // SAFETY: non-null (checked), writable.
                unsafe {
                    *out = RoostQueueCounts {
                        queued: st.queue.queued,
                        active: st.queue.active,
                        deferred: st.queue.deferred,
                        held: st.queue.held,
                    }
                };
                RoostCode::Ok
            }
            Ok(_) => fail(RoostCode::Internal, "unexpected reply to status"),
            Err(e) => fail(code_of(&e), e.message()),
        }
    })
}

/// Reads the string arguments, builds the request from them and runs it without a reply.
///
/// # Safety
/// `handle` from roost_open; every pointer in `args` NUL-terminated.
unsafe fn simple<const N: usize>(
    handle: *const RoostHandle,
    args: [(*const c_char, &str); N],
    make: impl FnOnce([String; N]) -> Result<Request, RoostCode>,
) -> RoostCode {
    guard(|| {
        let mut values: [String; N] = std::array::from_fn(|_| String::new());
        for (i, (p, name)) in args.iter().enumerate() {
            // SAFETY: contract above.
            match unsafe { arg(*p, name) } {
                Ok(s) => values[i] = s.to_string(),
                Err(code) => return code,
            }
        }
        match make(values) {
            // SAFETY: forwarded contract.
            Ok(req) => unsafe { run(handle, req, std::ptr::null_mut()) },
            Err(code) => code,
        }
    })
}

/// Adds a mail domain.
///
/// # Safety
/// `handle` from roost_open; `name` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_domain_add(
    handle: *const RoostHandle,
    name: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [(name, "name")], |[name]| {
            Ok(Request::DomainAdd { name })
        })
    }
}

/// Removes a domain that has no users left.
///
/// # Safety
/// `handle` from roost_open; `name` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_domain_remove(
    handle: *const RoostHandle,
    name: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [(name, "name")], |[name]| {
            Ok(Request::DomainRemove { name })
        })
    }
}

/// Adds a user with this password (checked for strength).
///
/// # Safety
/// `handle` from roost_open; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_user_add(
    handle: *const RoostHandle,
    address: *const c_char,
    password: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(
            handle,
            [(address, "address"), (password, "password")],
            |[address, password]| {
                Ok(Request::UserAdd {
                    address,
                    password,
                    name: String::new(),
                    quota: None,
                    admin: false,
                })
            },
        )
    }
}

/// Removes a user and their mail.
///
/// # Safety
/// `handle` from roost_open; `address` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_user_remove(
    handle: *const RoostHandle,
    address: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [(address, "address")], |[address]| {
            Ok(Request::UserRemove { address })
        })
    }
}

/// Sets a user's password (checked for strength).
///
/// # Safety
/// `handle` from roost_open; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_user_password(
    handle: *const RoostHandle,
    address: *const c_char,
    password: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(
            handle,
            [(address, "address"), (password, "password")],
            |[address, password]| Ok(Request::UserPasswd { address, password }),
        )
    }
}

/// Tries every waiting message of the outbound queue now.
///
/// # Safety
/// `handle` from roost_open.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_queue_retry_all(handle: *const RoostHandle) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [], |[]| {
            Ok(Request::QueueRetry {
                select: QueueSelect {
                    ids: vec![],
                    filter: QueueFilter::default(),
                    all: true,
                },
            })
        })
    }
}

/// Deletes one queue entry without telling its sender.
///
/// # Safety
/// `handle` from roost_open; `queue_id` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_queue_delete(
    handle: *const RoostHandle,
    queue_id: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [(queue_id, "queue_id")], |[id]| {
            Ok(Request::QueueDelete {
                select: QueueSelect {
                    ids: vec![id],
                    filter: QueueFilter::default(),
                    all: false,
                },
            })
        })
    }
}

/// Changes settings: `settings_json` is an object of tables and keys, e.g.
/// {"smtp": {"max_recipients": 50}}; the result is validated whole before the file is written,
/// and a running server reloads it.
///
/// # Safety
/// `handle` from roost_open; `settings_json` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_settings_set(
    handle: *const RoostHandle,
    settings_json: *const c_char,
) -> RoostCode {
    // SAFETY: forwarded contract.
    unsafe {
        simple(handle, [(settings_json, "settings_json")], |[text]| {
            serde_json::from_str(&text)
                .map(|settings| Request::SettingsSet { settings })
                .map_err(|e| fail(RoostCode::Invalid, &format!("settings_json: {e}")))
        })
    }
}

/// Sets a user's quota in bytes (0: unlimited).
///
/// # Safety
/// `handle` from roost_open; `address` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_user_quota(
    handle: *const RoostHandle,
    address: *const c_char,
    bytes: u64,
) -> RoostCode {
    guard(|| {
        // SAFETY: contract.
        let address = match unsafe { arg(address, "address") } {
            Ok(a) => a.to_string(),
            Err(code) => return code,
        };
        // SAFETY: forwarded contract.
        unsafe {
            run(
                handle,
                Request::UserQuota {
                    address,
                    quota: ByteSize(bytes),
                },
                std::ptr::null_mut(),
            )
        }
    })
}

/// The DNS setup check of one domain (or every domain when `domain` is NULL), as JSON.
///
/// # Safety
/// `handle` from roost_open; `domain` NULL or NUL-terminated; `out_json` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_dns_check(
    handle: *const RoostHandle,
    domain: *const c_char,
    out_json: *mut *mut c_char,
) -> RoostCode {
    guard(|| {
        if out_json.is_null() {
            return fail(RoostCode::NullArgument, "out_json is NULL");
        }
        // SAFETY: contract.
        let domain = match unsafe { opt_arg(domain, "domain") } {
            Ok(d) => d.map(str::to_string),
            Err(code) => return code,
        };
        // SAFETY: forwarded contract.
        unsafe { run(handle, Request::DnsCheck { domain }, out_json) }
    })
}

/// Every setting with the value in force, as JSON.
///
/// # Safety
/// `handle` from roost_open; `out_json` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roost_settings_get(
    handle: *const RoostHandle,
    out_json: *mut *mut c_char,
) -> RoostCode {
    if out_json.is_null() {
        return fail(RoostCode::NullArgument, "out_json is NULL");
    }
    // SAFETY: forwarded contract.
    guard(|| unsafe { run(handle, Request::SettingsGet, out_json) })
}

// Several threads may share one handle.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<RoostHandle>();
};
