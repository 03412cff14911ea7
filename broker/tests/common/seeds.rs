//! Running a seed's own Python program against the broker: the Python that
//! has the seeds' pinned clients comes from `scripts/test.sh`
//! (BROKER_TEST_PYTHON), or, once it ran, from its environment under
//! `target/`, so a plain `cargo test` finds it too.

use std::process::Command;

/// The Python with the seeds' clients installed.
///
/// # Panics
/// When there is none: the tests must run through `scripts/test.sh`.
pub fn python() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pyenv/bin/python");
    std::env::var("BROKER_TEST_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(venv).exists().then(|| venv.to_owned()))
        .expect("no Python with the seeds' clients: run the tests with scripts/test.sh, which installs them")
}

/// Runs `tests/seeds/<script>` with `args`, asserts that it succeeds and
/// prints exactly `passed` lines starting with `ok `, and returns its output.
#[track_caller]
pub fn run(script: &str, args: &[String], passed: usize) -> String {
    let path = format!("{}/tests/seeds/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python())
        .arg(path)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(ok, passed, "{stdout}");
    stdout
}
