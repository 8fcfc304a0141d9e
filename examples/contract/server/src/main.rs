//! Serves the `guestbook` actor of `contract-api`, whose implementation this crate turns on
//! (its `server` feature), on `$RIVET_ADDR` (default 127.0.0.1:6421) with SQLite under
//! `./.rivet`, until Ctrl-C or SIGTERM.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _telemetry = rivet_core::telemetry::init()?;
    let registry = rivet_core::Registry::builder()
        .with::<contract_api::Guestbook>()
        .build()?;
    let addr = std::env::var("RIVET_ADDR").unwrap_or_else(|_| "127.0.0.1:6421".to_owned());
    registry.serve(addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use contract_api::{Entry, Guestbook};

    /// The implementation the server compiles answers the contract's typed client.
    #[tokio::test]
    async fn the_guestbook_keeps_its_entries_in_its_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = rivet_core::Registry::builder()
            .with::<Guestbook>()
            .data_dir(dir.path())
            .build()
            .expect("registry");
        let book = registry.client().get_or_create::<Guestbook>(["lobby"]);
        let entry = |name: &str| Entry {
            name: name.to_owned(),
            message: format!("hello from {name}"),
        };
        assert_eq!(book.sign(entry("ana")).await.expect("sign"), 1);
        assert_eq!(book.sign(entry("bo")).await.expect("sign"), 2);
        assert_eq!(
            book.latest(1).await.expect("latest"),
            [entry("bo")],
            "newest first"
        );
        registry.shutdown().await;
    }
}
