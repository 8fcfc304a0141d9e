//! Code generation from the actor IR. Everything refers to the runtime through
//! `::rivet_core::__private`, so users need one dependency and renamed imports never break it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::ir::{
    Action, ActorDef, CreateFn, CxParam, Event, HookFn, HookKind, Output, Queue, Receiver,
    SpecialFn, SpecialKind, VarsFn,
};

pub(crate) fn generate(def: &ActorDef) -> TokenStream {
    let cleaned = &def.cleaned;
    let self_ty = &def.self_ty;
    let ident = &def.ident;
    let event_ty = format_ident!("{}Event", ident);
    let client_ty = format_ident!("{}Client", ident);
    let conn_ty = format_ident!("{}Connection", ident);
    let call_ty = format_ident!("{}Call", ident);
    let migrations_fn = match &def.migrations {
        Some(expr) => {
            let value = quote_spanned!(expr.span()=> #expr);
            quote! {
                fn migrations() -> &'static [&'static str] {
                    #value
                }
            }
        }
        None => quote! {},
    };

    let event_enum = event_enum(def, &event_ty);
    let metadata = metadata(def);
    let input_ty = input_type(def.create.as_ref());
    let vars_ty = vars_type(def.vars.as_ref());
    let create = create_fn(def);
    let create_vars = vars_fn(def.vars.as_ref(), self_ty);
    let dispatch_arms = def.actions.iter().map(|a| action_arm(a, self_ty));
    let queue_arms = def
        .queues
        .iter()
        .filter(|q| !q.declared_only)
        .map(|q| queue_arm(q, self_ty));
    let handled_queues: Vec<&String> = def
        .queues
        .iter()
        .filter(|q| !q.declared_only)
        .map(|q| &q.wire)
        .collect();
    let has_handler = if handled_queues.is_empty() {
        quote! { { let _ = name; false } }
    } else {
        quote! { matches!(name, #(#handled_queues)|*) }
    };
    let run_fn = match &def.run {
        Some(run) => {
            let ident = &run.ident;
            let body = match &run.output {
                Output::Result(_, err_span) => {
                    let convert = quote_spanned!(*err_span=> __rivet::into_error);
                    quote! { #self_ty::#ident(cx).await.map_err(#convert) }
                }
                _ => quote! { #self_ty::#ident(cx).await; ::core::result::Result::Ok(()) },
            };
            quote! {
                fn run(
                    cx: __rivet::RunCx<Self>,
                ) -> ::core::option::Option<__rivet::BoxFuture<'static, ::core::result::Result<(), __rivet::Error>>> {
                    ::core::option::Option::Some(::std::boxed::Box::pin(async move { #body }))
                }
            }
        }
        None => quote! {},
    };
    let queue_checks = def.queues.iter().map(queue_check_arm);
    let hook_arms = def
        .hooks
        .iter()
        .filter(|h| h.kind != HookKind::StateChange)
        .map(|h| hook_arm(h, self_ty));
    let state_change = def
        .hooks
        .iter()
        .find(|h| h.kind == HookKind::StateChange)
        .map(|h| call_hook(h, self_ty))
        .unwrap_or_else(|| quote! { let _ = cx; ::core::result::Result::Ok(()) });
    let special = |kind: SpecialKind| def.specials.iter().find(|s| s.kind == kind);
    let conn_state_ty =
        special(SpecialKind::ConnState).map_or_else(|| quote!(()), |s| s.output.ok_type());
    let before_connect = match special(SpecialKind::BeforeConnect) {
        Some(s) => special_call(s, self_ty, quote!(params)),
        None => quote! { ::core::result::Result::Ok(()) },
    };
    let conn_state = match special(SpecialKind::ConnState) {
        Some(s) => special_call(s, self_ty, quote!(params)),
        None => quote! { ::core::result::Result::Ok(()) },
    };
    let on_request = match special(SpecialKind::Request) {
        Some(s) => {
            let call = special_call(s, self_ty, quote!(request));
            quote! { ::core::option::Option::Some(#call) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let on_websocket = match special(SpecialKind::WebSocket) {
        Some(s) => {
            let call = special_call(s, self_ty, quote!(event));
            quote! { ::core::option::Option::Some(#call) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let client_helpers = def.actions.iter().map(client_action_helpers);
    let client_methods = def
        .actions
        .iter()
        .map(|a| client_action(a, &client_ty, quote!(handle)));
    let conn_methods = def
        .actions
        .iter()
        .map(|a| client_action(a, &client_ty, quote!(conn)));
    let queue_methods = def.queues.iter().map(client_queue);
    let call_methods = def
        .actions
        .iter()
        .map(|a| call_action(a, &client_ty, self_ty));
    let event_methods = def.events.iter().map(conn_event);
    let name = &def.name;
    let client_doc = format!(
        "The typed client of the [`{ident}`] actor (`{name}`): one async method per action and one `send_*` per queue."
    );
    let call_doc = format!(
        "Calls of the [`{ident}`] actor's actions, to schedule with `cx.schedule()`: one function per action, taking its arguments."
    );
    let conn_doc = format!(
        "A connection to a [`{ident}`] actor (`{name}`): its actions, plus one `on_*` subscription per event."
    );

    quote! {
        #cleaned

        #event_enum

        #[doc = #client_doc]
        #[derive(Clone, Debug)]
        pub struct #client_ty {
            handle: ::rivet_core::__private::ActorHandle,
        }

        #[doc = #conn_doc]
        #[derive(Debug)]
        pub struct #conn_ty {
            conn: ::rivet_core::__private::ActorConnection,
        }

        #[doc = #call_doc]
        #[derive(Debug, Clone, Copy)]
        pub struct #call_ty;

        #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
        impl #call_ty {
            #(#call_methods)*
        }

        #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
        impl #client_ty {
            /// The untyped handle underneath.
            pub fn handle(&self) -> &::rivet_core::__private::ActorHandle {
                &self.handle
            }

            /// This handle with connection parameters: the actor's `#[on_before_connect]` and
            /// `#[conn_state]` hooks receive them for every call and connection made from it.
            pub fn with_params<P: ::rivet_core::__private::serde::Serialize + ?::core::marker::Sized>(
                self,
                params: &P,
            ) -> ::core::result::Result<Self, ::rivet_core::__private::ActorError> {
                ::core::result::Result::Ok(Self { handle: self.handle.with_params(params)? })
            }

            /// Opens a connection, for events and connection-bound actions.
            pub async fn connect(&self) -> ::core::result::Result<#conn_ty, ::rivet_core::__private::ActorError> {
                ::core::result::Result::Ok(#conn_ty { conn: self.handle.connect().await? })
            }

            /// Resolves the actor's id, creating the actor first for get-or-create handles.
            pub async fn resolve(&self) -> ::core::result::Result<::std::string::String, ::rivet_core::__private::ActorError> {
                self.handle.resolve().await
            }

            #(#client_methods)*
            #(#queue_methods)*
            #(#client_helpers)*
        }

        #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
        impl #conn_ty {
            /// The untyped connection underneath.
            pub fn connection(&self) -> &::rivet_core::__private::ActorConnection {
                &self.conn
            }

            /// Closes the connection.
            pub fn disconnect(self) {
                self.conn.disconnect()
            }

            #(#conn_methods)*
            #(#event_methods)*
        }

        const _: () = {
            use ::rivet_core::__private as __rivet;

            static METADATA: __rivet::ActorMetadata = #metadata;

            impl ::core::convert::From<__rivet::ActorHandle> for #client_ty {
                fn from(handle: __rivet::ActorHandle) -> Self {
                    Self { handle }
                }
            }

            impl __rivet::ActorDescriptor for #self_ty {
                const NAME: &'static str = #name;
                type Input = #input_ty;
                type Client = #client_ty;
            }

            impl __rivet::Actor for #self_ty {
                type Input = #input_ty;
                type Vars = #vars_ty;
                type Event = #event_ty;
                type ConnState = #conn_state_ty;

                fn metadata() -> &'static __rivet::ActorMetadata {
                    &METADATA
                }

                #migrations_fn

                fn create(
                    cx: &__rivet::CreateCx,
                    input: Self::Input,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self, __rivet::Error>> + ::core::marker::Send {
                    #create
                }

                fn create_vars(
                    cx: &__rivet::CreateCx,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::Vars, __rivet::Error>> + ::core::marker::Send {
                    #create_vars
                }

                fn dispatch<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    name: &'a str,
                    args: &'a [u8],
                ) -> impl ::core::future::Future<Output = __rivet::Dispatch> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &args);
                        match name {
                            #(#dispatch_arms)*
                            _ => __rivet::Dispatch {
                                result: ::core::result::Result::Err(__rivet::action_not_found(name)),
                                mutates: false,
                            },
                        }
                    }
                }

                fn queue_has_handler(name: &str) -> bool {
                    #has_handler
                }

                #run_fn

                fn check_queue_message(name: &str, body: &[u8]) -> ::core::result::Result<(), __rivet::Error> {
                    let _ = body;
                    match name {
                        #(#queue_checks)*
                        _ => ::core::result::Result::Err(__rivet::queue_not_found(name)),
                    }
                }

                fn dispatch_queue<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    name: &'a str,
                    body: &'a [u8],
                ) -> impl ::core::future::Future<Output = __rivet::Dispatch> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &body);
                        match name {
                            #(#queue_arms)*
                            _ => __rivet::Dispatch {
                                result: ::core::result::Result::Err(__rivet::queue_not_found(name)),
                                mutates: false,
                            },
                        }
                    }
                }

                fn hook<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    hook: __rivet::Hook,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<(), __rivet::Error>> + ::core::marker::Send + 'a {
                    async move {
                        let _ = &cx;
                        match hook {
                            #(#hook_arms)*
                            _ => ::core::result::Result::Ok(()),
                        }
                    }
                }

                fn on_state_change(&self, cx: &mut __rivet::Cx<Self>) -> ::core::result::Result<(), __rivet::Error> {
                    #state_change
                }

                fn on_before_connect<'a>(
                    &'a self,
                    cx: &'a __rivet::Cx<Self>,
                    params: ::core::option::Option<&'a [u8]>,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<(), __rivet::Error>> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &params);
                        #before_connect
                    }
                }

                fn create_conn_state<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    params: ::core::option::Option<&'a [u8]>,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::ConnState, __rivet::Error>> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &params);
                        #conn_state
                    }
                }

                fn on_request<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    request: __rivet::raw::Request,
                ) -> impl ::core::future::Future<Output = ::core::option::Option<::core::result::Result<__rivet::raw::Response, __rivet::Error>>> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &request);
                        #on_request
                    }
                }

                fn on_websocket<'a>(
                    &'a mut self,
                    cx: &'a mut __rivet::Cx<Self>,
                    event: __rivet::raw::WebSocketEvent,
                ) -> impl ::core::future::Future<Output = ::core::option::Option<::core::result::Result<(), __rivet::Error>>> + ::core::marker::Send + 'a {
                    async move {
                        let _ = (&cx, &event);
                        #on_websocket
                    }
                }
            }
        };
    }
}

