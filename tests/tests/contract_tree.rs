//! A client crate gets an actor's typed client from its contract without compiling the actor's
//! implementation or its storage: `examples/contract/client`'s dependency tree (as cargo resolves
//! it for that crate alone) holds `contract-api` without its `server` feature, and no SQLite,
//! axum or server crate. Its own binary: it runs cargo.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// `cargo tree` of `package` with `args`, one crate (or crate feature) per line.
fn tree(package: &str, args: &[&str]) -> Vec<String> {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args([
            "tree",
            "--locked",
            "--offline",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_contract_client_compiles_neither_the_implementation_nor_its_storage() {
    let crates = tree("contract-client", &["-e", "normal"]);
    let has = |name: &str| {
        crates
            .iter()
            .any(|line| line.starts_with(&format!("{name} v")))
    };
    assert!(has("contract-api") && has("rivet-core"), "{crates:#?}");
    for absent in ["rusqlite", "libsqlite3-sys", "axum", "contract-server"] {
        assert!(
            !has(absent),
            "{absent} is in the client's tree: {crates:#?}"
        );
    }
    // The contract crate is there without the feature that compiles the implementation, and
    // rivet-core without its storage and server.
    let features = tree("contract-client", &["-e", "normal,features"]);
    for absent in [
        "contract-api feature \"server\"",
        "rivet-core feature \"sqlite\"",
        "rivet-core feature \"server\"",
    ] {
        assert!(
            !features.iter().any(|line| line.starts_with(absent)),
            "{absent} in {features:#?}"
        );
    }
    // The server's tree, for contrast, has both.
    let server = tree("contract-server", &["-e", "normal"]);
    assert!(server.iter().any(|line| line.starts_with("rusqlite v")));
    assert!(server.iter().any(|line| line.starts_with("axum v")));
}
