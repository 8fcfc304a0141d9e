//! Percent-decoding of URL parts: the gateway's paths and queries, the credentials an engine
//! endpoint may carry, and the values of `OTEL_EXPORTER_OTLP_HEADERS`.

/// Decodes `%XX` escapes; `None` on a bad escape or invalid UTF-8.
pub(crate) fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
