// Browser tests of the portal, run by tests/e2e/test_portal_browser.py (which starts the server, the
// simulated fleet and the users, and passes them in the environment). Debian's Chromium, headless,
// driven by playwright-core; screenshots go to $ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "playwright-core";

const env = process.env;
const URL = env.WARD_URL;
const ARTIFACTS = env.ARTIFACTS;
const WEB_DEVICES = JSON.parse(env.WEB_DEVICES ?? "[]");
const OTHER_DEVICES = JSON.parse(env.OTHER_DEVICES ?? "[]");

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Chromium's background services would try the closed network; root needs --no-sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
});
after(async () => browser?.close());

async function signIn(user, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${URL}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/oauth2\/v2\.0\/authorize/);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=user]", { timeout: 20_000 });
  return { context, page, errors };
}

// Waits until a screen has finished loading (no spinner) and has shown no error.
async function settled(page) {
  await page.waitForFunction(() => document.querySelectorAll(".spinner").length === 0, null, { timeout: 30_000 });
  const errors = await page.locator(".state.error").allInnerTexts();
  assert.deepEqual(errors, [], `${page.url()} shows an error`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

async function open(page, route) {
  await page.goto(`${URL}${route}`);
  await page.waitForSelector("[data-testid=user]");
  await settled(page);
}

async function gridText(page, testId) {
  const rows = page.locator(`[data-testid=${testId}] .ag-row`);
  await rows.first().waitFor({ timeout: 30_000 });
  return (await rows.allInnerTexts()).join("\n");
}

test("an administrator signs in, sees every screen, and isolates a simulated device", async () => {
  const { page, context, errors } = await signIn(env.ADMIN_USER, env.ADMIN_PASSWORD);
  const nav = await page.locator("nav.sidebar").innerText();
  for (const item of ["Devices", "Alerts", "Advanced hunting", "Action center", "Indicators", "Roles", "Device groups", "Audit log"]) {
    assert.ok(nav.includes(item), `navigation lists ${item}`);
  }
  const screens = [
    ["home", "/"], ["devices", "/devices"], ["alerts", "/alerts"], ["indicators", "/indicators"],
    ["action-center", "/actions"], ["streaming", "/streaming"], ["onboarding", "/onboarding"],
    ["settings-roles", "/settings/roles"], ["settings-user-groups", "/settings/usergroups"],
    ["settings-device-groups", "/settings/devicegroups"], ["settings-apps", "/settings/apps"],
    ["settings-audit", "/settings/audit"],
  ];
  if (env.ALERT_ID) screens.push(["alert", `/alerts/${env.ALERT_ID}`]);
  for (const [name, route] of screens) {
    await open(page, route);
    await shot(page, name);
  }
  // Every device of the tenant is listed for the administrator.
  await open(page, "/devices");
  const all = await gridText(page, "devices-grid");
  for (const name of [...WEB_DEVICES, ...OTHER_DEVICES]) assert.ok(all.includes(name.split(".")[0]), `admin sees ${name}`);

  // Isolate: confirm with a comment, then the action shows on the device and succeeds.
  await open(page, `/devices/${env.ISOLATE_DEVICE}`);
  await shot(page, "device");
  await page.click("[data-testid=action-isolate]");
  const dialog = page.locator("dialog[open]");
  await dialog.locator("textarea").fill("Contain while we investigate (browser test)");
  await dialog.locator("button[type=submit]").click();
  await page.locator("[data-testid=action-status]", { hasText: "Succeeded" }).first().waitFor({ timeout: 90_000 });
  await shot(page, "device-isolated");
  assert.deepEqual(errors, [], "no script errors");
  await context.close();
});

test("a tier-1 analyst sees only their group's devices and no response buttons", async () => {
  const { page, context, errors } = await signIn(env.TIER1_USER, env.TIER1_PASSWORD);
  const nav = await page.locator("nav.sidebar").innerText();
  for (const item of ["Roles", "Device groups", "Apps and secrets", "Audit log", "Streaming"]) {
    assert.ok(!nav.includes(item), `navigation hides ${item}`);
  }
  await open(page, "/devices");
  const text = await gridText(page, "devices-grid");
  for (const name of WEB_DEVICES) assert.ok(text.includes(name.split(".")[0]), `tier-1 sees ${name}`);
  for (const name of OTHER_DEVICES) assert.ok(!text.includes(name.split(".")[0]), `tier-1 does not see ${name}`);
  await shot(page, "tier1-devices");
  // Their device's page has no isolate (or any other response) button.
  await page.locator("[data-testid=devices-grid] .ag-row").first().click();
  await page.waitForURL(/\/devices\/[0-9a-f]{40}/);
  await settled(page);
  for (const id of ["action-isolate", "action-restrict", "action-scan", "action-quarantine", "action-liveresponse"]) {
    assert.equal(await page.locator(`[data-testid=${id}]`).count(), 0, `${id} is hidden`);
  }
  await shot(page, "tier1-device");
  // Opening an administrator-only screen directly shows no access; a device outside the group is not found.
  await page.goto(`${URL}/settings/roles`);
  await page.getByRole("heading", { name: "No access" }).waitFor();
  await page.goto(`${URL}/devices/${env.ISOLATE_DEVICE}`);
  await page.locator(".state.error").first().waitFor({ timeout: 20_000 });
  assert.deepEqual(errors, [], "no script errors");
  await context.close();
});

test("a hunting query with render shows a chart and its rows", async () => {
  const { page, context, errors } = await signIn(env.ADMIN_USER, env.ADMIN_PASSWORD);
  await open(page, "/hunting");
  await page.locator("[data-testid=hunting-editor] .cm-content").fill(
    "DeviceProcessEvents | where Timestamp > ago(1d) | summarize Events = count() by bin(Timestamp, 1m) | render timechart");
  await page.keyboard.press("Escape");
  await page.click("[data-testid=hunting-run]");
  await page.locator("[data-testid=hunting-chart] canvas").waitFor({ timeout: 60_000 });
  await gridText(page, "hunting-results");
  await settled(page);
  await shot(page, "hunting-timechart");
  await page.locator("[data-testid=hunting-editor] .cm-content").fill("DeviceProcessEvents | summarize Count = count() by DeviceName | render piechart");
  await page.keyboard.press("Escape");
  await page.click("[data-testid=hunting-run]");
  await page.locator("[data-testid=hunting-chart] canvas").waitFor({ timeout: 60_000 });
  await settled(page);
  await shot(page, "hunting-piechart");
  assert.deepEqual(errors, [], "no script errors");
  await context.close();
});

test("an administrator creates a device group, previewing the devices its rules match", async () => {
  const { page, context, errors } = await signIn(env.ADMIN_USER, env.ADMIN_PASSWORD);
  await open(page, "/settings/devicegroups");
  await page.click("[data-testid=devicegroup-add]");
  const form = page.locator("[data-testid=devicegroup-form]");
  await form.locator("input[name=name]").fill("Database servers");
  const tag = form.locator("[data-testid=devicegroup-rule-tag] input");
  await tag.fill("db");
  await tag.press("Enter");
  await form.locator("[data-testid=devicegroup-preview-count]", { hasText: `${env.DB_DEVICES} device` }).waitFor({ timeout: 20_000 });
  await shot(page, "settings-device-group-preview");
  await form.locator("[data-testid=devicegroup-save]").click();
  await page.locator("[data-testid=devicegroups-table]", { hasText: "Database servers" }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator("[data-testid=devicegroup-form]").count(), 0, "the form closed after saving");
  assert.deepEqual(errors, [], "no script errors");
  await context.close();
});
