//! The shape of `rivet-core/src`: every file belongs to a layer, imports only from its own layer
//! or the ones below, and the files import each other without cycles.
//!
//! This test reads the `crate::`, `super::` and child-module paths in every source file (outside
//! comments and strings), resolves each to the file of the module it names, and fails on an
//! edge that runs up the layers, on a cycle, and on a file missing from [`LAYERS`]. ARCHITECTURE.md
//! draws the same layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first, with their files (paths under `src/`, without `.rs`).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "cbor",
            "config",
            "ids",
            "lifecycle",
            "metrics",
            "raw",
            "report",
            "sync",
            "time",
            "trace",
            "trace/otel",
            "telemetry",
            "guide",
            "url",
            "envoy/protocol",
            "envoy/ledger",
        ],
    ),
    (
        "storage",
        &[
            "storage",
            "storage/keys",
            "storage/memory",
            "storage/sqlite",
            "storage/held",
            "envoy/journal",
        ],
    ),
    ("errors and queue messages", &["error", "message"]),
    (
        "engines",
        &[
            "kv",
            "db",
            "schedule",
            "workflow/record",
            "workflow/history",
            "workflow/engine",
        ],
    ),
    (
        "turn machinery",
        &["awake", "conn", "effects", "mailbox", "runtime", "writes"],
    ),
    (
        "actor API",
        &[
            "actor",
            "context",
            "run",
            "run/request",
            "workflow",
            "workflow/api",
            "workflow/entries",
            "dispatch",
        ],
    ),
    ("host", &["host", "host/*"]),
    ("registry", &["registry", "registry/*"]),
    ("server", &["server", "server/*"]),
    (
        "engine runner",
        &[
            "envoy",
            "envoy/connect",
            "envoy/link",
            "envoy/storage",
            "envoy/session",
            "envoy/tunnel",
            "envoy/serverless",
        ],
    ),
    ("crate root", &["lib", "private"]),
];

/// The one cycle the language requires: the `Actor` trait's methods take the contexts, and the
/// contexts are generic over the `Actor` (their types name its associated types).
const KNOT: &[&str] = &["actor", "context", "run", "run/request"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file, as its path under `src/` without `.rs`.
fn files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(base).expect("under src");
            let rel = rel.with_extension("");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn layer_of(file: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, members)| {
        members.iter().any(|m| match m.strip_suffix("/*") {
            Some(dir) => file.starts_with(&format!("{dir}/")),
            None => *m == file,
        })
    })
}

/// The module path of a file (`host/turn` is `host::turn`; `lib` is the crate root).
fn module_of(file: &str) -> Vec<String> {
    if file == "lib" {
        return Vec::new();
    }
    file.split('/').map(str::to_owned).collect()
}

