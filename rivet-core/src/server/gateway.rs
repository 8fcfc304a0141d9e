//! The gateway paths of the official client: `/gateway/{actorId}[@token]/...` (direct) and
//! `/gateway/{name}/...?rvt-*` (query), parsed without a URL parser so that the actor's own query
//! parameters pass through byte for byte.

use crate::url::percent_decode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use rivet_client::codes::guard::{
    NO_ROUTE, QUERY_BAD_BASE64, QUERY_BAD_CBOR, QUERY_BAD_ENCODING, QUERY_DUPLICATE,
    QUERY_EMPTY_NAME, QUERY_GET_DISALLOWED, QUERY_INVALID, QUERY_MISSING_POOL, QUERY_TOKEN_SYNTAX,
};
use rivet_client::{ActorError, ActorKey};

/// The query parameter prefix reserved for gateway routing.
const RVT_PREFIX: &str = "rvt-";

/// Which actor a gateway path names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GatewayTarget {
    /// An actor id.
    Direct { actor_id: String },
    /// Get an actor by name and key.
    Get { name: String, key: ActorKey },
    /// Get or create an actor by name and key, with CBOR input (compat-encoded) for creation.
    GetOrCreate {
        name: String,
        key: ActorKey,
        input: Option<Bytes>,
    },
}

/// A parsed gateway path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GatewayPath {
    pub(crate) target: GatewayTarget,
    /// The path after the actor segment, starting with `/`.
    pub(crate) path: String,
    /// The query without `rvt-*` parameters, `?`-prefixed, or empty.
    pub(crate) query: String,
}

/// Parses `tail`, the path after `/gateway/` (the actor segment and the rest), and the raw query.
pub(crate) fn parse(tail: &str, raw_query: Option<&str>) -> Result<GatewayPath, ActorError> {
    let (segment, rest) = match tail.find('/') {
        Some(i) => (&tail[..i], &tail[i..]),
        None => (tail, "/"),
    };
    let path = if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    };
    let raw_query = raw_query.unwrap_or("");
    let has_rvt = raw_query
        .split('&')
        .any(|part| part.split('=').next().unwrap_or("").starts_with(RVT_PREFIX));
    if !has_rvt {
        if segment.is_empty() {
            return Err(NO_ROUTE.with_message("The gateway path names no actor."));
        }
        // `@token` is accepted and ignored: this server has no tokens.
        let id = segment.split('@').next().unwrap_or(segment);
        let actor_id = percent_decode(id).ok_or_else(|| QUERY_BAD_ENCODING.error())?;
        if actor_id.is_empty() {
            return Err(NO_ROUTE.with_message("The gateway path names no actor."));
        }
        return Ok(GatewayPath {
            target: GatewayTarget::Direct { actor_id },
            path,
            query: if raw_query.is_empty() {
                String::new()
            } else {
                format!("?{raw_query}")
            },
        });
    }

    if segment.contains('@') {
        return Err(QUERY_TOKEN_SYNTAX.error());
    }
    let name = percent_decode(segment).ok_or_else(|| {
        QUERY_BAD_ENCODING.with_message("Invalid percent-encoding in the actor name.")
    })?;
    if name.is_empty() {
        return Err(QUERY_EMPTY_NAME.error());
    }

    let mut params = RvtParams::default();
    let mut kept = Vec::new();
    for part in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let Some(key) = raw_key.strip_prefix(RVT_PREFIX) else {
            kept.push(part);
            continue;
        };
        let value = form_decode(raw_value).ok_or_else(|| {
            QUERY_BAD_ENCODING.with_message(format!("Invalid percent-encoding in `{raw_key}`."))
        })?;
        params.set(key, value)?;
    }
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    let target = params.into_target(name)?;
    Ok(GatewayPath {
        target,
        path,
        query,
    })
}

#[derive(Default)]
struct RvtParams {
    namespace: Option<String>,
    method: Option<String>,
    runner: Option<String>,
    pool: Option<String>,
    key: Option<String>,
    input: Option<String>,
    region: Option<String>,
    crash_policy: Option<String>,
    token: Option<String>,
    skip_ready_wait: Option<String>,
}

impl RvtParams {
    fn set(&mut self, key: &str, value: String) -> Result<(), ActorError> {
        let slot = match key {
            "namespace" => &mut self.namespace,
            "method" => &mut self.method,
            "runner" => &mut self.runner,
            "pool" => &mut self.pool,
            "key" => &mut self.key,
            "input" => &mut self.input,
            "region" => &mut self.region,
            "crash-policy" => &mut self.crash_policy,
            "token" => &mut self.token,
            "skip-ready-wait" => &mut self.skip_ready_wait,
            other => {
                return Err(
                    QUERY_INVALID.with_message(format!("Unknown gateway parameter `rvt-{other}`."))
                );
            }
        };
        if slot.is_some() {
            return Err(QUERY_DUPLICATE.with_message(format!("`rvt-{key}` is given twice.")));
        }
        *slot = Some(value);
        Ok(())
    }

