//! The admin commands against the same data as a running server: tables, JSON, clear errors that
//! change nothing, and the JSON entry point the C ABI will use.

mod common;

use common::{PASSWORD, Server};
use serde_json::Value;

fn json(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&s.ok(&a)).unwrap()
}

fn fails_with(s: &Server, args: &[&str], message: &str) {
    let out = s.admin(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(message),
        "{args:?}: expected {message:?} in {err:?}"
    );
}

#[test]
fn first_start_makes_an_admin_and_prints_how_to_connect() {
    let s = Server::start();
    let out = s.stdout.join("\n");
    assert!(out.contains("roost: smtp listening on 127.0.0.1:"), "{out}");
    assert!(
        out.contains("created the admin account admin@test.example"),
        "{out}"
    );
    let saved = std::fs::read_to_string(s.data.join("admin-password.txt")).unwrap();
    let password = saved.lines().nth(1).unwrap();
    assert!(out.contains(password));
    let users = json(&s, &["user", "list"]);
    assert_eq!(users[0]["address"], "admin@test.example");
    assert_eq!(users[0]["admin"], true);
    // The printed password works.
    let (mut c, _) = common::smtp::Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("admin@test.example", password).code, 235);
}

#[test]
fn domains_users_aliases_groups() {
    let s = Server::start();
    assert!(
        s.ok(&["domain", "add", "Example.TEST"])
            .contains("example.test added")
    );
    fails_with(
        &s,
        &["domain", "add", "example.test"],
        "domain example.test exists already",
    );
    fails_with(
        &s,
        &["domain", "add", "not a domain"],
        "is not a domain name",
    );
    s.ok(&["domain", "alias", "add", "example.net", "example.test"]);
    fails_with(
        &s,
        &["domain", "alias", "add", "x.test", "missing.test"],
        "domain missing.test does not exist",
    );

    let out = s.admin_stdin(
        &[
            "user",
            "add",
            "alice@example.test",
            "--password-stdin",
            "--quota",
            "2G",
            "--name",
            "Alice",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.admin_stdin(
        &["user", "add", "short@example.test", "--password-stdin"],
        "abc\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 8"));
    let out = s.admin_stdin(
        &["user", "add", "x@missing.test", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("domain missing.test does not exist"));
    let out = s.admin_stdin(
        &["user", "add", "alice@example.net", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is an alias of example.test"));

    let u = json(&s, &["user", "show", "alice@example.test"]);
    assert_eq!(u["quota"], 2u64 << 30);
    assert_eq!(u["name"], "Alice");
    assert_eq!(u["messages"], 0);
    s.ok(&["user", "quota", "alice@example.test", "0"]);
    assert_eq!(
        json(&s, &["user", "show", "alice@example.test"])["quota"],
        0
    );
    assert!(
        s.ok(&["user", "disable", "alice@example.test"])
            .contains("disabled")
    );
    assert_eq!(
        json(&s, &["user", "show", "alice@example.test"])["disabled"],
        true
    );
    s.ok(&["user", "enable", "alice@example.test"]);
    let out = s.admin_stdin(
        &["user", "passwd", "alice@example.test", "--password-stdin"],
        "another-password\n",
    );
    assert!(out.status.success());

    s.add_user("bob@example.test");
    s.ok(&[
        "alias",
        "add",
        "team@example.test",
        "alice@example.test",
        "bob@example.test",
        "ext@outside.test",
    ]);
    fails_with(
        &s,
        &["alias", "add", "bob@example.test", "alice@example.test"],
        "bob@example.test is already an account",
    );
    fails_with(
        &s,
        &["alias", "add", "loop@example.test", "loop@example.test"],
        "cannot point at itself",
    );
    let aliases = json(&s, &["alias", "list"]);
    assert_eq!(
        aliases[0]["targets"],
        serde_json::json!(["alice@example.test", "bob@example.test", "ext@outside.test"])
    );
    s.ok(&["alias", "remove", "team@example.test", "ext@outside.test"]);
    assert_eq!(
        json(&s, &["alias", "list"])[0]["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    s.ok(&[
        "group",
        "add",
        "family",
        "--address",
        "family@example.test",
        "--description",
        "Everyone at home",
    ]);
    s.ok(&[
        "group",
        "member",
        "add",
        "family",
        "alice@example.test",
        "bob@example.test",
    ]);
    fails_with(
        &s,
        &["group", "member", "add", "family", "nobody@example.test"],
        "user nobody@example.test does not exist",
    );
    fails_with(
        &s,
        &["group", "add", "family"],
        "group family exists already",
    );
    let groups = json(&s, &["group", "list"]);
    assert_eq!(
        groups[0]["members"],
        serde_json::json!(["alice@example.test", "bob@example.test"])
    );
    assert_eq!(
        json(&s, &["user", "show", "bob@example.test"])["groups"],
        serde_json::json!(["family"])
    );
    let table = s.ok(&["group", "list"]);
    assert!(table.starts_with("GROUP   ADDRESS"), "{table}");

    s.ok(&[
        "domain",
        "catchall",
        "set",
        "example.test",
        "alice@example.test",
    ]);
    let d = json(&s, &["domain", "list"]);
    let ex = d
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "example.test")
        .unwrap();
    assert_eq!(ex["catchall"], "alice@example.test");
    assert_eq!(ex["aliases"], serde_json::json!(["example.net"]));

    fails_with(
        &s,
        &["domain", "remove", "example.test"],
        "still has 2 account(s)",
    );
    s.ok(&["user", "remove", "alice@example.test"]);
    s.ok(&["user", "remove", "bob@example.test"]);
    s.ok(&["domain", "remove", "example.test"]);
    assert!(!s.ok(&["domain", "list"]).contains("example.test"));
}

#[test]
fn errors_change_nothing() {
    let s = Server::start();
    s.ok(&["domain", "add", "example.test"]);
    let before = s.ok(&["domain", "list", "--json"]);
    fails_with(
        &s,
        &[
            "alias",
            "add",
            "a@example.test",
            "good@example.test",
            "not an address",
        ],
        "is not a mail address",
    );
    fails_with(
        &s,
        &["user", "remove", "ghost@example.test"],
        "user ghost@example.test does not exist",
    );
    fails_with(
        &s,
        &["domain", "remove", "ghost.test"],
        "domain ghost.test does not exist",
    );
    assert_eq!(s.ok(&["domain", "list", "--json"]), before);
    assert_eq!(s.ok(&["alias", "list", "--json"]).trim(), "[]");
    let out = s.admin(&["user", "list", "--json", "--domain", "ghost.test"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "not_found");
}

#[test]
fn json_entry_point() {
    let s = Server::start();
    let out = s.ok(&["admin", r#"{"op":"domain_add","name":"json.test"}"#]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"]["type"], "domain");
    assert_eq!(v["ok"]["data"]["name"], "json.test");
    let out = s.admin(&[
        "admin",
        r#"{"op":"user_add","address":"u@json.test","password":"long-enough-pw","quota":"1G"}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = s.admin(&["admin", r#"{"op":"domain_add","name":"json.test"}"#]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["error"],
        serde_json::json!({"kind": "exists", "message": "domain json.test exists already"})
    );
    let out = s.admin(&["admin", r#"{"op":"no_such_op"}"#]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "invalid");
}

#[test]
fn bad_configuration_is_explained() {
    let dir = common::TempDir::new("badconf");
    let conf = dir.0.join("bad.toml");
    std::fs::write(&conf, "[smtp]\nmax_mesage_size = 5\n").unwrap();
    let out = std::process::Command::new(common::roost_bin())
        .args(["--config", conf.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("max_mesage_size"),
        "{err}"
    );
}
