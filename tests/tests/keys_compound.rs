//! Compound keys: parts are never joined, so `["a/b"]`, `["a", "b"]` and `["a,b"]` are three
//! different actors.

use rivet_examples::chat_room::ChatRoom;
use rivet_examples::counter::Counter;
use rivet_tests::{Within, memory_registry};

#[tokio::test]
async fn compound_keys_address_distinct_actors() {
    let registry = memory_registry();
    let client = registry.client();
    let keys: [&[&str]; 5] = [&["a/b"], &["a", "b"], &["a,b"], &["a", "b", ""], &[]];
    for (i, key) in keys.iter().enumerate() {
        let counter = client.get_or_create::<Counter>(*key);
        counter.increment(i as i64 + 1).within().await.unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        let counter = client.get::<Counter>(*key);
        assert_eq!(
            counter.get_count().within().await.unwrap(),
            i as i64 + 1,
            "{key:?}"
        );
    }
}

#[tokio::test]
async fn chat_room_sees_its_key_and_keeps_history() {
    let registry = memory_registry();
    let client = registry.client();
    let room = client.get_or_create::<ChatRoom>(["org-acme", "general"]);
    room.send_message("ana".to_owned(), "hi".to_owned())
        .within()
        .await
        .unwrap();
    room.send_message("bo".to_owned(), "hey".to_owned())
        .within()
        .await
        .unwrap();
    assert_eq!(
        room.get_room_info().within().await.unwrap(),
        ["org-acme", "general"]
    );
    let history = room.get_history().within().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].sender, "bo");
    let other = client.get_or_create::<ChatRoom>(["org-acme", "random"]);
    assert!(other.get_history().within().await.unwrap().is_empty());
}
