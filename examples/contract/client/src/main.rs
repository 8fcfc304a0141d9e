//! Signs the guestbook of the server at the first argument (default `http://127.0.0.1:6421`,
//! where `contract-server` listens) and prints the latest entries: a client that knows the
//! actor only by its contract (`contract-api` without its `server` feature).
#![allow(clippy::print_stdout)]

use contract_api::{Entry, Guestbook};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:6421".to_owned());
    let client = rivet_core::Client::new(endpoint);
    let book = client.get_or_create::<Guestbook>(["lobby"]);
    let count = book
        .sign(Entry {
            name: "client".to_owned(),
            message: "signed through the contract".to_owned(),
        })
        .await?;
    println!("{count} signatures; latest: {:?}", book.latest(3).await?);
    Ok(())
}
