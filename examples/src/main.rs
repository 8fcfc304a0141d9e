//! Runs the example actors on embedded storage (`./.rivet`, or `$RIVET_DATA_DIR`) and exercises
//! them through the in-process client. Run it twice: the state survives.
#![allow(clippy::print_stdout)]

use rivet_core::UserError;
use rivet_examples::chat_room::ChatRoom;
use rivet_examples::counter::Counter;
use rivet_examples::worker::{Job, Worker};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let registry = rivet_examples::registry().build()?;
    let client = registry.client();

    let counter = client.get_or_create::<Counter>(["demo"]);
    let count = counter.increment(1).await?;
    println!("counter [\"demo\"]: incremented to {count} (run again: it keeps counting)");

    let room = client.get_or_create::<ChatRoom>(["org-acme", "general"]);
    room.send_message("ferris".to_owned(), format!("hello #{count}"))
        .await?;
    let history = room.get_history().await?;
    println!(
        "chatRoom [\"org-acme\", \"general\"]: {} messages",
        history.len()
    );

    let worker = client.get_or_create::<Worker>(["demo"]);
    let done = worker
        .send_jobs(Job { n: 5 })
        .wait(std::time::Duration::from_secs(5))
        .await?;
    println!("worker [\"demo\"]: job done, total {}", done.total);

    match counter.fail_with("demo_error".to_owned()).await {
        Err(error) => println!("counter.failWith: {error} (metadata {:?})", error.metadata),
        Ok(()) => return Err(UserError::message("failWith should fail").into()),
    }

    registry.shutdown().await;
    Ok(())
}
