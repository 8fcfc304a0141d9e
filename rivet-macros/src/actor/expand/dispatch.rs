//! The `Actor` functions that route a named message to a method: `dispatch` (one arm per
//! action) and the queue functions (`queue_has_handler`, `check_queue_message`,
//! `dispatch_queue`). Each arm decodes the arguments, calls the method and encodes its output.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::Generator;
use super::invoke::{encode_result, method_call};
use crate::actor::ir::{Action, Queue, Receiver};

impl Generator<'_> {
    /// `fn dispatch`: runs the action named `name`; unknown names are `action_not_found`.
    pub(super) fn dispatch_fn(&self) -> TokenStream {
        let arms = self.def.actions.iter().map(|a| self.action_arm(a));
        quote! {
            fn dispatch<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                name: &'a str,
                args: &'a [u8],
            ) -> impl ::core::future::Future<Output = __rivet::Dispatch> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &args);
                    match name {
                        #(#arms)*
                        _ => __rivet::Dispatch {
                            result: ::core::result::Result::Err(__rivet::action_not_found(name)),
                            mutates: false,
                        },
                    }
                }
            }
        }
    }

    /// `fn queue_has_handler`: whether a queue's messages go to a handler rather than wait for
    /// the `#[run]` loop.
    pub(super) fn queue_has_handler_fn(&self) -> TokenStream {
        let handled: Vec<&String> = self.handled_queues().map(|q| &q.wire).collect();
        let body = if handled.is_empty() {
            quote! { { let _ = name; false } }
        } else {
            quote! { matches!(name, #(#handled)|*) }
        };
        quote! {
            fn queue_has_handler(name: &str) -> bool {
                #body
            }
        }
    }

    /// `fn check_queue_message`: refuses a message its queue cannot decode before it is stored,
    /// and gives what to store: the message as its type encodes it.
    pub(super) fn check_queue_message_fn(&self) -> TokenStream {
        let arms = self.def.queues.iter().map(queue_check_arm);
        quote! {
            fn check_queue_message(name: &str, body: &[u8]) -> ::core::result::Result<__rivet::bytes::Bytes, __rivet::Error> {
                let _ = body;
                match name {
                    #(#arms)*
                    _ => ::core::result::Result::Err(__rivet::queue_not_found(name)),
                }
            }
        }
    }

    /// `fn dispatch_queue`: runs a queue handler on a message.
    pub(super) fn dispatch_queue_fn(&self) -> TokenStream {
        let arms = self.handled_queues().map(|q| self.queue_arm(q));
        quote! {
            fn dispatch_queue<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                name: &'a str,
                body: &'a [u8],
            ) -> impl ::core::future::Future<Output = __rivet::Dispatch> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &body);
                    match name {
                        #(#arms)*
                        _ => __rivet::Dispatch {
                            result: ::core::result::Result::Err(__rivet::queue_not_found(name)),
                            mutates: false,
                        },
                    }
                }
            }
        }
    }

    /// The queues with a handler (not bodyless declarations).
    fn handled_queues(&self) -> impl Iterator<Item = &Queue> {
        self.def.queues.iter().filter(|q| !q.declared_only)
    }

    /// Decodes the arguments one by one (each spanned on its type), calls the action and encodes
    /// its output; the first failure breaks out as the result.
    fn action_arm(&self, action: &Action) -> TokenStream {
        let wire = &action.wire;
        let param_names: Vec<String> = action.params.iter().map(|p| p.name.to_string()).collect();
        let locals: Vec<Ident> = (0..action.params.len())
            .map(|i| format_ident!("__arg{}", i))
            .collect();
        let decodes = action.params.iter().zip(&locals).map(|(p, local)| {
            let ty = &p.ty;
            let next = quote_spanned!(ty.span()=> __args.take::<#ty>());
            quote! {
                let #local: #ty = match #next {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(e) => break 'call ::core::result::Result::Err(e),
                };
            }
        });
        let call = method_call(
            &self.def.self_ty,
            &action.ident,
            action.receiver,
            action.cx,
            &locals,
            action.is_async,
        );
        let encoded = encode_result(&action.output, call);
        let mutates = action.receiver == Receiver::Mut;
        quote! {
            #wire => {
                let result = 'call: {
                    let mut __args = match __rivet::decode_args(args, #wire, &[#(#param_names),*]) {
                        ::core::result::Result::Ok(a) => a,
                        ::core::result::Result::Err(e) => break 'call ::core::result::Result::Err(e),
                    };
                    #(#decodes)*
                    #encoded
                };
                __rivet::Dispatch { result, mutates: #mutates }
            }
        }
    }

    /// Decodes the message (spanned on its type), calls the handler and encodes its output.
    fn queue_arm(&self, queue: &Queue) -> TokenStream {
        let wire = &queue.wire;
        let ty = &queue.message.ty;
        let decode = quote_spanned!(ty.span()=> __rivet::decode_message::<#ty>(body, #wire));
        let local = format_ident!("__message");
        let call = method_call(
            &self.def.self_ty,
            &queue.ident,
            queue.receiver,
            queue.cx,
            std::slice::from_ref(&local),
            queue.is_async,
        );
        let encoded = encode_result(&queue.output, call);
        let mutates = queue.receiver == Receiver::Mut;
        quote! {
            #wire => {
                let result = 'call: {
                    let #local: #ty = match #decode {
                        ::core::result::Result::Ok(v) => v,
                        ::core::result::Result::Err(e) => break 'call ::core::result::Result::Err(e),
                    };
                    #encoded
                };
                __rivet::Dispatch { result, mutates: #mutates }
            }
        }
    }
}

