// The inspector WebSocket (`/gateway/{actor}/inspector/connect`) as the Rivet dashboard speaks
// it, with every message encoded and decoded by the codec of the npm `rivetkit` package
// (`rivetkit/inspector/client`: the dashboard's own) and the span payload read by
// `@rivetkit/traces`:
//
//   RIVET_ENDPOINT=http://127.0.0.1:6420 RIVET_INSPECTOR_TOKEN=... node inspector.mjs
//
// One line per scenario, `ok - ...` or `not ok - ...: <error>`, then `N passed, N failed`; exit
// code 1 if anything failed. No sleeps: every wait is for a message, bounded by a timeout.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { decode as cborDecode, encode as cborEncode } from "cbor-x";
import { createClient } from "rivetkit/client";
import {
	TO_CLIENT_VERSIONED,
	TO_SERVER_VERSIONED,
	decodeWorkflowHistoryTransport,
} from "rivetkit/inspector/client";
import { decodeReadRangeWire } from "@rivetkit/traces/encoding";
import { readRangeWireToOtlp } from "@rivetkit/traces/otlp";
import WebSocket from "ws";

const ENDPOINT = process.env.RIVET_ENDPOINT;
const TOKEN = process.env.RIVET_INSPECTOR_TOKEN;
if (!ENDPOINT || !TOKEN) {
	console.error("set RIVET_ENDPOINT and RIVET_INSPECTOR_TOKEN");
	process.exit(2);
}
process.env.RIVET_LOG_LEVEL ??= "error";
const SERVER_TOKEN = process.env.RIVET_SERVER_TOKEN;
// Set when ENDPOINT is a Rivet Engine whose envoys serve the actors (runner mode).
const VIA_ENGINE = process.env.RIVET_VIA_ENGINE === "1";
const RUN = randomBytes(4).toString("hex");
const TIMEOUT_MS = 10_000;
const VERSION = 6;

const client = createClient({ endpoint: ENDPOINT, token: SERVER_TOKEN, encoding: "cbor" });

/** An inspector session: messages decoded as they come, awaited by predicate. */
class Inspector {
	static async open(actorId, { version = VERSION, negotiated = true, token = TOKEN } = {}) {
		const url = new URL(`/gateway/${actorId}/inspector/connect`, ENDPOINT);
		url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
		if (negotiated) url.searchParams.set("protocol_version", String(version));
		const protocols = ["rivet", `rivet_inspector_token.${token}`];
		const session = new Inspector(new WebSocket(url, protocols), version, negotiated);
		await new Promise((resolve, reject) => {
			session.ws.once("open", resolve);
			session.ws.once("error", reject);
		});
		return session;
	}

	constructor(ws, version, negotiated) {
		this.ws = ws;
		this.version = version;
		this.negotiated = negotiated;
		this.inbox = [];
		this.waiters = [];
		this.closed = new Promise((resolve) =>
			ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
		);
		ws.on("message", (data) => {
			const bytes = new Uint8Array(data);
			const message = negotiated
				? TO_CLIENT_VERSIONED.deserialize(bytes, version)
				: TO_CLIENT_VERSIONED.deserializeWithEmbeddedVersion(bytes);
			this.inbox.push(message.body);
			this.#wake();
		});
	}

	#wake() {
		for (const waiter of [...this.waiters]) {
			const index = this.inbox.findIndex(waiter.match);
			if (index >= 0) {
				const [body] = this.inbox.splice(index, 1);
				this.waiters.splice(this.waiters.indexOf(waiter), 1);
				clearTimeout(waiter.timer);
				waiter.resolve(body);
			}
		}
	}

	/** The next message whose body matches (tag, and optionally a predicate on `val`). */
	next(tag, predicate = () => true) {
		return new Promise((resolve, reject) => {
			const waiter = {
				match: (body) => body.tag === tag && predicate(body.val),
				resolve,
				timer: setTimeout(() => {
					this.waiters.splice(this.waiters.indexOf(waiter), 1);
					const seen = this.inbox.map((b) => `${b.tag} ${JSON.stringify(b.val?.message ?? "")}`).join(", ");
					reject(new Error(`no ${tag} within ${TIMEOUT_MS} ms (unclaimed: ${seen})`));
				}, TIMEOUT_MS),
			};
			this.waiters.push(waiter);
			this.#wake();
		});
	}

	send(tag, val) {
		const message = { body: { tag, val } };
		const bytes = this.negotiated
			? TO_SERVER_VERSIONED.serialize(message, this.version)
			: TO_SERVER_VERSIONED.serializeWithEmbeddedVersion(message, this.version);
		this.ws.send(bytes);
	}

	close() {
		this.ws.close();
	}
}

