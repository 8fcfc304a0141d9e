//! The Rivet Engine's envoy protocol, version 8: the messages an envoy and the engine exchange
//! over the envoy's WebSocket (binary BARE frames, no version prefix), from the official crate
//! `rivet-envoy-protocol`, and the check of an engine's `/metadata` before connecting.
//!
//! The official crate's bytes were compared with the engine's own TypeScript codec
//! (`@rivetkit/engine-envoy-protocol@2.3.19`, the codec of the engine release we target): the
//! tests below hold frames that codec wrote and check that ours are the same, both ways.

use bytes::Bytes;
use rivet_envoy_protocol::versioned;
use vbare::Versioned;

pub use rivet_envoy_protocol::{ToEnvoy, ToRivet};

/// The envoy protocol version this crate speaks. Union tags move between versions, so an engine
/// speaking another one is refused rather than half understood.
pub const PROTOCOL_VERSION: u16 = 8;

/// A frame that cannot be written or read, or an engine this crate cannot talk to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvoyProtocolError {
    /// A message could not be encoded.
    #[error("cannot encode an envoy message: {0}")]
    Encode(#[source] vbare::EncodeError),
    /// A frame from the engine is not a valid message of this protocol version.
    #[error("invalid envoy frame from the engine: {0}")]
    Decode(#[source] vbare::DecodeError),
    /// The engine's `/metadata` is not what an engine answers.
    #[error("the engine's /metadata is not understood: {0}")]
    Metadata(String),
    /// The engine speaks another envoy protocol version.
    #[error(
        "the engine (version {engine}) speaks envoy protocol {found}; this build of rivet speaks \
         {PROTOCOL_VERSION}: use an engine of the 2.3 line (2.3.19 is tested)"
    )]
    UnsupportedEngine {
        /// The engine's release, as it reports it.
        engine: String,
        /// The protocol version it reports.
        found: u64,
    },
}

/// One frame for the engine.
pub fn encode(message: &ToRivet) -> Result<Vec<u8>, EnvoyProtocolError> {
    let mut out = Vec::new();
    versioned::ToRivet::encode_body(message, PROTOCOL_VERSION, &mut out)
        .map_err(EnvoyProtocolError::Encode)?;
    Ok(out)
}

/// One frame from the engine.
pub fn decode(frame: Bytes) -> Result<ToEnvoy, EnvoyProtocolError> {
    versioned::ToEnvoy::decode_body(frame, PROTOCOL_VERSION).map_err(EnvoyProtocolError::Decode)
}