fn event_enum(def: &ActorDef, event_ty: &Ident) -> TokenStream {
    let ident = &def.ident;
    let doc = format!("The events of the [`{ident}`] actor, for `cx.broadcast(...)`.");
    let variants = def.events.iter().map(|e| {
        let variant = &e.variant;
        let docs = &e.docs;
        let wire_doc = format!("Wire name `{}`.", e.wire);
        let body = match e.params.len() {
            0 => quote! {},
            1 => {
                let ty = &e.params[0].ty;
                quote! { (#ty) }
            }
            _ => {
                let fields = e.params.iter().map(|p| {
                    let name = &p.name;
                    let ty = &p.ty;
                    quote! { #[allow(missing_docs)] #name: #ty }
                });
                quote! { { #(#fields),* } }
            }
        };
        quote! {
            #(#docs)*
            #[doc = #wire_doc]
            #variant #body
        }
    });
    let name_arms = def.events.iter().map(|e| {
        let variant = &e.variant;
        let wire = &e.wire;
        quote! { Self::#variant { .. } => #wire, }
    });
    let encode_arms = def.events.iter().map(|e| {
        let variant = &e.variant;
        let (pattern, values) = event_pattern(e);
        let len = e.params.len();
        let pushes = e.params.iter().zip(&values).map(|(p, value)| {
            let ty = &p.ty;
            quote_spanned!(ty.span()=> __enc.push::<#ty>(#value)?;)
        });
        quote! {
            Self::#variant #pattern => __rivet::encode_array(#len, |__enc| {
                #(#pushes)*
                ::core::result::Result::Ok(())
            }),
        }
    });
    let (name_body, encode_body) = if def.events.is_empty() {
        (quote! { match *self {} }, quote! { match *self {} })
    } else {
        (
            quote! { match self { #(#name_arms)* } },
            quote! { match self { #(#encode_arms)* } },
        )
    };
    quote! {
        #[doc = #doc]
        #[allow(private_interfaces)]
        pub enum #event_ty {
            #(#variants,)*
        }

        const _: () = {
            use ::rivet_core::__private as __rivet;

            impl __rivet::EventSet for #event_ty {
                fn name(&self) -> &'static str {
                    #name_body
                }

                fn encode_args(&self) -> ::core::result::Result<__rivet::bytes::Bytes, __rivet::ActorError> {
                    #encode_body
                }
            }
        };
    }
}

/// The pattern binding an event variant's fields, and the bound names in order.
fn event_pattern(e: &Event) -> (TokenStream, Vec<Ident>) {
    match e.params.len() {
        0 => (quote! {}, Vec::new()),
        1 => {
            let name = format_ident!("__a0");
            (quote! { (#name) }, vec![name])
        }
        _ => {
            let names: Vec<Ident> = e.params.iter().map(|p| p.name.clone()).collect();
            (quote! { { #(#names),* } }, names)
        }
    }
}

fn metadata(def: &ActorDef) -> TokenStream {
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
    let mut flags = Vec::new();
    for hook in &def.hooks {
        match hook.kind {
            HookKind::Connect => flags.push(quote!(CONNECT)),
            HookKind::Disconnect => flags.push(quote!(DISCONNECT)),
            _ => {}
        }
    }
    for special in &def.specials {
        flags.push(match special.kind {
            SpecialKind::BeforeConnect | SpecialKind::ConnState => quote!(CONNECTION_SETUP),
            SpecialKind::Request => quote!(REQUEST),
            SpecialKind::WebSocket => quote!(WEBSOCKET),
        });
    }
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
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote! { ::core::option::Option::Some(#v) },
        None => quote! { ::core::option::Option::None },
    }
}

fn input_type(create: Option<&CreateFn>) -> TokenStream {
    match create.and_then(|c| c.input.as_ref()) {
        Some(ty) => quote! { #ty },
        None => quote! { () },
    }
}

fn vars_type(vars: Option<&VarsFn>) -> TokenStream {
    match vars {
        Some(v) => v.output.ok_type(),
        None => quote! { () },
    }
}

fn create_fn(def: &ActorDef) -> TokenStream {
    let self_ty = &def.self_ty;
    let Some(create) = &def.create else {
        // Spanned on the state type, so a missing `Default` is reported there.
        let default = quote_spanned! {self_ty.span()=>
            <#self_ty as ::core::default::Default>::default()
        };
        return quote! {
            let _ = (cx, input);
            async move { ::core::result::Result::Ok(#default) }
        };
    };
    let ident = &create.ident;
    let mut args = Vec::new();
    if create.has_cx {
        args.push(quote!(cx));
    }
    if create.input.is_some() {
        args.push(quote!(input));
    }
    let call = quote! { <#self_ty>::#ident(#(#args),*) };
    let call = if create.is_async {
        quote! { #call.await }
    } else {
        call
    };
    let result = convert_result(&create.output, call);
    let unused = if create.input.is_none() {
        quote! { let _ = input; }
    } else {
        quote! {}
    };
    let unused_cx = if create.has_cx {
        quote! {}
    } else {
        quote! { let _ = cx; }
    };
    quote! {
        #unused
        #unused_cx
        async move { #result }
    }
}

fn vars_fn(vars: Option<&VarsFn>, self_ty: &Type) -> TokenStream {
    let Some(vars) = vars else {
        return quote! {
            let _ = cx;
            async move { ::core::result::Result::Ok(()) }
        };
    };
    let ident = &vars.ident;
    let args = if vars.has_cx { quote!(cx) } else { quote!() };
    let call = quote! { <#self_ty>::#ident(#args) };
    let call = if vars.is_async {
        quote! { #call.await }
    } else {
        call
    };
    let result = convert_result(&vars.output, call);
    let unused_cx = if vars.has_cx {
        quote! {}
    } else {
        quote! { let _ = cx; }
    };
    quote! {
        #unused_cx
        async move { #result }
    }
}

/// Turns a call returning `T` or `Result<T, E>` into `Result<T, __rivet::Error>`.
fn convert_result(output: &Output, call: TokenStream) -> TokenStream {
    match output {
        Output::Result(_, err_span) => {
            let convert = quote_spanned!(*err_span=> __rivet::into_error);
            quote! { #call.map_err(#convert) }
        }
        Output::Unit | Output::Value(_) => quote! { __rivet::ok(#call) },
    }
}

/// Turns a call into `Result<Bytes, __rivet::Error>` with the encoded output. The encoding is
/// spanned on the declared type, so a type that cannot be serialized is reported there.
fn encode_result(output: &Output, call: TokenStream) -> TokenStream {
    match output {
        Output::Unit => quote! { #call; __rivet::encode_output(&()) },
        Output::Value(ty) => {
            let encode = quote_spanned!(ty.span()=> __rivet::encode_output::<#ty>(&__value));
            quote! {
                let __value = #call;
                #encode
            }
        }
        Output::Result(ty, err_span) => {
            let encode = quote_spanned!(ty.span()=> __rivet::encode_output::<#ty>(&__value));
            let convert = quote_spanned!(*err_span=> __rivet::into_error(__error));
            quote! {
                match #call {
                    ::core::result::Result::Ok(__value) => #encode,
                    ::core::result::Result::Err(__error) => ::core::result::Result::Err(#convert),
                }
            }
        }
    }
}

fn receiver_arg(receiver: Receiver) -> TokenStream {
    match receiver {
        Receiver::Ref => quote! { &*self },
        Receiver::Mut => quote! { &mut *self },
    }
}

fn cx_arg(cx: Option<CxParam>) -> Option<TokenStream> {
    cx.map(|c| {
        if c.mutable {
            quote! { &mut *cx }
        } else {
            quote! { &*cx }
        }
    })
}

fn method_call(
    self_ty: &Type,
    ident: &Ident,
    receiver: Receiver,
    cx: Option<CxParam>,
    args: &[Ident],
    is_async: bool,
) -> TokenStream {
    let recv = receiver_arg(receiver);
    let cx = cx_arg(cx).into_iter();
    let call = quote! { <#self_ty>::#ident(#recv, #(#cx,)* #(#args),*) };
    if is_async {
        quote! { #call.await }
    } else {
        call
    }
}

fn action_arm(action: &Action, self_ty: &Type) -> TokenStream {
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
        self_ty,
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

fn queue_arm(queue: &Queue, self_ty: &Type) -> TokenStream {
    let wire = &queue.wire;
    let ty = &queue.message.ty;
    let decode = quote_spanned!(ty.span()=> __rivet::decode_message::<#ty>(body, #wire));
    let local = format_ident!("__message");
    let call = method_call(
        self_ty,
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

fn queue_check_arm(queue: &Queue) -> TokenStream {
    let wire = &queue.wire;
    let ty = &queue.message.ty;
    quote! {
        #wire => __rivet::decode_message::<#ty>(body, #wire).map(|_| ()),
    }
}

fn call_hook(hook: &HookFn, self_ty: &Type) -> TokenStream {
    let call = method_call(
        self_ty,
        &hook.ident,
        hook.receiver,
        hook.cx,
        &[],
        hook.is_async,
    );
    match &hook.output {
        Output::Result(_, err_span) => {
            let convert = quote_spanned!(*err_span=> __rivet::into_error);
            quote! { #call.map_err(#convert) }
        }
        _ => quote! { #call; ::core::result::Result::Ok(()) },
    }
}

/// Calls a special hook with its input: decoded connection parameters (from `source`, the CBOR
/// parameters), or the request or event itself; converts the result to the runtime's error.
fn special_call(special: &SpecialFn, self_ty: &Type, source: TokenStream) -> TokenStream {
    let mut args = Vec::new();
    let mut prelude = TokenStream::new();
    if let Some(input) = &special.input {
        let local = format_ident!("__input");
        match special.kind {
            SpecialKind::BeforeConnect | SpecialKind::ConnState => {
                let ty = &input.ty;
                let decode = quote_spanned!(ty.span()=> __rivet::decode_params::<#ty>(#source));
                prelude = quote! {
                    let #local: #ty = match #decode {
                        ::core::result::Result::Ok(v) => v,
                        ::core::result::Result::Err(e) => return ::core::result::Result::Err(e),
                    };
                };
            }
            SpecialKind::Request | SpecialKind::WebSocket => {
                prelude = quote! { let #local = #source; };
            }
        }
        args.push(local);
    }
    let call = method_call(
        self_ty,
        &special.ident,
        special.receiver,
        special.cx,
        &args,
        special.is_async,
    );
    let result = match &special.output {
        Output::Result(_, err_span) => {
            let convert = quote_spanned!(*err_span=> __rivet::into_error);
            quote! { #call.map_err(#convert) }
        }
        Output::Unit | Output::Value(_) => quote! { __rivet::ok(#call) },
    };
    if special.kind == SpecialKind::Request || special.kind == SpecialKind::WebSocket {
        // These run inside `Some(...)`, so the prelude cannot `return`; they have no decoding.
        quote! { { #prelude #result } }
    } else {
        quote! { #prelude #result }
    }
}

fn hook_arm(hook: &HookFn, self_ty: &Type) -> TokenStream {
    let variant = match hook.kind {
        HookKind::Create => quote!(Create),
        HookKind::Wake => quote!(Wake),
        HookKind::Sleep => quote!(Sleep),
        HookKind::Destroy => quote!(Destroy),
        HookKind::Connect => quote!(Connect),
        HookKind::Disconnect => quote!(Disconnect),
        HookKind::StateChange => return quote! {},
    };
    let call = call_hook(hook, self_ty);
    quote! {
        __rivet::Hook::#variant => { #call }
    }
}

/// The name of a generated helper for an item: `__rivet_{what}_{ident}` (raw identifiers lose
/// their `r#`).
fn helper_ident(what: &str, ident: &Ident) -> Ident {
    let base = ident.to_string();
    format_ident!("__rivet_{}_{}", what, base.trim_start_matches("r#"))
}

/// Hidden helpers on the client that encode an action's arguments and decode its output: one
/// place each, spanned on the user's types, shared by the client and the connection.
fn client_action_helpers(action: &Action) -> TokenStream {
    let args_fn = helper_ident("args", &action.ident);
    let output_fn = helper_ident("output", &action.ident);
    let len = action.params.len();
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: &#ty }
    });
    let pushes = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote_spanned!(ty.span()=> __enc.push::<#ty>(#name)?;)
    });
    let out = action.output.ok_type();
    let decode = match &action.output {
        Output::Unit => quote! { ::rivet_core::__private::decode_output::<()>(output) },
        Output::Value(ty) | Output::Result(ty, _) => {
            quote_spanned!(ty.span()=> ::rivet_core::__private::decode_output::<#ty>(output))
        }
    };
    quote! {
        #[doc(hidden)]
        pub fn #args_fn(#(#params),*) -> ::core::result::Result<::rivet_core::__private::bytes::Bytes, ::rivet_core::__private::ActorError> {
            ::rivet_core::__private::encode_array(#len, |__enc| {
                #(#pushes)*
                ::core::result::Result::Ok(())
            })
        }

        #[doc(hidden)]
        pub fn #output_fn(output: &[u8]) -> ::core::result::Result<#out, ::rivet_core::__private::ActorError> {
            #decode
        }
    }
}

fn client_action(action: &Action, client_ty: &Ident, via: TokenStream) -> TokenStream {
    let ident = &action.ident;
    let wire = &action.wire;
    let docs = &action.docs;
    let call_doc = format!("Calls the `{wire}` action.");
    let args_fn = helper_ident("args", &action.ident);
    let output_fn = helper_ident("output", &action.ident);
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: #ty }
    });
    let names = action.params.iter().map(|p| &p.name);
    let out = action.output.ok_type();
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #call_doc]
        pub async fn #ident(&self, #(#params),*) -> ::core::result::Result<#out, ::rivet_core::__private::ActorError> {
            let args = #client_ty::#args_fn(#(&#names),*)?;
            #client_ty::#output_fn(&self.#via.action_raw(#wire, args).await?)
        }
    }
}

/// `{Actor}Call::{action}(args...)`: the action's wire name and encoded arguments, typed like
/// the action, for schedules.
fn call_action(action: &Action, client_ty: &Ident, self_ty: &Type) -> TokenStream {
    let ident = &action.ident;
    let wire = &action.wire;
    let doc = format!("A call of the `{wire}` action.");
    let args_fn = helper_ident("args", &action.ident);
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: #ty }
    });
    let names = action.params.iter().map(|p| &p.name);
    quote! {
        #[doc = #doc]
        pub fn #ident(#(#params),*) -> ::rivet_core::__private::Call<#self_ty> {
            ::rivet_core::__private::Call::new(#wire, #client_ty::#args_fn(#(&#names),*))
        }
    }
}

fn client_queue(queue: &Queue) -> TokenStream {
    let method = format_ident!("send_{}", queue.ident);
    let wire = &queue.wire;
    let docs = &queue.docs;
    let ty = &queue.message.ty;
    let out = queue.output.ok_type();
    let doc = format!(
        "Sends a message to the `{wire}` queue. `.await` enqueues it durably; `.wait(timeout).await` also waits for the handler's result."
    );
    let send = quote_spanned!(ty.span()=> self.handle.queue_send::<#out, #ty>(#wire, &message));
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #doc]
        pub fn #method(&self, message: #ty) -> ::rivet_core::__private::QueueSend<'_, #out> {
            #send
        }
    }
}

/// A hidden decoder for an event's arguments, spanned on each declared type, and the typed
/// `on_{event}` subscription that uses it.
fn conn_event(event: &Event) -> TokenStream {
    let method = format_ident!("on_{}", event.ident);
    let decode_fn = helper_ident("event", &event.ident);
    let wire = &event.wire;
    let docs = &event.docs;
    let doc = format!("Calls `callback` with the payload of every `{wire}` event.");
    let tys: Vec<&Type> = event.params.iter().map(|p| &p.ty).collect();
    let locals: Vec<Ident> = (0..tys.len()).map(|i| format_ident!("__a{}", i)).collect();
    let takes = tys.iter().zip(&locals).map(|(ty, local)| {
        let take = quote_spanned!(ty.span()=> __dec.next_or_null::<#ty>()?);
        quote! { let #local = #take; }
    });
    quote! {
        #[doc(hidden)]
        pub fn #decode_fn(args: &[u8]) -> ::core::result::Result<(#(#tys,)*), ::std::string::String> {
            let mut __dec = ::rivet_core::__private::ArrayDecoder::new(args)?;
            let _ = &mut __dec;
            #(#takes)*
            ::core::result::Result::Ok((#(#locals,)*))
        }

        #(#docs)*
        #[doc = ""]
        #[doc = #doc]
        pub fn #method<F>(&self, callback: F) -> ::rivet_core::__private::Subscription
        where
            F: Fn(#(#tys),*) + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            self.conn.on_raw(#wire, move |args| match Self::#decode_fn(args) {
                ::core::result::Result::Ok((#(#locals,)*)) => callback(#(#locals),*),
                ::core::result::Result::Err(error) => ::rivet_core::__private::bad_event(#wire, &error),
            })
        }
    }
}
