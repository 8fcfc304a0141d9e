//! Every fixture actor, registered under RivetKit's names.

use rivet_core::RegistryBuilder;

pub mod action_inputs;
pub mod action_timeout;
pub mod action_types;
pub mod actor_db;
pub mod conn_error_serialization;
pub mod conn_params;
pub mod conn_state;
pub mod counter;
pub mod counter_conn;
pub mod db_pragma_migration;
pub mod destroy;
pub mod error_handling;
pub mod inline_client;
pub mod kv;
pub mod large_payloads;
pub mod lifecycle;
pub mod metadata;
pub mod onstatechange;
pub mod raw_http;
pub mod raw_websocket;
pub mod reject_connection;
pub mod request_access;
pub mod run;
pub mod scheduled;
pub mod sleep;
pub mod sleep_db;
pub mod start_stop_race;
pub mod state_zod_coercion;
pub mod stateless;
pub mod vars;

/// Adds every fixture actor to `builder`.
pub fn register(builder: RegistryBuilder) -> RegistryBuilder {
    builder
        .with::<counter::Counter>()
        .with::<counter_conn::CounterConn>()
        .with::<destroy::DestroyActor>()
        .with::<destroy::DestroyObserver>()
        .with::<start_stop_race::StartStopRaceActor>()
        .with::<start_stop_race::LifecycleObserver>()
        .with::<lifecycle::CounterWithLifecycle>()
        .with::<action_inputs::InputActor>()
        .with::<action_timeout::ShortTimeoutActor>()
        .with::<action_timeout::LongTimeoutActor>()
        .with::<action_timeout::DefaultTimeoutActor>()
        .with::<action_timeout::SyncTimeoutActor>()
        .with::<action_types::SyncActionActor>()
        .with::<action_types::AsyncActionActor>()
        .with::<action_types::PromiseActor>()
        .with::<conn_params::CounterWithParams>()
        .with::<actor_db::DbActorRaw>()
        .with::<actor_db::DbActorDrizzle>()
        .with::<conn_state::ConnStateActor>()
        .with::<conn_error_serialization::ConnErrorSerializationActor>()
        .with::<error_handling::ErrorHandlingActor>()
        .with::<error_handling::CustomTimeoutActor>()
        .with::<inline_client::InlineClientActor>()
        .with::<kv::KvActor>()
        .with::<large_payloads::LargePayloadActor>()
        .with::<large_payloads::LargePayloadConnActor>()
        .with::<metadata::MetadataActor>()
        .with::<onstatechange::OnStateChangeActor>()
        .with::<raw_http::RawHttpActor>()
        .with::<raw_http::RawHttpNoHandlerActor>()
        .with::<raw_http::RawHttpVoidReturnActor>()
        .with::<raw_http::RawHttpHonoActor>()
        .with::<raw_http::RawHttpRequestPropertiesActor>()
        .with::<raw_websocket::RawWebSocketActor>()
        .with::<raw_websocket::RawWebSocketBinaryActor>()
        .with::<reject_connection::RejectConnectionActor>()
        .with::<request_access::RequestAccessActor>()
        .with::<run::RunWithTicks>()
        .with::<run::RunWithQueueConsumer>()
        .with::<run::RunWithEarlyExit>()
        .with::<run::RunWithError>()
        .with::<run::RunWithoutHandler>()
        .with::<scheduled::Scheduled>()
        .with::<sleep::Sleep>()
        .with::<sleep::SleepWithNoSleepOption>()
        .with::<sleep::SleepWithRawHttp>()
        .with::<sleep::SleepWithRawWebSocket>()
        .with::<sleep::SleepRawWsSendOnSleep>()
        .with::<sleep::SleepRawWsDelayedSendOnSleep>()
        .with::<sleep::SleepRawWsAddEventListenerMessage>()
        .with::<sleep::SleepRawWsAddEventListenerClose>()
        .with::<sleep::SleepRawWsOnMessage>()
        .with::<sleep::SleepRawWsOnClose>()
        .with::<sleep::SleepWithPreventSleep>()
        .with::<sleep_db::SleepWithDb>()
        .with::<sleep_db::SleepWithSlowScheduledDb>()
        .with::<sleep_db::SleepWithDbConn>()
        .with::<sleep_db::SleepWithDbAction>()
        .with::<sleep_db::SleepScheduleAfter>()
        .with::<sleep_db::SleepOnSleepThrows>()
        .with::<sleep_db::SleepEnqueue>()
        .with::<scheduled::ScheduledDb>()
        .with::<db_pragma_migration::DbPragmaMigrationActor>()
        .with::<state_zod_coercion::StateZodCoercionActor>()
        .with::<stateless::StatelessActor>()
        .with::<vars::StaticVarActor>()
        .with::<vars::NestedVarActor>()
        .with::<vars::DynamicVarActor>()
        .with::<vars::UniqueVarActor>()
        .with::<vars::DriverCtxActor>()
}
