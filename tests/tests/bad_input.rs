//! Wrong argument types or counts, and malformed payloads, get a clear `actor.validation_error`;
//! the actor keeps running with its state intact.

use bytes::Bytes;
use rivet_core::codes;
use rivet_examples::counter::Counter;
use rivet_tests::{Within, memory_registry};

#[tokio::test]
async fn wrong_argument_type_names_the_argument() {
    let registry = memory_registry();
    let counter = registry.client().get_or_create::<Counter>(["bad-type"]);
    counter.increment(2).within().await.unwrap();
    let err = counter
        .handle()
        .action::<_, i64>("increment", &("five",))
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::VALIDATION_ERROR), "{err}");
    assert!(err.message.contains("`amount`"), "{err}");
    assert!(err.message.contains("increment"), "{err}");
    assert_eq!(counter.get_count().within().await.unwrap(), 2);
}

#[tokio::test]
async fn too_many_or_too_few_arguments() {
    let registry = memory_registry();
    let counter = registry.client().get_or_create::<Counter>(["bad-count"]);
    let too_many = counter
        .handle()
        .action::<_, i64>("increment", &(1, 2))
        .within()
        .await
        .unwrap_err();
    assert!(too_many.is(codes::VALIDATION_ERROR), "{too_many}");
    assert!(
        too_many
            .message
            .contains("takes 1 argument (amount) but 2 were given"),
        "{too_many}"
    );
    let too_few = counter
        .handle()
        .action::<_, i64>("increment", &[0u8; 0])
        .within()
        .await
        .unwrap_err();
    assert!(too_few.is(codes::VALIDATION_ERROR), "{too_few}");
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);
}

#[tokio::test]
async fn malformed_payloads_are_refused() {
    let registry = memory_registry();
    let counter = registry.client().get_or_create::<Counter>(["malformed"]);
    for payload in [
        &[0xff_u8, 0x00][..], // not CBOR
        &[0x05][..],          // not an array
        &[0x82, 0x01][..],    // truncated array
        &[][..],              // empty
    ] {
        let err = counter
            .handle()
            .action_raw("increment", Bytes::copy_from_slice(payload))
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::VALIDATION_ERROR), "{payload:?}: {err}");
    }
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);
}
