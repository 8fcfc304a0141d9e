// The Rivet Engine's own dashboard (served by the pinned engine at /ui) in headless Chromium,
// showing an actor that one of our envoys serves: the dashboard reads the actor's inspector
// token from the engine's KV, opens the inspector WebSocket through the engine's gateway, and
// shows the actor's state, then follows a change made elsewhere. Run by
// tests/tests/ui_browser.rs with ENGINE_ENDPOINT, ACTOR_ID (a counter whose count is COUNT),
// CHROMIUM and optionally SCREENSHOT (a PNG of the state view).
import { chromium } from "playwright-core";

const env = (name) => {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set`);
	return value;
};
const engine = env("ENGINE_ENDPOINT");
const actorId = env("ACTOR_ID");
const count = Number(env("COUNT"));

const browser = await chromium.launch({
	executablePath: env("CHROMIUM"),
	args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const sockets = [];
const consoleLog = [];
page.on("console", (m) => consoleLog.push(`${m.type()}: ${m.text()}`));
page.on("websocket", (ws) => sockets.push(ws.url()));
const fail = (what, error) => {
	throw new Error(
		`${what}: ${error.message}\nsockets: ${sockets.join(", ")}\npage: ${consoleLog
			.filter((l) => !/ERR_NAME_NOT_RESOLVED/.test(l))
			.slice(-20)
			.join("\n")}`,
	);
};
try {
	const url = new URL("/ui/ns/default", engine);
	url.searchParams.set("n", JSON.stringify(["counter"]));
	url.searchParams.set("actorId", actorId);
	await page.goto(url.href);
	const state = page.getByRole("tab", { name: "State" });
	await state.click({ timeout: 30_000 }).catch((e) => fail("the State tab", e));
	// The state as the dashboard renders it, read through the inspector WebSocket.
	const shows = (n) =>
		page
			.getByText(`"count": ${n}`)
			.or(page.getByText(new RegExp(`count\\W+${n}\\b`)))
			.first()
			.waitFor({ timeout: 30_000 });
	await shows(count).catch((e) => fail(`the state (count ${count})`, e));
	if (!sockets.some((s) => s.includes(`/gateway/${actorId}/inspector/connect`))) {
		throw new Error(`no inspector WebSocket was opened: ${sockets.join(", ")}`);
	}
	// A change made elsewhere reaches the open page.
	const call = await fetch(new URL(`/gateway/${actorId}/action/increment`, engine), {
		method: "POST",
		headers: { "content-type": "application/json", "x-rivet-encoding": "json" },
		body: JSON.stringify({ args: [1] }),
	});
	if (!call.ok) throw new Error(`increment: ${call.status} ${await call.text()}`);
	await shows(count + 1).catch((e) => fail(`the live state (count ${count + 1})`, e));
	if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
	console.log("ok - the engine's dashboard shows the actor's state, live");
} finally {
	await browser.close();
}
