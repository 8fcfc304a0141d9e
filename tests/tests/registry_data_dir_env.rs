//! `RIVET_DATA_DIR` chooses the data directory when the builder names none. (Its own test
//! binary, because it sets a process-wide environment variable.)
#![allow(unsafe_code)]

use rivet_examples::counter::Counter;
use rivet_tests::Within;

#[tokio::test]
async fn rivet_data_dir_sets_the_default_location() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: this binary has a single test and nothing else reads the environment concurrently.
    unsafe { std::env::set_var(rivet_core::DATA_DIR_ENV, dir.path()) };
    let registry = rivet_examples::registry().build().unwrap();
    registry
        .client()
        .get_or_create::<Counter>(["env"])
        .increment(1)
        .within()
        .await
        .unwrap();
    registry.shutdown().within().await;
    assert!(dir.path().join("rivet.db").exists());
}
