//! Every public handle can cross threads.

use rivet_core::{ActorConnection, ActorError, ActorHandle, Client, Error, Registry, UserError};
use rivet_examples::counter::{Counter, CounterClient, CounterConnection, CounterEvent};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Registry>();
    send_sync::<Client>();
    send_sync::<ActorHandle>();
    send_sync::<ActorConnection>();
    send_sync::<ActorError>();
    send_sync::<UserError>();
    send_sync::<CounterClient>();
    send_sync::<CounterConnection>();
    send_sync::<Counter>();
    send::<CounterEvent>();
    send::<Error>();
}

#[test]
fn client_futures_are_send() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let registry_future = async {
        let registry = rivet_examples::registry().in_memory().build().unwrap();
        let counter = registry.client().get_or_create::<Counter>(["x"]);
        counter.increment(1).await.unwrap();
        let conn = counter.connect().await.unwrap();
        conn.get_count().await.unwrap();
    };
    assert_send(registry_future);
}
