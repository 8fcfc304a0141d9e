//! `#[actor]`: parse the `impl` block into an IR (collecting every error), then generate.
//!
//! Parsing, lowest layer first; errors are collected in [`crate::ctxt::Ctxt`]:
//! - `ir.rs`: the IR, `ActorDef` with its actions, queues, events, hooks, parameters, outputs;
//! - `attrs.rs`: the `#[actor(...)]` arguments, the role attributes on methods, wire names;
//! - `signature.rs`: a method's receiver, context parameter, owned parameters and output;
//! - `roles.rs`: one parser per role (action, queue, queue declaration, event, create, vars,
//!   run, lifecycle hook, connection and raw hooks);
//! - `checks.rs`: checks across items (unique wire names, client name clashes, single roles);
//! - `parse.rs`: walks the `impl` block and drives the above.
//!
//! Generation: `expand.rs`, a `Generator` with one method per emitted item (its module docs
//! list where each item is generated).

use proc_macro2::TokenStream;
use quote::quote;

mod attrs;
mod checks;
mod expand;
mod ir;
mod parse;
mod roles;
mod signature;

/// Expands `#[actor(attr)] item`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_impl: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                "#[actor] goes on an `impl` block of the actor's state type, such as `impl Counter { ... }`",
            );
            let error = error.to_compile_error();
            return quote! { #error #item };
        }
    };
    let parsed = parse::parse(attr, item_impl);
    let errors = parsed.errors.unwrap_or_default();
    match parsed.def {
        Ok(def) => {
            let generated = expand::Generator::new(&def);
            quote! { #errors #generated }
        }
        // Still emit the impl block (without our attributes and event declarations), so the
        // user sees only the real errors, not a cascade of unknown attributes and missing
        // bodies.
        Err(cleaned) => quote! { #errors #cleaned },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> String {
        let attr: TokenStream = attr.parse().expect("attr tokens");
        let item: TokenStream = item.parse().expect("item tokens");
        expand(attr, item).to_string()
    }

    #[test]
    fn not_an_impl_block() {
        let out = expand_str("", "struct Counter;");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        // The item is emitted as written, so the error is the only one.
        assert!(out.ends_with("struct Counter ;"), "{out}");
    }

    #[test]
    fn an_impl_that_cannot_carry_an_actor_is_emitted_alone_with_its_error() {
        let out = expand_str(
            "",
            r"impl<T> Counter<T> {
                #[action] fn get(&self) -> i64 { 0 }
            }",
        );
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("generic impl blocks"), "{out}");
        assert!(out.contains("fn get"), "{out}");
        assert!(!out.contains("# [action]"), "{out}");
        assert!(!out.contains("CounterClient"), "{out}");
    }
}
