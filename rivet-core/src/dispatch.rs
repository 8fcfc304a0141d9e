//! What the code `#[actor]` generates calls at run time: argument decoding with precise
//! errors, output encoding, and the errors of unknown actions.

use bytes::Bytes;
use rivet_client::codec::{ArrayDecoder, describe_de_error};
use rivet_client::codes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The decoded arguments of one action call, taken one at a time by generated code.
#[derive(Debug)]
pub struct Args<'a> {
    decoder: ArrayDecoder<'a>,
    action: &'static str,
    params: &'static [&'static str],
    index: usize,
}

/// Decodes the CBOR argument array of `action`, checking that there are not too many.
pub fn decode_args<'a>(
    bytes: &'a [u8],
    action: &'static str,
    params: &'static [&'static str],
) -> Result<Args<'a>, Error> {
    let decoder = ArrayDecoder::new(bytes)
        .map_err(|e| invalid(format!("arguments of action `{action}`: {e}")))?;
    if decoder.len() > params.len() {
        return Err(invalid(arity_message(action, params, decoder.len())));
    }
    Ok(Args {
        decoder,
        action,
        params,
        index: 0,
    })
}

impl Args<'_> {
    /// Decodes the next argument. A missing trailing argument decodes as `null`, so `Option`
    /// parameters may be left out, as in JavaScript.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let index = self.index;
        self.index += 1;
        let name = self.params.get(index).copied().unwrap_or("?");
        let given = self.decoder.len();
        self.decoder.next_or_null::<T>().map_err(|e| {
            if index >= given {
                invalid(arity_message(self.action, self.params, given))
            } else {
                invalid(format!(
                    "argument `{name}` (position {}) of action `{}`: {e}",
                    index + 1,
                    self.action,
                ))
            }
        })
    }
}

fn arity_message(action: &str, params: &[&str], given: usize) -> String {
    let count = params.len();
    let plural = if count == 1 { "" } else { "s" };
    let names = params.join(", ");
    format!("action `{action}` takes {count} argument{plural} ({names}) but {given} were given")
}

fn invalid(message: String) -> Error {
    Error::public(codes::VALIDATION_ERROR.with_message(message))
}

/// Decodes connection parameters (`None`: the client gave none, decoded as `null`).
pub fn decode_params<T: DeserializeOwned>(params: Option<&[u8]>) -> Result<T, Error> {
    match params {
        Some(bytes) => rivet_client::codec::decode(bytes).map_err(|e| {
            invalid(format!(
                "invalid connection parameters: {}",
                describe_de_error(&e)
            ))
        }),
        None => rivet_client::codec::decode(&[0xf6]).map_err(|_| {
            invalid(
                "this actor needs connection parameters and none were given (an actor whose clients may connect without them takes `Option<P>`)"
                    .to_owned(),
            )
        }),
    }
}

/// Encodes an action's output.
pub fn encode_output<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, Error> {
    rivet_client::codec::encode(value)
        .map_err(|e| Error::internal(format!("cannot encode output: {e}")))
}

/// Converts an error returned by actor code.
pub fn into_error<E: Into<Error>>(error: E) -> Error {
    error.into()
}

/// `Ok` with the runtime's error type, for handlers that cannot fail.
pub fn ok<T>(value: T) -> Result<T, Error> {
    Ok(value)
}

/// Stands in for an undeclared event that `#[actor]` reported (`{Actor}Event::Rang(..)`), so
/// the compiler adds no error of its own; the build fails on the report, so it never runs. Not
/// `-> !`, which would make the code around it "unreachable" and warn.
#[allow(clippy::panic)]
pub fn undeclared_event<T>() -> T {
    panic!("an undeclared event was reported at compile time")
}

/// The error for an unknown action.
pub fn action_not_found(name: &str) -> Error {
    Error::public(codes::ACTION_NOT_FOUND.with_message(format!("Action `{name}` was not found.")))
}

/// Logs an event whose arguments do not match the declared types.
pub fn bad_event(event: &str, error: &str) {
    tracing::warn!(
        event,
        error,
        "event arguments do not match the declared types; skipped"
    );
}
