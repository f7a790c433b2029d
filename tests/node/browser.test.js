// A real browser (headless Chromium, Debian's package) on a page served from a loopback
// origin: the SDK's browser bundle authenticates with an API key, lists locations and
// machines and tails a part's logs into the DOM. Pages of other origins: one allowed with
// --cors-origin works, one not allowed is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { fleet, connect, logSender } from './fleet.js';

const here = dirname(fileURLToPath(import.meta.url));
const pagePort = Number(process.env.FLEETSH_PAGE_PORT);
const out = process.env.FLEETSH_OUT ?? join(here, '..', '..', 'target', 'web-test');
// Names the browser resolves to loopback (--host-resolver-rules): other origins than
// loopback ones, served by the same page server. tests/it/web.rs allows the first.
const allowedOrigin = `http://allowed.test:${pagePort}`;
const deniedOrigin = `http://denied.test:${pagePort}`;

const files = {
  '/': ['page/index.html', 'text/html'],
  '/page.js': ['page/page.js', 'text/javascript'],
  '/sdk.js': ['node_modules/@viamrobotics/sdk/dist/main.umd.js', 'text/javascript'],
};
let server;
let browser;

before(async () => {
  assert.ok(pagePort > 0, 'FLEETSH_PAGE_PORT is not set: run this through tests/it/web.rs');
  server = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f[1] }).end(readFileSync(join(here, f[0])));
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(pagePort, '127.0.0.1', ok));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // As root in CI the sandbox cannot start; the background flags keep Chromium off the
    // network, which is closed here and would be refused many times over. Playwright gives
    // it a new empty profile.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP allowed.test 127.0.0.1, MAP denied.test 127.0.0.1',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

const creds = { address: fleet.address, keyId: fleet.keyId, key: fleet.key };

async function open(origin) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${origin}/`);
  return { page, problems };
}

test('a loopback page lists locations and machines and tails a part live', async () => {
  const viam = await connect();
  const app = viam.appClient;
  const robot = await app.newRobot(fleet.location, 'browser-bot');
  const [part] = await app.getRobotParts(robot);
  const sendLog = logSender(viam);
  await sendLog(part.id, 'before the page opened');
  const [loc] = (await app.listLocations(fleet.org)).filter((l) => l.id === fleet.location);

  const { page, problems } = await open(`http://localhost:${pagePort}`);
  const shown = await page.evaluate((c) => window.showFleet(c), creds);
  assert.deepEqual(shown.locations, [loc.name]);
  assert.deepEqual(shown.machines.map((m) => m.name), ['browser-bot']);
  assert.equal(await page.textContent('#status'), 'ready');
  assert.deepEqual(await page.$$eval('#locations li', (l) => l.map((x) => x.textContent)), [loc.name]);
  assert.deepEqual(await page.$$eval('#machines li', (l) => l.map((x) => x.textContent)), [`browser-bot (${loc.name})`]);

  // Written after the tail opened: it must arrive in the DOM while the page is open. Keep
  // writing until one does, so that a tail that opens late cannot miss them.
  const live = page.locator('#logs li', { hasText: 'live from node' });
  const deadline = Date.now() + 10_000;
  for (let n = 0; (await live.count()) === 0; n++) {
    assert.ok(Date.now() < deadline, `no live entry in the page's DOM after 10 s: ${await page.textContent('body')}`);
    await sendLog(part.id, `live from node ${n}`, 'warn');
    await page.waitForTimeout(150);
  }
  assert.match(await live.first().textContent(), /^warn live from node \d+$/);
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, 'browser.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('a page of an origin given with --cors-origin works', async () => {
  const { page } = await open(allowedOrigin);
  const shown = await page.evaluate((c) => window.showFleet(c), creds);
  assert.ok(shown.machines.some((m) => m.name === 'browser-bot'), JSON.stringify(shown));
  await page.close();
});

test('a page gets the fleet\'s refusals as gRPC statuses with their messages', async () => {
  const { page } = await open(`http://127.0.0.1:${pagePort}`);
  const err = await page.evaluate(
    (c) => window.showFleet(c).then(() => 'no error', (e) => `${e.code} ${e.message}`),
    { ...creds, key: 'not-the-key' },
  );
  // 7: PERMISSION_DENIED, read from the gRPC-web answer's grpc-status and grpc-message.
  assert.match(err, /^16 \[unauthenticated\] invalid credentials for entity/, err);
  assert.match(await page.textContent('#status'), /invalid credentials/);
  await page.close();
});

test('a page of another origin is refused by CORS', async () => {
  const { page } = await open(deniedOrigin);
  const err = await page.evaluate((c) => window.showFleet(c).then(() => 'no error', (e) => `${e.name}: ${e.message}`), creds);
  // The browser blocks the answer; fetch fails without a gRPC status.
  assert.match(err, /Failed to fetch/, err);
  assert.match(await page.textContent('#status'), /^error: .*Failed to fetch/);
  await page.screenshot({ path: join(out, 'browser-denied.png') });
  await page.close();

  // What the browser was told: a preflight answer without Access-Control-Allow-Origin for
  // the denied origin, with it for an allowed one.
  const preflight = (origin) =>
    fetch(`${fleet.address}/viam.app.v1.AppService/ListOrganizations`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-grpc-web,x-user-agent',
      },
    });
  const denied = await preflight(deniedOrigin);
  assert.equal(denied.headers.get('access-control-allow-origin'), null);
  const allowed = await preflight(allowedOrigin);
  assert.equal(allowed.headers.get('access-control-allow-origin'), allowedOrigin);
  assert.match(allowed.headers.get('access-control-allow-headers'), /x-grpc-web/);
});
