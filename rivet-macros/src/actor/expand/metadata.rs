//! The actor's `ActorMetadata`: its name, display name and icon, its actions (wire name,
//! parameter names, whether they mutate), events and queues, whether it takes an input, and
//! which optional hooks it has.

use proc_macro2::TokenStream;
use quote::quote;

use super::Generator;
use crate::actor::ir::{HookKind, Receiver, SpecialKind};

impl Generator<'_> {
    /// The `ActorMetadata` expression behind the `METADATA` static.
    pub(super) fn metadata(&self) -> TokenStream {
        let def = self.def;
        let name = &def.name;
        let display = option_str(def.display_name.as_deref());
        let icon = option_str(def.icon.as_deref());
        let actions = def.actions.iter().map(|a| {
            let wire = &a.wire;
            let params = a.params.iter().map(|p| p.name.to_string());
            let mutates = a.receiver == Receiver::Mut;
            quote! { __rivet::ActionMetadata::new(#wire, &[#(#params),*], #mutates) }
        });
        let events = def.events.iter().map(|e| &e.wire);
        let queues = def.queues.iter().map(|q| &q.wire);
        let takes_input = def.create.as_ref().is_some_and(|c| c.input.is_some());
        let flags = self.hook_flags();
        let options = def.options.as_ref().map(|o| quote! { .with_options(#o) });
        quote! {
            __rivet::ActorMetadata::new(
                #name,
                #display,
                #icon,
                &[#(#actions),*],
                &[#(#events),*],
                &[#(#queues),*],
                #takes_input,
                __rivet::HookSet::empty()#(.with(__rivet::HookSet::#flags))*,
            )
            #options
        }
    }

    /// The `HookSet` flags of the hooks the runtime must know about before calling them.
    fn hook_flags(&self) -> Vec<TokenStream> {
        let mut flags = Vec::new();
        for hook in &self.def.hooks {
            match hook.kind {
                HookKind::Connect => flags.push(quote!(CONNECT)),
                HookKind::Disconnect => flags.push(quote!(DISCONNECT)),
                _ => {}
            }
        }
        if self.def.run.is_some() {
            flags.push(quote!(RUN));
        }
        for special in &self.def.specials {
            flags.push(match special.kind {
                SpecialKind::BeforeConnect | SpecialKind::ConnState => quote!(CONNECTION_SETUP),
                SpecialKind::Request => quote!(REQUEST),
                SpecialKind::WebSocket => quote!(WEBSOCKET),
            });
        }
        flags
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote! { ::core::option::Option::Some(#v) },
        None => quote! { ::core::option::Option::None },
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use syn::parse_quote;

    use super::*;
    use crate::actor::parse::parse_ok;

    #[test]
    fn hook_flags_name_the_optional_hooks() {
        let def = parse_ok(
            TokenStream::new(),
            parse_quote! {
                impl Room {
                    #[on_connect] fn joined(&mut self) {}
                    #[on_wake] fn woke(&mut self) {}
                    #[conn_state] fn state(&mut self, params: P) -> S { S }
                    #[on_request] fn raw(&mut self, request: Request) -> Response { todo!() }
                    #[run] async fn work(cx: RunCx<Self>) {}
                }
            },
        );
        let flags: Vec<String> = Generator::new(&def)
            .hook_flags()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(flags, ["CONNECT", "RUN", "CONNECTION_SETUP", "REQUEST"]);
    }
}
