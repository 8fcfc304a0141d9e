// Drives the inspector page (/ui) in headless Chromium as a user would: a server with a token
// refuses the page's requests until the token is entered; then the page shows the counter's
// state, connection, queue and recent turns, calls an action, follows a change made
// elsewhere (live), and shows the task worker's workflow history. Run by
// tests/tests/ui_browser.rs with RIVET_ENDPOINT, RIVET_TOKEN, COUNTER_ID, WORKER_ID, CHROMIUM
// and optionally SCREENSHOT (a PNG of the counter's view).
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const endpoint = env("RIVET_ENDPOINT");
const token = env("RIVET_TOKEN");
const counterId = env("COUNTER_ID");
const workerId = env("WORKER_ID");

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  // Root in a container has no user namespaces for the sandbox.
  args: ["--no-sandbox"],
});
const problems = [];
const consoleLog = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
try {
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    consoleLog.push(`${m.type()}: ${m.text()}`);
    // The 401s before the token are expected; anything the policy blocked is not.
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const text = (selector) => page.locator(selector).innerText();
  // On a timeout, says what the page showed (its output and error boxes), not only what it
  // waited for.
  const waitFor = async (what, check) => {
    await page.waitForFunction(check, undefined, { timeout: 30_000 }).catch(async (e) => {
      const shown = await page
        .evaluate(() => ({
          output: document.getElementById("output")?.textContent,
          error: document.getElementById("error")?.textContent,
          state: document.getElementById("state")?.textContent,
        }))
        .catch(() => ({}));
      throw new Error(`${what}: ${e.message}; the page showed ${JSON.stringify(shown)}`);
    });
  };

  await page.goto(`${endpoint}/ui#actor=${counterId}`);
  await waitFor("the page says it needs the token", () =>
    document.getElementById("error").textContent.includes("auth.unauthorized"),
  );
  await page.locator("#token").fill(token);
  await page.locator("#token").dispatchEvent("change");
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  await waitFor("the counter's state", () =>
    JSON.parse(document.getElementById("state").textContent || "null")?.count === 5,
  );
  if (!(await page.locator("#error").isHidden())) throw new Error(`error shown: ${await text("#error")}`);
  const title = await text("#actor-title");
  if (!title.includes("counter") || !title.includes("ui-counter")) throw new Error(`title: ${title}`);
  await waitFor("one connection", () => document.getElementById("connection-count").textContent === "(1)");
  const queue = await text("#queue-size");
  if (queue !== "(0 of 1000)") throw new Error(`queue: ${queue}`);
  await waitFor("recent turns", () => document.getElementById("traces").textContent.includes("action increment"));

  // Call an action from the page, once the page has listed it.
  await page.waitForSelector('#rpc option[value="increment"]', { state: "attached", timeout: 30_000 });
  await page.locator("#rpc").selectOption("increment");
  await page.locator("#args").fill("[2]");
  await page.locator("#call button").click();
  await waitFor("the action's output", () => document.getElementById("output").textContent === "7");
  await waitFor("the state after the call", () =>
    JSON.parse(document.getElementById("state").textContent).count === 7,
  );

  // A change made elsewhere shows up by itself.
  const call = await fetch(`${endpoint}/gateway/${counterId}/action/increment`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ args: [10] }),
  });
  if (!call.ok) throw new Error(`increment: ${call.status} ${await call.text()}`);
  await waitFor("the live state", () =>
    JSON.parse(document.getElementById("state").textContent).count === 17,
  );
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  // The task worker: its workflow history.
  await page.locator('button[data-type="taskWorker"]').click();
  await page.locator(`button[data-actor="${workerId}"]`).click();
  await waitFor("the workflow history", () => document.getElementById("workflow").textContent.includes("task-loop"));
  const history = await text("#workflow");
  // The loop, which runs on (its finished iterations are not kept).
  if (!/task-loop\s+Loop\s+RUNNING/.test(history)) throw new Error(`history: ${history}`);
} catch (error) {
  // What the page showed, for the report.
  const shown = await page.locator("#error").innerText().catch(() => "");
  console.error(`the page's error line: ${shown}\nconsole:\n${consoleLog.join("\n")}`);
  throw error;
} finally {
  await browser.close();
}
if (problems.length) throw new Error(problems.join("\n"));
console.log("ui ok");
