//! `#[queue(name = "...")]` and `#[event(name = "...")]`: the given name is the wire name, the
//! typed client uses it, and the Rust-derived name is not one. On both storages.

use rivet_core::client::codec::from_cbor;
use rivet_core::codes;
use rivet_tests::{Backend, PATIENCE, Renamer, Within, on_each_backend, recv, registry_on};
use tokio::sync::mpsc;

async fn a_renamed_queue_and_event_go_by_their_given_names(backend: Backend) {
    let registry = registry_on(&backend);
    let renamer = registry.client().get_or_create::<Renamer>(["renamed"]);
    let conn = renamer.connect().within().await.unwrap();
    let (tx, mut typed) = mpsc::unbounded_channel();
    let _typed = conn.on_job_done(move |total| {
        let _ = tx.send(total);
    });
    let (tx, mut raw) = mpsc::unbounded_channel();
    let _raw = conn.connection().on_raw("renamedEvent", move |args| {
        let _ = tx.send(args.clone());
    });
    let (tx, mut rust_named) = mpsc::unbounded_channel::<()>();
    let _rust_named = conn.connection().on_raw("jobDone", move |_| {
        let _ = tx.send(());
    });
    // A call through the connection is ordered after its subscriptions.
    assert_eq!(conn.total().within().await.unwrap(), 0);

    // The typed client sends to the renamed queue and hears the renamed event.
    assert_eq!(
        renamer
            .send_add_job(2)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        2
    );
    assert_eq!(recv(&mut typed).await, 2);
    assert_eq!(from_cbor::<(u32,)>(&recv(&mut raw).await).unwrap(), (2,));

    // The wire names are the given ones.
    let total: u32 = renamer
        .handle()
        .queue_send("renamedQueue", &3u32)
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(recv(&mut typed).await, 5);
    assert_eq!(from_cbor::<(u32,)>(&recv(&mut raw).await).unwrap(), (5,));

    // The Rust name of the queue is refused and changes nothing.
    let err = renamer
        .handle()
        .queue_send::<u32, _>("addJob", &4u32)
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::QUEUE_NOT_FOUND), "{err}");
    assert!(err.message.contains("addJob"), "{err}");
    assert_eq!(renamer.total().within().await.unwrap(), 5);
    // Nothing came under the event's Rust name: the events reached the connection in order,
    // and the last one has been heard.
    assert!(rust_named.try_recv().is_err(), "an event named `jobDone`");
}

on_each_backend!(a_renamed_queue_and_event_go_by_their_given_names);
