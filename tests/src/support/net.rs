//! Network helpers: a client per encoding, the gateway's query form, a registry served on a
//! free port.

use rivet_core::client::Encoding;
use rivet_core::{Client, Registry};

use crate::support::sync::within;

/// Every encoding of the client protocol.
pub const ENCODINGS: [Encoding; 3] = [Encoding::Json, Encoding::Cbor, Encoding::Bare];

/// A network client of `endpoint` speaking `encoding`.
pub fn network_client(endpoint: &str, encoding: Encoding) -> Client {
    Client::builder(endpoint)
        .encoding(encoding)
        .build()
        .expect("client")
}

/// The query form of the gateway, as the official client builds it: actor `name`, key `key`
/// (one part), `method` `get` or `getOrCreate`, then the actor route `path`.
pub fn query_url(endpoint: &str, name: &str, key: &str, method: &str, path: &str) -> String {
    let runner = if method == "getOrCreate" {
        "&rvt-runner=default"
    } else {
        ""
    };
    format!(
        "{endpoint}/gateway/{name}{path}?rvt-namespace=default&rvt-method={method}{runner}&rvt-key={key}"
    )
}

/// Serves `registry` on a free loopback port; returns it with its endpoint.
pub async fn serve(registry: Registry) -> (Registry, String) {
    let addr = within(registry.spawn_server("127.0.0.1:0"))
        .await
        .expect("bind");
    (registry, format!("http://{addr}"))
}