    fn into_target(self, name: String) -> Result<GatewayTarget, ActorError> {
        if self.namespace.is_none() {
            return Err(QUERY_INVALID.with_message("`rvt-namespace` is required."));
        }
        if let Some(v) = &self.skip_ready_wait
            && !matches!(v.as_str(), "true" | "1" | "false" | "0")
        {
            return Err(
                QUERY_INVALID.with_message("`rvt-skip-ready-wait` must be true, false, 1 or 0.")
            );
        }
        if let Some(policy) = &self.crash_policy
            && !matches!(policy.as_str(), "restart" | "sleep" | "destroy")
        {
            return Err(QUERY_INVALID.with_message(format!(
                "Unknown crash policy `{policy}`; expected restart, sleep or destroy."
            )));
        }
        // The official client joins key parts with commas and does not escape them: a part
        // containing a comma arrives as several parts, exactly as on the Rivet Engine.
        let key = match self.key.as_deref() {
            None | Some("") => ActorKey::empty(),
            Some(raw) => ActorKey::from(raw.split(',').map(str::to_owned).collect::<Vec<_>>()),
        };
        match self.method.as_deref() {
            Some("get") => {
                if self.input.is_some()
                    || self.region.is_some()
                    || self.crash_policy.is_some()
                    || self.runner.is_some()
                {
                    return Err(QUERY_GET_DISALLOWED.error());
                }
                Ok(GatewayTarget::Get { name, key })
            }
            Some("getOrCreate") => {
                if self.pool.is_none() && self.runner.is_none() {
                    return Err(QUERY_MISSING_POOL.error());
                }
                let input = self.input.as_deref().map(decode_input).transpose()?;
                Ok(GatewayTarget::GetOrCreate { name, key, input })
            }
            Some(other) => Err(QUERY_INVALID.with_message(format!(
                "Unknown method `{other}`; expected get or getOrCreate."
            ))),
            None => Err(QUERY_INVALID.with_message("`rvt-method` is required.")),
        }
    }
}

/// `rvt-input`: base64url without padding of compat-encoded CBOR.
fn decode_input(value: &str) -> Result<Bytes, ActorError> {
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || value.len() % 4 == 1
    {
        return Err(QUERY_BAD_BASE64.error());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| QUERY_BAD_BASE64.error())?;
    let revived = rivet_client::protocol::compat::revive_cbor(&bytes)
        .map_err(|e| QUERY_BAD_CBOR.with_message(format!("`rvt-input` is not valid CBOR: {e}")))?;
    Ok(Bytes::from(revived.into_owned()))
}

/// Form decoding: `+` is a space, then percent-decoding.
fn form_decode(input: &str) -> Option<String> {
    percent_decode(&input.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_paths_keep_the_query_and_ignore_tokens() {
        let p = parse("abc@tok/action/increment", Some("x=1&y=%20")).unwrap();
        assert_eq!(
            p.target,
            GatewayTarget::Direct {
                actor_id: "abc".into()
            }
        );
        assert_eq!(p.path, "/action/increment");
        assert_eq!(p.query, "?x=1&y=%20");
        let p = parse("abc", None).unwrap();
        assert_eq!(p.path, "/");
    }

    #[test]
    fn query_paths_strip_rvt_params_and_split_keys_on_commas() {
        let p = parse(
            "chatRoom/action/sendMessage",
            Some("rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=room%2Ca%2Cb&keep=1&rvt-crash-policy=sleep"),
        )
        .unwrap();
        assert_eq!(
            p.target,
            GatewayTarget::GetOrCreate {
                name: "chatRoom".into(),
                key: ActorKey::from(["room", "a", "b"]),
                input: None,
            }
        );
        assert_eq!(p.query, "?keep=1");
        let p = parse(
            "counter/connect",
            Some("rvt-namespace=default&rvt-method=get"),
        )
        .unwrap();
        assert_eq!(
            p.target,
            GatewayTarget::Get {
                name: "counter".into(),
                key: ActorKey::empty()
            }
        );
    }

    #[test]
    fn bad_parameter_combinations_are_refused() {
        let err = |q: &str| parse("counter/x", Some(q)).unwrap_err().full_code();
        assert_eq!(
            err("rvt-namespace=d&rvt-method=get&rvt-input=AA"),
            "guard.query_get_disallowed_params"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=get&rvt-method=get"),
            "guard.query_duplicate_param"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=getOrCreate"),
            "guard.query_missing_pool"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=list"),
            "guard.query_invalid_params"
        );
        assert_eq!(err("rvt-method=get"), "guard.query_invalid_params");
        assert_eq!(
            err("rvt-namespace=d&rvt-method=get&rvt-bogus=1"),
            "guard.query_invalid_params"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=getOrCreate&rvt-runner=r&rvt-input=***"),
            "guard.query_invalid_base64_input"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=getOrCreate&rvt-runner=r&rvt-input=_w"),
            "guard.query_invalid_cbor_input"
        );
        assert_eq!(
            err("rvt-namespace=d&rvt-method=get&rvt-key=%zz"),
            "guard.query_invalid_percent_encoding"
        );
        assert_eq!(
            parse("a@b/x", Some("rvt-namespace=d&rvt-method=get"))
                .unwrap_err()
                .full_code(),
            "guard.query_path_token_syntax"
        );
        assert_eq!(
            parse("/x", Some("rvt-namespace=d&rvt-method=get"))
                .unwrap_err()
                .full_code(),
            "guard.query_empty_actor_name"
        );
    }

    #[test]
    fn query_input_is_revived_cbor() {
        // cbor-x of {start: ["$BigInt", "5"]}: the compat marker becomes a plain integer.
        let mut cbor = Vec::new();
        ciborium::into_writer(&serde_json::json!({"start": ["$BigInt", "5"]}), &mut cbor).unwrap();
        let input = URL_SAFE_NO_PAD.encode(&cbor);
        let p = parse(
            "probe/x",
            Some(&format!(
                "rvt-namespace=d&rvt-method=getOrCreate&rvt-runner=r&rvt-input={input}"
            )),
        )
        .unwrap();
        let GatewayTarget::GetOrCreate {
            input: Some(bytes), ..
        } = p.target
        else {
            panic!("input")
        };
        let value: serde_json::Value = ciborium::from_reader(&bytes[..]).unwrap();
        assert_eq!(value, serde_json::json!({"start": 5}));
    }
}