const state = (bytes) => cborDecode(new Uint8Array(bytes));
// CBOR as the ArrayBuffer a `data` field takes (cbor-x returns a view into a shared pool).
const cbor = (value) => {
	const bytes = cborEncode(value);
	return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
};

const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });

scenario("Init, then answers and live updates in protocol 6", async () => {
	const counter = client.counter.getOrCreate([`inspected-${RUN}`]);
	await counter.increment(5);
	const id = await counter.resolve();
	const inspector = await Inspector.open(id);
	try {
		const init = (await inspector.next("Init")).val;
		assert.deepEqual(state(init.state), { count: 5 });
		assert.equal(init.isStateEnabled, true);
		assert.ok(init.rpcs.includes("increment") && init.rpcs.includes("getCount"), init.rpcs);
		assert.deepEqual(init.connections, []);
		assert.equal(init.isWorkflowEnabled, false);
		assert.deepEqual(init.schedules, []);

		inspector.send("StateRequest", { id: 1n });
		const answer = (await inspector.next("StateResponse")).val;
		assert.equal(answer.rid, 1n);
		assert.deepEqual(state(answer.state), { count: 5 });

		// An action runs as a turn; its output answers, and the state change is pushed.
		inspector.send("ActionRequest", {
			id: 2n,
			name: "increment",
			args: cbor([2]),
		});
		const output = (await inspector.next("ActionResponse")).val;
		assert.equal(output.rid, 2n);
		assert.equal(cborDecode(new Uint8Array(output.output)), 7);
		await inspector.next("StateUpdated", (v) => state(v.state).count === 7);

		// A change made by a client is pushed too.
		await counter.increment(3);
		await inspector.next("StateUpdated", (v) => state(v.state).count === 10);

		// A new state from the inspector is committed like a turn.
		inspector.send("PatchStateRequest", { state: cbor({ count: 100 }) });
		await inspector.next("StateUpdated", (v) => state(v.state).count === 100);
		assert.equal(await counter.getCount(), 100);

		inspector.send("RpcsListRequest", { id: 3n });
		const rpcs = (await inspector.next("RpcsListResponse")).val;
		assert.equal(rpcs.rid, 3n);
		assert.ok(rpcs.rpcs.includes("increment"));

		// A connection opening is pushed, with its details in CBOR.
		const conn = counter.connect();
		await conn.getCount();
		const update = await inspector.next("ConnectionsUpdated", (v) => v.connections.length === 1);
		const details = cborDecode(new Uint8Array(update.val.connections[0].details));
		assert.equal(typeof details.subscriptions, "number");
		await conn.dispose();
		await inspector.next("ConnectionsUpdated", (v) => v.connections.length === 0);

		inspector.send("QueueRequest", { id: 4n, limit: 10n });
		const queue = (await inspector.next("QueueResponse")).val;
		assert.equal(queue.rid, 4n);
		assert.equal(queue.status.size, 0n);

		// The actor's spans, read by the traces package the dashboard uses.
		const now = BigInt(Date.now()) + 60_000n;
		inspector.send("TraceQueryRequest", { id: 5n, startMs: 0n, endMs: now, limit: 100n });
		const traces = (await inspector.next("TraceQueryResponse")).val;
		const wire = decodeReadRangeWire(new Uint8Array(traces.payload));
		const { otlp } = readRangeWireToOtlp(wire, { attributes: [] });
		const spans = otlp.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
		const names = spans.map((s) => s.name);
		assert.ok(names.includes("action increment"), names.join(", "));
		assert.ok(names.includes("commit"), names.join(", "));

		// An action that does not exist answers with an Error message; the session goes on.
		inspector.send("ActionRequest", { id: 6n, name: "nope", args: cbor([]) });
		const error = (await inspector.next("Error")).val;
		assert.match(error.message, /not_found|action/);
		inspector.send("StateRequest", { id: 7n });
		await inspector.next("StateResponse", (v) => v.rid === 7n);
	} finally {
		inspector.close();
	}
});

