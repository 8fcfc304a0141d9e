//! An [`ActorError`] on the wire, shared by WebSocket `Error` messages and HTTP error bodies:
//! its fields in JSON and CBOR, its layout in BARE.

#[cfg(any(test, feature = "server"))]
use super::bare::Writer;
use super::bare::{BareError, Reader};
use super::compat;
use super::error::ProtocolError;
#[cfg(any(test, feature = "server"))]
use super::fields::Field;
use super::fields::Fields;
use crate::error::ActorError;

/// The named fields of `error`: group, code, message and metadata.
#[cfg(any(test, feature = "server"))]
pub(super) fn fields(error: &ActorError) -> [(&'static str, Field<'_>); 4] {
    [
        ("group", Field::Text(&error.group)),
        ("code", Field::Text(&error.code)),
        ("message", Field::Text(&error.message)),
        (
            "metadata",
            error
                .metadata
                .as_ref()
                .map_or(Field::Absent, Field::Metadata),
        ),
    ]
}

/// Reads the fields [`fields`] writes.
pub(super) fn read(fields: &dyn Fields<'_>) -> Result<ActorError, ProtocolError> {
    let mut error = ActorError::new(
        fields.text("group")?,
        fields.text("code")?,
        fields.text("message")?,
    );
    error.metadata = fields.metadata("metadata")?;
    Ok(error)
}

/// Writes group, code, message and metadata (metadata that cannot be converted is left out).
#[cfg(any(test, feature = "server"))]
pub(super) fn write_bare(w: &mut Writer, error: &ActorError) {
    let metadata = error
        .metadata
        .as_ref()
        .and_then(compat::metadata_to_wire_cbor);
    w.str(&error.group)
        .str(&error.code)
        .str(&error.message)
        .optional(metadata.as_deref(), |w, m| {
            w.data(m);
        });
}

/// Reads what [`write_bare`] writes.
pub(super) fn read_bare(r: &mut Reader<'_>) -> Result<ActorError, ProtocolError> {
    let mut error = ActorError::new(r.str()?, r.str()?, r.str()?);
    error.metadata = r
        .optional(Reader::data)?
        .map(compat::metadata_from_wire_cbor)
        .transpose()?;
    Ok(error)
}

/// Ends an error in a message of `version`: v4 adds the optional actor the error came from,
/// which this server never names.
#[cfg(any(test, feature = "server"))]
pub(super) fn write_bare_actor(w: &mut Writer, version: u16) {
    if version >= 4 {
        w.optional(None::<()>, |_, ()| {});
    }
}

/// Skips the optional actor of an error in a message of `version` (see [`write_bare_actor`]).
pub(super) fn skip_bare_actor(r: &mut Reader<'_>, version: u16) -> Result<(), BareError> {
    if version >= 4 {
        r.optional(|r| {
            r.str()?;
            r.uint()?;
            r.optional(Reader::str)?;
            Ok(())
        })?;
    }
    Ok(())
}
