//! Limits on identity: the size of actor names and keys, and how fast actors may be created.

use std::sync::Mutex;
use std::time::Instant;

use rivet_client::{ActorAddr, ActorError, ActorTarget, codes};

use crate::config::{Config, CreationRate, MAX_NAME_LEN};
use crate::sync::lock;

/// Refuses a name or key past the configured limits, before anything is looked up or stored.
pub(crate) fn check_target(config: &Config, target: &ActorTarget) -> Result<(), ActorError> {
    match target {
        ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. } => check_addr(config, addr),
        ActorTarget::Id { name, .. } => check_name(name),
    }
}

/// Refuses an address whose name or key is past the limits.
pub(crate) fn check_addr(config: &Config, addr: &ActorAddr) -> Result<(), ActorError> {
    check_name(&addr.name)?;
    let parts = addr.key.parts();
    let size: usize = parts.iter().map(|p| p.len() + 1).sum();
    if parts.len() > config.max_key_parts || size > config.max_key_size {
        tracing::warn!(
            parts = parts.len(),
            bytes = size,
            max_parts = config.max_key_parts,
            max_bytes = config.max_key_size,
            "refused an actor key past the limits (actor.key_too_large)"
        );
        return Err(codes::KEY_TOO_LARGE.with_message(format!(
            "An actor key may have {} parts and {} bytes; this one has {} and {size}.",
            config.max_key_parts,
            config.max_key_size,
            parts.len()
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ActorError> {
    if name.len() > MAX_NAME_LEN {
        return Err(codes::NAME_TOO_LONG.with_message(format!(
            "An actor name has at most {MAX_NAME_LEN} bytes; this one has {}.",
            name.len()
        )));
    }
    Ok(())
}

/// A token bucket of actor creations.
#[derive(Debug)]
pub(crate) struct Creations {
    rate: CreationRate,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    filled_at: Instant,
}

impl Creations {
    pub(crate) fn new(rate: CreationRate) -> Self {
        Self {
            rate,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(rate.burst),
                filled_at: Instant::now(),
            }),
        }
    }

    /// Takes one creation, or refuses with `actor.creation_limited`.
    pub(crate) fn take(&self) -> Result<(), ActorError> {
        let mut bucket = lock(&self.bucket);
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.filled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * f64::from(self.rate.per_second))
            .min(f64::from(self.rate.burst));
        bucket.filled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        drop(bucket);
        tracing::warn!(
            burst = self.rate.burst,
            per_second = self.rate.per_second,
            "refused an actor creation past the creation rate (actor.creation_limited)"
        );
        Err(codes::CREATION_LIMITED.with_message(format!(
            "At most {} actors may be created at once, then {} a second; retry later.",
            self.rate.burst, self.rate.per_second
        )))
    }

    /// Gives back a creation that did not happen (the actor existed already).
    pub(crate) fn refund(&self) {
        let mut bucket = lock(&self.bucket);
        bucket.tokens = (bucket.tokens + 1.0).min(f64::from(self.rate.burst));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivet_client::ActorKey;

    #[test]
    fn keys_and_names_past_the_limits_are_refused() {
        let config = Config {
            max_key_size: 16,
            max_key_parts: 2,
            ..Config::default()
        };
        let addr = |name: &str, parts: &[&str]| ActorAddr {
            name: name.to_owned(),
            key: ActorKey::from(parts.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>()),
        };
        assert!(check_addr(&config, &addr("counter", &["a", "b"])).is_ok());
        let error = check_addr(&config, &addr("counter", &["a", "b", "c"])).unwrap_err();
        assert!(error.is(codes::KEY_TOO_LARGE), "{error}");
        let error = check_addr(&config, &addr("counter", &["0123456789abcdef"])).unwrap_err();
        assert!(error.is(codes::KEY_TOO_LARGE), "{error}");
        let error = check_addr(&config, &addr(&"n".repeat(200), &[])).unwrap_err();
        assert!(error.is(codes::NAME_TOO_LONG), "{error}");
    }

    #[test]
    fn creations_past_the_burst_wait_for_the_refill() {
        let creations = Creations::new(CreationRate {
            burst: 3,
            per_second: 0,
        });
        for _ in 0..3 {
            creations.take().expect("within the burst");
        }
        let error = creations.take().unwrap_err();
        assert!(error.is(codes::CREATION_LIMITED), "{error}");
        creations.refund();
        creations.take().expect("a refunded creation");
    }
}
