//! `kvActor` (kv.ts): text and binary values in the actor's KV store, listed by prefix and range.

use rivet_core::prelude::*;

/// No state: everything is in KV.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KvActor {}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn entries<B: AsRef<[u8]>>(found: Vec<(B, B)>) -> serde_json::Value {
    found
        .iter()
        .map(|(k, v)| serde_json::json!({ "key": text(k.as_ref()), "value": text(v.as_ref()) }))
        .collect()
}

/// The range options of `listTextRange`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RangeOptions {
    #[serde(default)]
    reverse: bool,
    limit: Option<usize>,
}

#[actor(name = "kvActor")]
impl KvActor {
    #[action]
    fn put_text(&self, cx: &mut Cx<Self>, key: String, value: String) -> Result<bool, Error> {
        cx.kv().put(key.into_bytes(), value.into_bytes())?;
        Ok(true)
    }

    #[action]
    async fn get_text(&self, cx: &mut Cx<Self>, key: String) -> Result<Option<String>, Error> {
        Ok(cx.kv().get(key).await?.map(|v| text(&v)))
    }

    #[action]
    async fn list_text(
        &self,
        cx: &mut Cx<Self>,
        prefix: String,
    ) -> Result<serde_json::Value, Error> {
        Ok(entries(
            cx.kv().list_prefix(prefix, ListOptions::default()).await?,
        ))
    }

    #[action]
    async fn list_text_range(
        &self,
        cx: &mut Cx<Self>,
        start: String,
        end: String,
        options: Option<RangeOptions>,
    ) -> Result<serde_json::Value, Error> {
        let options = options.unwrap_or_default();
        let mut list = ListOptions::default();
        if options.reverse {
            list = list.reverse();
        }
        if let Some(limit) = options.limit {
            list = list.limit(limit);
        }
        Ok(entries(cx.kv().list_range(start, end, list).await?))
    }

    #[action]
    async fn delete_text_range(
        &self,
        cx: &mut Cx<Self>,
        start: String,
        end: String,
    ) -> Result<bool, Error> {
        cx.kv().delete_range(start, end).await?;
        Ok(true)
    }

    /// Stores the bytes and reads them back.
    #[action]
    async fn roundtrip_array_buffer(
        &self,
        cx: &mut Cx<Self>,
        key: String,
        values: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, Error> {
        cx.kv().put(key.clone().into_bytes(), values)?;
        Ok(cx.kv().get(key).await?.map(|v| v.to_vec()))
    }
}
