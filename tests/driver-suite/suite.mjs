// The suite's test files, in the order RivetKit's runDriverTests (src/driver-test-suite/mod.ts)
// runs them, with actor-driver.ts split into the five files it runs. `skipped` says why a
// file's tests are skipped: run.mjs passes RivetKit's own skip flags for the TypeScript-only
// features, and those files skip themselves (`describe.skipIf`).

export const FILES = [
	{ file: "actor-state", run: "runActorStateTests" },
	{ file: "actor-schedule", run: "runActorScheduleTests" },
	{ file: "actor-sleep", run: "runActorSleepTests" },
	{ file: "actor-sleep-db", run: "runActorSleepDbTests" },
	{ file: "actor-lifecycle", run: "runActorLifecycleTests" },
	{ file: "manager-driver", run: "runManagerDriverTests" },
	{ file: "actor-conn", run: "runActorConnTests" },
	{ file: "actor-conn-state", run: "runActorConnStateTests" },
	{ file: "actor-conn-hibernation", run: "runActorConnHibernationTests" },
	{ file: "conn-error-serialization", run: "runConnErrorSerializationTests" },
	{ file: "actor-db", run: "runActorDbTests" },
	{ file: "actor-destroy", run: "runActorDestroyTests" },
	{ file: "request-access", run: "runRequestAccessTests" },
	{ file: "actor-handle", run: "runActorHandleTests" },
	{ file: "action-features", run: "runActionFeaturesTests" },
	{ file: "access-control", run: "runAccessControlTests" },
	{ file: "actor-vars", run: "runActorVarsTests" },
	{ file: "actor-metadata", run: "runActorMetadataTests" },
	{ file: "actor-onstatechange", run: "runActorOnStateChangeTests" },
	{ file: "actor-error-handling", run: "runActorErrorHandlingTests" },
	{ file: "actor-queue", run: "runActorQueueTests" },
	{ file: "actor-run", run: "runActorRunTests" },
	{
		file: "actor-sandbox",
		run: "runActorSandboxTests",
		skipped: "TypeScript-only (skip.sandbox): the sandbox actor runs agent sandboxes from npm (sandbox-agent, docker) inside the actor",
	},
	{ file: "actor-inline-client", run: "runActorInlineClientTests" },
	{ file: "actor-kv", run: "runActorKvTests" },
	{ file: "actor-workflow", run: "runActorWorkflowTests" },
	{ file: "actor-stateless", run: "runActorStatelessTests" },
	{ file: "raw-http", run: "runRawHttpTests" },
	{ file: "raw-http-request-properties", run: "runRawHttpRequestPropertiesTests" },
	{ file: "raw-websocket", run: "runRawWebSocketTests" },
	{ file: "actor-inspector", run: "runActorInspectorTests" },
	{ file: "actor-db-kv-stats", run: "runActorDbKvStatsTests" },
	{ file: "actor-db-pragma-migration", run: "runActorDbPragmaMigrationTests" },
	{ file: "actor-state-zod-coercion", run: "runActorStateZodCoercionTests" },
	{
		file: "actor-agent-os",
		run: "runActorAgentOsTests",
		skipped: "TypeScript-only (skip.agentOs): agent-os runs a JavaScript agent operating system inside the actor",
	},
];

export const ENCODINGS = ["bare", "cbor", "json"];

/** The files and encodings this run selects: `DRIVER_FILES` and `DRIVER_ENCODINGS`, comma-separated. */
export function selected() {
	const list = (v) =>
		v
			?.split(",")
			.map((s) => s.trim())
			.filter(Boolean);
	const files = list(process.env.DRIVER_FILES);
	const encodings = list(process.env.DRIVER_ENCODINGS) ?? ENCODINGS;
	for (const f of files ?? []) {
		if (!FILES.some((e) => e.file === f)) throw new Error(`DRIVER_FILES: no suite file ${f}`);
	}
	return {
		files: FILES.filter((e) => !files || files.includes(e.file)),
		encodings,
	};
}
