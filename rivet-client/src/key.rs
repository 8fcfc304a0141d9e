//! Actor keys: an ordered list of strings, never a joined string.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The key of an actor within its type: a compound list of parts, such as `["org-acme", "general"]`.
///
/// Parts are kept apart, so `["a/b"]` and `["a", "b"]` are two different actors; nothing is ever
/// joined into one string (RivetKit warns against string interpolation for the same reason).
///
/// ```
/// use rivet_client::ActorKey;
///
/// let key = ActorKey::from(["org-acme", "general"]);
/// assert_eq!(key.parts(), ["org-acme", "general"]);
/// assert_ne!(ActorKey::from(["a/b"]), ActorKey::from(["a", "b"]));
/// assert_eq!(ActorKey::from("solo"), ActorKey::from(["solo"]));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActorKey(Vec<String>);

impl ActorKey {
    /// The empty key, for singletons.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The parts of the key, in order.
    pub fn parts(&self) -> &[String] {
        &self.0
    }

    /// Takes the parts.
    pub fn into_parts(self) -> Vec<String> {
        self.0
    }

    /// The key as one string, the way the RivetKit REST API writes it: parts joined by `/`, with
    /// `\` escaping `\` and `/`, `\0` for an empty part, and `/` for the empty key.
    ///
    /// ```
    /// use rivet_client::ActorKey;
    ///
    /// let key = ActorKey::from(["org/acme", "", "a\\b"]);
    /// assert_eq!(key.serialize(), r"org\/acme/\0/a\\b");
    /// assert_eq!(ActorKey::deserialize(&key.serialize()), key);
    /// assert_eq!(ActorKey::empty().serialize(), "/");
    /// ```
    pub fn serialize(&self) -> String {
        if self.0.is_empty() {
            return "/".to_owned();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|part| {
                if part.is_empty() {
                    "\\0".to_owned()
                } else {
                    part.replace('\\', "\\\\").replace('/', "\\/")
                }
            })
            .collect();
        parts.join("/")
    }

    /// Parses the REST API's key string (see [`serialize`](Self::serialize)).
    pub fn deserialize(text: &str) -> Self {
        if text == "/" {
            return Self::empty();
        }
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut escaping = false;
        let mut empty_marker = false;
        for ch in text.chars() {
            if escaping {
                if ch == '0' {
                    empty_marker = true;
                } else {
                    current.push(ch);
                }
                escaping = false;
            } else if ch == '\\' {
                escaping = true;
            } else if ch == '/' {
                parts.push(if empty_marker {
                    String::new()
                } else {
                    std::mem::take(&mut current)
                });
                current.clear();
                empty_marker = false;
            } else {
                current.push(ch);
            }
        }
        if escaping {
            current.push('\\');
            parts.push(current);
        } else if empty_marker {
            parts.push(String::new());
        } else if !current.is_empty() || !parts.is_empty() {
            parts.push(current);
        }
        Self(parts)
    }
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl From<Vec<String>> for ActorKey {
    fn from(parts: Vec<String>) -> Self {
        Self(parts)
    }
}

impl From<&[String]> for ActorKey {
    fn from(parts: &[String]) -> Self {
        Self(parts.to_vec())
    }
}

impl From<Vec<&str>> for ActorKey {
    fn from(parts: Vec<&str>) -> Self {
        Self(parts.into_iter().map(str::to_owned).collect())
    }
}

impl From<&[&str]> for ActorKey {
    fn from(parts: &[&str]) -> Self {
        Self(parts.iter().map(|p| (*p).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for ActorKey {
    fn from(parts: [&str; N]) -> Self {
        Self(parts.iter().map(|p| (*p).to_owned()).collect())
    }
}

impl<const N: usize> From<[String; N]> for ActorKey {
    fn from(parts: [String; N]) -> Self {
        Self(parts.into())
    }
}

impl From<&str> for ActorKey {
    fn from(part: &str) -> Self {
        Self(vec![part.to_owned()])
    }
}

impl From<String> for ActorKey {
    fn from(part: String) -> Self {
        Self(vec![part])
    }
}

impl From<()> for ActorKey {
    fn from((): ()) -> Self {
        Self::empty()
    }
}
