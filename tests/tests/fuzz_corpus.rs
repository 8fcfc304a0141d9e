//! Replays the fuzz corpus (`fuzz/corpus/<target>/`: the seeds and every input libFuzzer kept
//! because it reached new code) through the same targets the fuzzer runs (`fuzz/src/lib.rs`,
//! included here), so an input that once made a decoder panic stays fixed. `scripts/fuzz` runs
//! the fuzzer itself.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod targets;

#[test]
fn every_corpus_input_decodes_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for name in targets::names() {
        let target = targets::target(name).expect("a target");
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut inputs = 0;
        for entry in entries {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("input");
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{name}: {} panics", path.display());
            inputs += 1;
        }
        assert!(inputs > 0, "no corpus for {name}");
        replayed += inputs;
    }
    assert!(replayed > 0);
}