fn queue_check_arm(queue: &Queue) -> TokenStream {
    let wire = &queue.wire;
    let ty = &queue.message.ty;
    quote! {
        #wire => __rivet::typed_message::<#ty>(body, #wire),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use syn::parse_quote;

    use super::*;
    use crate::actor::parse::parse_ok;

    #[test]
    fn declared_queues_are_checked_but_not_dispatched() {
        let def = parse_ok(
            TokenStream::new(),
            parse_quote! {
                impl Worker {
                    #[queue] fn jobs(job: Job);
                    #[queue] fn orders(&mut self, order: Order) {}
                }
            },
        );
        let generator = Generator::new(&def);
        let has_handler = generator.queue_has_handler_fn().to_string();
        assert!(
            has_handler.contains("matches ! (name , \"orders\")"),
            "{has_handler}"
        );
        let dispatch = generator.dispatch_queue_fn().to_string();
        assert!(dispatch.contains("\"orders\" =>"), "{dispatch}");
        assert!(!dispatch.contains("\"jobs\""), "{dispatch}");
        let check = generator.check_queue_message_fn().to_string();
        assert!(
            check.contains("\"jobs\" =>") && check.contains("\"orders\" =>"),
            "{check}"
        );
    }

    #[test]
    fn an_action_arm_decodes_each_argument_then_encodes_the_output() {
        let def = parse_ok(
            TokenStream::new(),
            parse_quote! {
                impl Counter {
                    #[action] async fn add(&mut self, a: i64, b: String) -> Result<i64, E> { Ok(a) }
                }
            },
        );
        let dispatch = Generator::new(&def).dispatch_fn().to_string();
        assert!(
            dispatch.contains("decode_args (args , \"add\" , & [\"a\" , \"b\"])"),
            "{dispatch}"
        );
        assert!(
            dispatch.contains("__args . take :: < i64 > ()"),
            "{dispatch}"
        );
        assert!(
            dispatch.contains("__args . take :: < String > ()"),
            "{dispatch}"
        );
        assert!(
            dispatch.contains("< Counter > :: add (& mut * self , __arg0 , __arg1) . await"),
            "{dispatch}"
        );
        assert!(dispatch.contains("mutates : true"), "{dispatch}");
    }
}