/// Checks the JSON body of an engine's `GET /metadata` and returns the engine's release; fails
/// with [`EnvoyProtocolError::UnsupportedEngine`] if it speaks another protocol version (an
/// envoy the engine does not understand would otherwise be refused and retry forever).
pub fn check_engine_metadata(body: &serde_json::Value) -> Result<String, EnvoyProtocolError> {
    let engine = body
        .get("version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let found = body
        .get("envoy_protocol_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            EnvoyProtocolError::Metadata(format!(
                "no envoy_protocol_version (is this a Rivet Engine? its runtime says {})",
                body.get("runtime").unwrap_or(&serde_json::Value::Null)
            ))
        })?;
    if found != u64::from(PROTOCOL_VERSION) {
        return Err(EnvoyProtocolError::UnsupportedEngine { engine, found });
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rivet_envoy_protocol as p;

    use super::*;
    use crate::ids::hex;

    /// Frames written by `@rivetkit/engine-envoy-protocol@2.3.19` (`encodeToRivet` and
    /// `encodeToEnvoy`) for the messages built below, as hex.
    const NPM_TO_RIVET: [(&str, &str); 6] = [
        (
            "metadata",
            "00010107636f756e746572027b7d010f7b22696d706c223a2272757374227d",
        ),
        (
            "events",
            "0103076163746f722d310200000000000000000000000100076163746f722d3102000000010000000000\
             000001010101046c6f7374076163746f722d3102000000020000000000000002010068e5cf8b010000",
        ),
        ("ack", "0201076163746f722d31020000000500000000000000"),
        ("stopping", "03"),
        ("pong", "047b68e5cf8b010000"),
        ("kvput", "05076163746f722d31070000000201016b010576616c7565"),
    ];

    const NPM_TO_ENVOY: [(&str, &str); 5] = [
        ("init", "00983a00000000000030750000000000000000400100000000"),
        ("ping", "05e76be5cf8b010000"),
        (
            "commands",
            "0102076163746f722d310200000000000000000000000007636f756e7465720103612c620068e5cf8b01\
             00000102696e000101016b01760276310068e5cf8b01000001016b00076163746f722d31020000000100\
             0000000000000102",
        ),
        ("ackevents", "0201076163746f722d31020000000300000000000000"),
        ("kvget", "03070000000101016b010176010276310068e5cf8b010000"),
    ];

    fn unhex(text: &str) -> Bytes {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect::<Vec<u8>>()
            .into()
    }

    fn checkpoint(index: i64) -> p::ActorCheckpoint {
        p::ActorCheckpoint {
            actor_id: "actor-1".into(),
            generation: 2,
            index,
        }
    }

    fn state(state: p::ActorState, index: i64) -> p::EventWrapper {
        p::EventWrapper {
            checkpoint: checkpoint(index),
            inner: p::Event::EventActorStateUpdate(p::EventActorStateUpdate { state }),
        }
    }

    fn to_rivet(name: &str) -> ToRivet {
        match name {
            "metadata" => ToRivet::ToRivetMetadata(p::ToRivetMetadata {
                prepopulate_actor_names: Some(BTreeMap::from([(
                    "counter".into(),
                    p::ActorName {
                        metadata: "{}".into(),
                    },
                )])),
                metadata: Some("{\"impl\":\"rust\"}".into()),
            }),
            "events" => ToRivet::ToRivetEvents(vec![
                state(p::ActorState::ActorStateRunning, 0),
                state(
                    p::ActorState::ActorStateStopped(p::ActorStateStopped {
                        code: p::StopCode::Error,
                        message: Some("lost".into()),
                    }),
                    1,
                ),
                p::EventWrapper {
                    checkpoint: checkpoint(2),
                    inner: p::Event::EventActorSetAlarm(p::EventActorSetAlarm {
                        alarm_ts: Some(1_700_000_000_000),
                    }),
                },
            ]),
            "ack" => ToRivet::ToRivetAckCommands(p::ToRivetAckCommands {
                last_command_checkpoints: vec![checkpoint(5)],
            }),
            "stopping" => ToRivet::ToRivetStopping,
            "pong" => ToRivet::ToRivetPong(p::ToRivetPong {
                ts: 1_700_000_000_123,
            }),
            _ => ToRivet::ToRivetKvRequest(p::ToRivetKvRequest {
                actor_id: "actor-1".into(),
                request_id: 7,
                data: p::KvRequestData::KvPutRequest(p::KvPutRequest {
                    keys: vec![Bytes::from_static(b"k")],
                    values: vec![Bytes::from_static(b"value")],
                }),
            }),
        }
    }

    #[test]
    fn frames_for_the_engine_match_the_engines_own_codec() {
        for (name, expected) in NPM_TO_RIVET {
            let frame = encode(&to_rivet(name)).expect("encodes");
            assert_eq!(hex(&frame), expected, "{name}");
        }
    }

    #[test]
    fn frames_from_the_engine_decode_and_encode_back_to_the_same_bytes() {
        for (name, frame) in NPM_TO_ENVOY {
            let bytes = unhex(frame);
            let message = decode(bytes.clone()).expect(name);
            let mut back = Vec::new();
            versioned::ToEnvoy::encode_body(&message, PROTOCOL_VERSION, &mut back).expect(name);
            assert_eq!(hex(&back), frame, "{name}");
        }
        let ToEnvoy::ToEnvoyCommands(commands) =
            decode(unhex(NPM_TO_ENVOY[2].1)).expect("commands")
        else {
            panic!("not commands");
        };
        let p::Command::CommandStartActor(start) = &commands[0].inner else {
            panic!("{commands:?}");
        };
        assert_eq!(&*start.config.name, "counter");
        assert_eq!(start.config.key.as_deref(), Some("a,b"));
        let preloaded = start.preloaded_kv.as_ref().expect("preloaded kv");
        assert_eq!(&preloaded.entries[0].value[..], b"v");
        assert!(matches!(
            &commands[1].inner,
            p::Command::CommandStopActor(stop) if stop.reason == p::StopActorReason::Destroy
        ));
    }

    #[test]
    fn a_bad_frame_is_an_error() {
        assert!(matches!(
            decode(Bytes::from_static(&[0xff])),
            Err(EnvoyProtocolError::Decode(_))
        ));
        assert!(matches!(
            decode(Bytes::from_static(&[0x05, 0x01])),
            Err(EnvoyProtocolError::Decode(_))
        ));
    }

    #[test]
    fn engines_speaking_another_protocol_are_refused_by_name() {
        // The body engine 2.3.19 answers (fields that do not matter left out).
        let ok = serde_json::json!({
            "runtime": "engine", "version": "2.3.19", "envoy_protocol_version": 8
        });
        assert_eq!(check_engine_metadata(&ok).expect("v8"), "2.3.19");
        let newer = serde_json::json!({
            "runtime": "engine", "version": "2.4.0", "envoy_protocol_version": 9
        });
        let error = check_engine_metadata(&newer).unwrap_err();
        assert!(
            matches!(
                error,
                EnvoyProtocolError::UnsupportedEngine { found: 9, .. }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("2.4.0"), "{error}");
        let not_an_engine = serde_json::json!({ "runtime": "rivetkit" });
        assert!(matches!(
            check_engine_metadata(&not_an_engine),
            Err(EnvoyProtocolError::Metadata(_))
        ));
    }
}
