//! `#[actor]`: parse the `impl` block into an IR (collecting every error), then generate.

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
    fn generates_client_dispatch_and_events() {
        let out = expand_str(
            r#"name = "counter", icon = "calculator""#,
            r"impl Counter {
                #[action] fn increment(&mut self, cx: &mut Cx<Self>, amount: i64) -> i64 { 0 }
                #[action] fn get_count(&self) -> i64 { 0 }
                #[event] fn new_count(count: i64);
            }",
        );
        assert!(out.contains("pub struct CounterClient"), "{out}");
        assert!(out.contains("pub struct CounterConnection"), "{out}");
        assert!(out.contains("pub enum CounterEvent"), "{out}");
        assert!(out.contains("\"getCount\""), "{out}");
        assert!(out.contains("fn on_new_count"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn reports_several_errors_at_once() {
        let out = expand_str(
            "",
            r"impl Counter {
                #[action] fn a(self) {}
                #[action(bogus = 1)] fn b(&self) {}
                #[event] fn c(x: i64) {}
            }",
        );
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        // The user's impl block is still emitted, minus our attributes.
        assert!(out.contains("impl Counter"), "{out}");
        assert!(!out.contains("# [action"), "{out}");
    }

    #[test]
    fn wire_names_default_to_camel_case_and_can_be_overridden() {
        let out = expand_str(
            "",
            r#"impl ChatRoom {
                #[action] fn send_message(&mut self, text: String) {}
                #[action(name = "history")] fn get_history(&self) -> Vec<String> { vec![] }
            }"#,
        );
        assert!(out.contains("\"chatRoom\""), "{out}");
        assert!(out.contains("\"sendMessage\""), "{out}");
        assert!(out.contains("\"history\""), "{out}");
        assert!(!out.contains("\"getHistory\""), "{out}");
    }

    #[test]
    fn not_an_impl_block() {
        let out = expand_str("", "struct Counter;");
        assert!(out.contains("compile_error"), "{out}");
    }
}
