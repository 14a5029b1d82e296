//! The control panel's CGI (ui/cgi/roost.cgi.c, linked against libroost) behind Debian's
//! lighttpd on loopback: forged requests are refused (no SynoToken, another session's token,
//! not JSON, from another site), the NAS login check decides 401 / 403, and an
//! administrator's JSON request reaches the admin layer.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `cargo build -p roost-ffi` (run first by scripts/test) put libroost.so.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libroost.so").exists(),
        "{} has no libroost.so: run cargo build -p roost-ffi first (scripts/test does)",
        dir.display()
    );
    dir
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Web {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start() -> Web {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("roost-cgi-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let lib = lib_dir();
    let o = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
        .arg(root().join("ffi/include"))
        .arg(root().join("ui/cgi/roost.cgi.c"))
        .arg("-o")
        .arg(www.join("roost.cgi"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lroost")
        .output()
        .expect("gcc");
    assert!(
        o.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The NAS login check, played by a script as DSM's behaves with CSRF protection on: the
    // session cookie names the user only when the request carries that session's SynoToken.
    let auth = dir.join("authenticate.cgi");
    std::fs::write(
        &auth,
        "#!/bin/sh\ncase \"$HTTP_COOKIE\" in\n  \
         *id=admin-session*) [ \"$QUERY_STRING\" = SynoToken=admin-token ] && echo admin ;;\n  \
         *id=user-session*) [ \"$QUERY_STRING\" = SynoToken=user-token ] && echo bob ;;\nesac\n",
    )
    .unwrap();
    chmod_x(&auth);
    let config = dir.join("roost.toml");
    std::fs::write(
        &config,
        "hostname = \"mail.example.test\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    std::fs::write(
        www.join("roost-cgi.conf"),
        format!(
            "# test settings\nconfig={}\ndata={}\nauth_command={}\nadmin_group=\nadmin_users=admin\n",
            config.display(),
            dir.join("data").display(),
            auth.display()
        ),
    )
    .unwrap();

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("lighttpd.conf");
    std::fs::write(
        &conf,
        format!(
            "server.document-root = \"{www}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
             server.modules = (\"mod_cgi\")\ncgi.assign = (\".cgi\" => \"\")\n\
             server.errorlog = \"{dir}/error.log\"\n\
             setenv.add-environment = (\"ROOST_INSECURE_FAST_HASH\" => \"1\")\n\
             server.modules += (\"mod_setenv\")\n",
            www = www.display(),
            dir = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("lighttpd")
        .arg("-D")
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lighttpd (Debian package lighttpd)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "lighttpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Web { dir, child, port }
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// How a request is sent: the session, its token, and headers a browser would add.
#[derive(Clone, Copy)]
struct Req<'a> {
    cookie: Option<&'a str>,
    token: Option<&'a str>,
    content_type: &'a str,
    extra: &'a [&'a str],
    query: &'a str,
}

const ADMIN: Req<'static> = Req {
    cookie: Some("admin-session"),
    token: Some("admin-token"),
    content_type: "application/json",
    extra: &[],
    query: "",
};

/// (HTTP status, body) of a request through curl.
fn http(web: &Web, req: Req<'_>, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}"]);
    if let Some(c) = req.cookie {
        cmd.args(["-H", &format!("Cookie: id={c}")]);
    }
    if let Some(t) = req.token {
        cmd.args(["-H", &format!("X-SYNO-TOKEN: {t}")]);
    }
    for h in req.extra {
        cmd.args(["-H", h]);
    }
    if let Some(b) = body {
        cmd.args([
            "-H",
            &format!("Content-Type: {}", req.content_type),
            "--data-binary",
            b,
        ]);
    }
    cmd.arg(format!(
        "http://127.0.0.1:{}/roost.cgi{}",
        web.port, req.query
    ));
    let o = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (json, code) = text
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", text.trim()));
    let code: u16 = code.parse().unwrap_or(0);
    let value = serde_json::from_str(json).unwrap_or_else(|_| {
        panic!(
            "not JSON ({code}): {json}; lighttpd log: {}",
            std::fs::read_to_string(web.dir.join("error.log")).unwrap_or_default()
        )
    });
    (code, value)
}

#[test]
fn cgi_checks_the_nas_login_and_answers_admin_requests() {
    let web = start();
    let list = Some(r#"{"op":"domain_list"}"#);
    let nobody = Req {
        cookie: None,
        token: Some("admin-token"),
        ..ADMIN
    };
    let (code, v) = http(&web, nobody, list);
    assert_eq!(code, 401, "{v}");
    assert_eq!(v["error"]["kind"], "unauthorized");
    let bob = Req {
        cookie: Some("user-session"),
        token: Some("user-token"),
        ..ADMIN
    };
    let (code, v) = http(&web, bob, list);
    assert_eq!(code, 403, "{v}");

    let (code, v) = http(
        &web,
        ADMIN,
        Some(r#"{"op":"domain_add","name":"example.test"}"#),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ok"]["data"]["name"], "example.test");
    let (code, v) = http(
        &web,
        ADMIN,
        Some(r#"{"op":"domain_add","name":"example.test"}"#),
    );
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["kind"], "exists");
    let (code, v) = http(
        &web,
        ADMIN,
        Some(r#"{"op":"user_show","address":"no@example.test"}"#),
    );
    assert_eq!(code, 404, "{v}");
    let (code, v) = http(&web, ADMIN, Some("{not json"));
    assert_eq!(code, 400, "{v}");
    let (code, v) = http(&web, ADMIN, list);
    assert_eq!(code, 200);
    assert_eq!(v["ok"]["data"][0]["name"], "example.test");
    // GET is the service status.
    let (code, v) = http(&web, ADMIN, None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ok"]["data"]["running"], false);
    // The token may come in the query string, as DSM's own pages send it.
    let in_query = Req {
        token: None,
        query: "?SynoToken=admin-token",
        ..ADMIN
    };
    assert_eq!(http(&web, in_query, list).0, 200);
}

/// What a forged request looks like from the CGI's side: every one refused before it reaches
/// Roost, and nothing changed.
#[test]
fn cgi_refuses_forged_requests() {
    let web = start();
    let add = Some(r#"{"op":"domain_add","name":"forged.test"}"#);
    let refused = |req: Req<'_>, want: u16, why: &str| {
        let (code, v) = http(&web, req, add);
        assert_eq!(code, want, "{why}: {v}");
        assert!(v["error"]["message"].is_string(), "{why}: {v}");
    };
    // The admin's browser, made to post by another site: no token (a plain form or fetch
    // from elsewhere cannot read it).
    refused(
        Req {
            token: None,
            ..ADMIN
        },
        403,
        "no SynoToken",
    );
    // Another session's token: DSM's check says nobody is logged in.
    refused(
        Req {
            token: Some("user-token"),
            ..ADMIN
        },
        401,
        "a token that is not the session's",
    );
    // A form post (the only cross-site POST a browser sends without asking) is not JSON.
    refused(
        Req {
            content_type: "application/x-www-form-urlencoded",
            ..ADMIN
        },
        415,
        "form encoding",
    );
    refused(
        Req {
            content_type: "text/plain",
            ..ADMIN
        },
        415,
        "text/plain",
    );
    refused(
        Req {
            extra: &["Origin: http://evil.example"],
            ..ADMIN
        },
        403,
        "another origin",
    );
    refused(
        Req {
            extra: &["Sec-Fetch-Site: cross-site"],
            ..ADMIN
        },
        403,
        "a cross-site fetch",
    );
    refused(
        Req {
            token: Some("bad\"token"),
            ..ADMIN
        },
        403,
        "a malformed token",
    );
    // The same request from the NAS's own page goes through; none of the above added a domain.
    let own = Req {
        extra: &["Sec-Fetch-Site: same-origin"],
        ..ADMIN
    };
    let (code, v) = http(&web, own, Some(r#"{"op":"domain_list"}"#));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ok"]["data"].as_array().unwrap().len(), 0, "{v}");
}
