//! Compile-fail tests: every misuse of `#[actor]` gives a precise error on the user's tokens.
//! The expected compiler output is checked in next to each case (`ui/*.stderr`); regenerate it
//! with `TRYBUILD=overwrite cargo test -p rivet-macros --test ui` after a deliberate change.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/ui/*.rs");
}