/// The source without comments, string and char literals.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if let Some(raw) = rest.strip_prefix("r#\"") {
            let end = raw.find("\"#").map_or(rest.len(), |e| e + 5);
            i += end;
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if bytes[i] == b'\'' && rest.len() >= 3 && rest.as_bytes()[2] == b'\'' {
            i += 3;
        } else if bytes[i] == b'\''
            && rest.len() >= 4
            && rest.as_bytes()[1] == b'\\'
            && rest.as_bytes()[3] == b'\''
        {
            i += 4;
        } else {
            let c = rest.chars().next().expect("char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths that follow `prefix::` at `at`, expanding `{a, b::c}` groups.
fn paths_at(code: &str, mut at: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        let rest = &code[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with('{') {
            // A group: each entry continues the path so far.
            let mut depth = 0;
            let mut start = at + 1;
            for (offset, c) in code[at..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        paths_at(&code[..at + offset], start, path.clone(), out);
                        start = at + offset + 1;
                        if c == '}' {
                            return;
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return;
        }
        let len = trimmed
            .find(|c: char| !is_ident(c))
            .unwrap_or(trimmed.len());
        if len == 0 {
            break;
        }
        path.push(trimmed[..len].to_owned());
        at += len;
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            break;
        }
    }
    out.push(path);
}

/// The inline modules of a file (`mod codes { .. }`): where each one's body starts and ends.
fn inline_modules(code: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && is_ident(code[..at].chars().next_back().unwrap_or(' ')) {
            continue;
        }
        let rest = &code[at + 4..];
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let after = rest[len..].trim_start();
        if len == 0 || !after.starts_with('{') {
            continue;
        }
        let open = at + 4 + len + (rest[len..].len() - after.len());
        let mut depth = 0;
        for (offset, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        found.push((open, open + offset, rest[..len].to_owned()));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// The module paths a file refers to.
fn references(file: &str, code: &str) -> Vec<Vec<String>> {
    let here = module_of(file);
    let inline = inline_modules(code);
    let children: BTreeSet<String> = code
        .split([';', '{', '}'])
        .filter_map(|stmt| {
            let stmt = stmt.trim();
            let stmt = stmt.rsplit(']').next().unwrap_or(stmt).trim();
            let name = stmt
                .strip_prefix("mod ")
                .or_else(|| stmt.strip_prefix("pub mod "))
                .or_else(|| stmt.strip_prefix("pub(crate) mod "))?;
            Some(name.trim().to_owned())
        })
        .filter(|name| name.chars().all(is_ident))
        .collect();
    let mut out = Vec::new();
    for (i, _) in code.match_indices("::") {
        let before = &code[..i];
        let word_start = before.rfind(|c: char| !is_ident(c)).map_or(0, |p| p + 1);
        // Only the first segment of a path: `a::b::c` is found once, at `a::`.
        if before[..word_start].ends_with("::") {
            continue;
        }
        // The module this code is in: the file's, then any inline modules around it.
        let mut scope = here.clone();
        for (start, end, name) in &inline {
            if *start < i && i < *end {
                scope.push(name.clone());
            }
        }
        let word = &before[word_start..];
        let mut prefix = match word {
            "crate" => Vec::new(),
            // `super` of a mod-root file (`host.rs`) and of a child file (`host/turn.rs`) both
            // name the module above the file's own.
            "super" => scope[..scope.len().saturating_sub(1)].to_vec(),
            "self" => scope.clone(),
            name if children.contains(name) && scope == here => {
                let mut p = here.clone();
                p.push(name.to_owned());
                p
            }
            _ => continue,
        };
        let mut at = i + 2;
        // `super::super::`.
        while code[at..].starts_with("super::") {
            prefix.pop();
            at += "super::".len();
        }
        paths_at(code, at, prefix, &mut out);
    }
    out
}

/// The file of the longest prefix of `path` that is a module.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()).cloned())
}

/// The import graph: file -> files it refers to (itself excluded).
fn graph() -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let base = src();
    let mut all = Vec::new();
    files(&base, &base, &mut all);
    let modules: BTreeMap<Vec<String>, String> =
        all.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for file in &all {
        let source = std::fs::read_to_string(base.join(format!("{file}.rs"))).expect("read");
        // Unit tests (a `#[cfg(test)] mod tests` at the end of a file) may reach anywhere.
        let source = match source.find("#[cfg(test)]\nmod tests") {
            Some(at) => &source[..at],
            None => &source[..],
        };
        let code = code_only(source);
        let targets: BTreeSet<String> = references(file, &code)
            .iter()
            .filter_map(|path| resolve(path, &modules))
            .filter(|target| target != file)
            .collect();
        edges.insert(file.clone(), targets);
    }
    (all, edges)
}

/// Whether `ancestor` is a module root above `file` (`host` above `host/turn`): a child that
/// implements its parent's type names it, which is no cycle between rooms.
fn is_ancestor(ancestor: &str, file: &str) -> bool {
    ancestor != "lib" && file.starts_with(&format!("{ancestor}/"))
}

#[test]
fn every_file_has_a_layer() {
    let (all, _) = graph();
    let missing: Vec<_> = all.iter().filter(|f| layer_of(f).is_none()).collect();
    assert!(missing.is_empty(), "files missing from LAYERS: {missing:?}");
}

#[test]
fn imports_never_run_up_the_layers() {
    let (_, edges) = graph();
    let mut up = Vec::new();
    for (from, targets) in &edges {
        let Some(low) = layer_of(from) else { continue };
        for to in targets {
            if let Some(high) = layer_of(to)
                && high > low
            {
                up.push(format!(
                    "{from} ({}) -> {to} ({})",
                    LAYERS[low].0, LAYERS[high].0
                ));
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports that run up the layers:\n{}",
        up.join("\n")
    );
}

#[test]
fn files_import_each_other_without_cycles() {
    let (all, edges) = graph();
    // Tarjan's strongly connected components, children-to-ancestor edges left out.
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        components: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let targets: Vec<&'a str> = s.edges[v]
            .iter()
            .map(String::as_str)
            .filter(|w| !is_ancestor(w, v))
            .collect();
        for w in targets {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.components.push(component);
        }
    }
    let mut state = State {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        components: Vec::new(),
    };
    for file in &all {
        if !state.index.contains_key(file.as_str()) {
            visit(&mut state, file);
        }
    }
    let knot: BTreeSet<&str> = KNOT.iter().copied().collect();
    let cycles: Vec<_> = state
        .components
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .filter(|c| c.iter().copied().collect::<BTreeSet<_>>() != knot)
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}

#[test]
fn the_checker_sees_groups_super_and_child_modules() {
    let code = code_only(
        "mod gate;\nuse super::{Host, turn::Work};\nuse crate::storage::{keys, Batch};\n// crate::server\nlet x = \"crate::registry\";\nuse gate::OutputGate;\n",
    );
    let found = references("host/queue", &code);
    let found: BTreeSet<String> = found.iter().map(|p| p.join("::")).collect();
    for expected in [
        "host::Host",
        "host::turn::Work",
        "storage::keys",
        "storage::Batch",
        "host::queue::gate::OutputGate",
    ] {
        assert!(found.contains(expected), "{expected} not in {found:?}");
    }
    assert!(
        !found
            .iter()
            .any(|p| p.starts_with("server") || p.starts_with("registry"))
    );
}