scenario("a workflow's history in RivetKit's transport encoding", async () => {
	const worker = client.taskWorker.getOrCreate([`inspected-${RUN}`]);
	await worker.send("tasks", { id: 1, amount: 5 }, { wait: true, timeout: 10_000 });
	const id = await worker.resolve();
	const inspector = await Inspector.open(id);
	try {
		const init = (await inspector.next("Init")).val;
		assert.equal(init.isWorkflowEnabled, true);
		inspector.send("WorkflowHistoryRequest", { id: 1n });
		const answer = (await inspector.next("WorkflowHistoryResponse")).val;
		assert.equal(answer.isWorkflowEnabled, true);
		const history = decodeWorkflowHistoryTransport(answer.history);
		assert.ok(history.entries.length > 0, "no entries");
		assert.ok(history.nameRegistry.length > 0, "no names");
		// The worker's loop: a finished iteration's entries are pruned, the loop entry stays.
		const loop = history.entries.find((e) => e.kind.tag === "WorkflowLoopEntry");
		assert.ok(loop, history.entries.map((e) => e.kind.tag).join(", "));
		assert.ok(loop.kind.val.iteration >= 1, `iteration ${loop.kind.val.iteration}`);
		for (const entry of history.entries) {
			assert.ok(history.entryMetadata.has(entry.id), `no metadata for ${entry.id}`);
		}
		// The worker's loop waits for its next task: in flight, so a replay is refused.
		inspector.send("WorkflowReplayRequest", { id: 2n, entryId: null });
		const refused = (await inspector.next("Error")).val;
		assert.match(refused.message, /workflow_in_flight/);
	} finally {
		inspector.close();
	}
});

scenario("older framings: a version prefix in every message, and protocol 2", async () => {
	const counter = client.counter.getOrCreate([`legacy-${RUN}`]);
	await counter.increment(1);
	const id = await counter.resolve();
	for (const options of [{ negotiated: false }, { version: 2 }]) {
		const inspector = await Inspector.open(id, options);
		try {
			const init = (await inspector.next("Init")).val;
			assert.deepEqual(state(init.state), { count: 1 });
			inspector.send("StateRequest", { id: 9n });
			assert.equal((await inspector.next("StateResponse")).val.rid, 9n);
		} finally {
			inspector.close();
		}
	}
});

scenario("a wrong token or protocol version closes the socket with RivetKit's codes", async () => {
	const id = await client.counter.getOrCreate([`refused-${RUN}`]).resolve();
	const wrong = await Inspector.open(id, { token: "not-the-token" });
	const closed = await wrong.closed;
	assert.equal(closed.code, 1008);
	assert.equal(closed.reason, "inspector.unauthorized");
	const future = await Inspector.open(id, { version: 7 });
	const refused = await future.closed;
	assert.equal(refused.code, 1002);
	assert.equal(refused.reason, "inspector.invalid_protocol_version");
});

if (VIA_ENGINE) {
	scenario("the actor's own token, read from the engine's KV as the dashboard does", async () => {
		const counter = client.counter.getOrCreate([`own-token-${RUN}`]);
		await counter.increment(3);
		const id = await counter.resolve();
		const key = encodeURIComponent(Buffer.from([3]).toString("base64"));
		const url = new URL(`/actors/${id}/kv/keys/${key}`, ENDPOINT);
		url.searchParams.set("namespace", "default");
		const res = await fetch(url);
		assert.equal(res.status, 200, await res.clone().text());
		const own = atob((await res.json()).value);
		assert.match(own, /^[0-9a-f]{64}$/);
		assert.notEqual(own, TOKEN);
		// The HTTP inspector takes it as a bearer token; another actor's is refused.
		const stateUrl = new URL(`/gateway/${id}/inspector/state`, ENDPOINT);
		const ok = await fetch(stateUrl, { headers: { authorization: `Bearer ${own}` } });
		assert.equal(ok.status, 200, await ok.clone().text());
		assert.deepEqual((await ok.json()).state, { count: 3 });
		const other = await client.counter.getOrCreate([`other-token-${RUN}`]).resolve();
		const refused = await fetch(new URL(`/gateway/${other}/inspector/state`, ENDPOINT), {
			headers: { authorization: `Bearer ${own}` },
		});
		assert.equal(refused.status, 401, await refused.clone().text());
		const inspector = await Inspector.open(id, { token: own });
		try {
			const init = (await inspector.next("Init")).val;
			assert.deepEqual(state(init.state), { count: 3 });
		} finally {
			inspector.close();
		}
	});
}

let passed = 0;
let failed = 0;
for (const { name, fn } of scenarios) {
	try {
		await fn();
		passed += 1;
		console.log(`ok - ${name}`);
	} catch (err) {
		failed += 1;
		console.log(`not ok - ${name}: ${err.stack ?? err}`);
	}
}
console.log(`${passed} passed, ${failed} failed`);
await client.dispose();
process.exit(failed === 0 ? 0 : 1);
