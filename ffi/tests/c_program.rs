//! Builds tests/c/ffi_test.c with gcc against ffi/include/roost.h and the library Cargo just
//! built (shared and static), runs it, and runs it again under valgrind: no leak, no invalid
//! access.

use std::path::{Path, PathBuf};
use std::process::Command;

/// target/debug (or wherever Cargo put this test): the libraries are beside its deps folder.
/// `cargo test` alone builds the crate as an rlib only; `cargo build -p roost-ffi` (which
/// scripts/test runs first) makes libroost.so and libroost.a.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libroost.so").exists() && dir.join("libroost.a").exists(),
        "{} has no libroost.so/.a: run cargo build -p roost-ffi first (scripts/test does)",
        dir.display()
    );
    dir
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("roost-ffi-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn compile(out: &Path, static_link: bool) {
    let lib = lib_dir();
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(root().join("ffi/include"))
        .arg(root().join("tests/c/ffi_test.c"))
        .arg("-o")
        .arg(out);
    if static_link {
        cmd.arg(lib.join("libroost.a"))
            .args(["-lpthread", "-ldl", "-lm"]);
    } else {
        cmd.arg("-L")
            .arg(&lib)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lroost")
            .arg("-lpthread");
    }
    let o = cmd.output().expect("gcc");
    assert!(
        o.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A configuration on loopback only: its name server is a port where nothing answers.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("roost.toml");
    std::fs::write(
        &path,
        "hostname = \"mail.example.test\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    path
}

fn run(program: &[&std::ffi::OsStr], dir: &Path) -> std::process::Output {
    let cfg = config(dir);
    let data = dir.join("data");
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..])
        .arg(&cfg)
        .arg(&data)
        .env("ROOST_INSECURE_FAST_HASH", "1");
    cmd.output().unwrap()
}

fn assert_passed(o: &std::process::Output, what: &str) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("checks passed"),
        "{what}: {:?}\n{stdout}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn c_program_against_the_shared_library_and_under_valgrind() {
    let dir = Scratch::new("shared");
    let exe = dir.0.join("ffi_test");
    compile(&exe, false);
    let o = run(&[exe.as_os_str()], &dir.0);
    assert_passed(&o, "ffi_test");

    let vg = Scratch::new("valgrind");
    let o = run(
        &[
            "valgrind".as_ref(),
            "--error-exitcode=99".as_ref(),
            "--leak-check=full".as_ref(),
            "--errors-for-leak-kinds=definite,indirect".as_ref(),
            "--show-leak-kinds=definite,indirect".as_ref(),
            exe.as_os_str(),
        ],
        &vg.0,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_passed(&o, "ffi_test under valgrind");
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind: {stderr}"
    );
}

#[test]
fn c_program_against_the_static_library() {
    let dir = Scratch::new("static");
    let exe = dir.0.join("ffi_test_static");
    compile(&exe, true);
    let o = run(&[exe.as_os_str()], &dir.0);
    assert_passed(&o, "ffi_test (static)");
}
