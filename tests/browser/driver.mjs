// Drives one real browser for Tessera's end-to-end tests (tests/scenarios/common/browser.rs).
// Usage: node driver.mjs '<json options>'; then one JSON command per stdin line, one JSON reply
// per stdout line: {"id", "ok", "result"} or {"id", "ok": false, "error"}.
// Options: { browser: "chromium" | "firefox", fakeDevices: bool, fakeAudioFile?: path,
//            fakeVideoFile?: path (Chromium's fake camera plays this Y4M file, looped),
//            denyPermissions?: bool (camera/microphone requests are refused),
//            acceptInsecureCerts?: bool (a test server's own certificate is accepted) }.
// Only the Debian packages are used; puppeteer-core never downloads a browser.
import puppeteer from 'puppeteer-core';
import readline from 'node:readline';

const opts = JSON.parse(process.argv[2] ?? '{}');

function launchOptions() {
  if (opts.browser === 'firefox') {
    return {
      browser: 'firefox',
      executablePath: '/usr/bin/firefox-esr',
      headless: true,
      acceptInsecureCerts: !!opts.acceptInsecureCerts,
      extraPrefsFirefox: {
        'media.navigator.streams.fake': opts.fakeDevices !== false,
        'media.peerconnection.ice.loopback': true,
        // Either every camera/microphone request is granted without a prompt, or (denyPermissions)
        // every one is refused, as if the person clicked "Block".
        ...(opts.denyPermissions
          ? { 'permissions.default.camera': 2, 'permissions.default.microphone': 2 }
          : { 'media.navigator.permission.disabled': true }),
      },
    };
  }
  const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
    '--allow-loopback-in-peer-connection'];
  args.push(opts.denyPermissions ? '--deny-permission-prompts' : '--use-fake-ui-for-media-stream');
  if (opts.fakeDevices !== false) args.push('--use-fake-device-for-media-stream');
  if (opts.fakeAudioFile) args.push(`--use-file-for-fake-audio-capture=${opts.fakeAudioFile}`);
  if (opts.fakeVideoFile) args.push(`--use-file-for-fake-video-capture=${opts.fakeVideoFile}`);
  return { executablePath: '/usr/bin/chromium', headless: true, args, acceptInsecureCerts: !!opts.acceptInsecureCerts };
}

const browser = await puppeteer.launch(launchOptions());
const pages = new Map();
let nextPage = 1;
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

function page(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no page ${id}`);
  return p;
}

const ops = {
  // Opens `url` in a new page; `init` (JavaScript) runs in it before any of the page's scripts.
  // Everything that would show as an error in the browser's console is collected: console
  // errors, uncaught exceptions and rejections, failed requests and HTTP errors (Firefox does
  // not forward network errors to the console over WebDriver BiDi, so they are taken from
  // the network events in both browsers).
  async open({ url, width = 1280, height = 800, init }) {
    const p = await browser.newPage();
    const entry = { page: p, errors: [], requests: [] };
    p.on('console', (m) => { if (m.type() === 'error') entry.errors.push(m.text()); });
    p.on('pageerror', (e) => entry.errors.push(`page error: ${e.message ?? e}`));
    p.on('request', (r) => entry.requests.push(r.url()));
    p.on('requestfailed', (r) => entry.errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    p.on('response', (r) => { if (r.status() >= 400) entry.errors.push(`HTTP ${r.status()}: ${r.url()}`); });
    await p.setViewport({ width, height });
    if (init) await p.evaluateOnNewDocument(init);
    await p.goto(url, { waitUntil: 'load' });
    const id = nextPage++;
    pages.set(id, entry);
    return id;
  },
  async type({ page: id, selector, text }) {
    const p = page(id).page;
    await p.click(selector, { count: 3 });
    await p.keyboard.press('Backspace');
    await p.type(selector, text);
  },
  async click({ page: id, selector }) {
    await page(id).page.click(selector);
  },
  async clickAt({ page: id, x, y }) {
    await page(id).page.mouse.click(x, y);
  },
  async press({ page: id, key }) {
    await page(id).page.keyboard.press(key);
  },
  async eval({ page: id, expr }) {
    return await page(id).page.evaluate(expr);
  },
  async waitFor({ page: id, expr, timeout = 10000 }) {
    const handle = await page(id).page.waitForFunction(expr, { timeout, polling: 100 });
    return await handle.jsonValue();
  },
  async errors({ page: id }) {
    return page(id).errors;
  },
  async requests({ page: id }) {
    return page(id).requests;
  },
  async screenshot({ page: id, path }) {
    await page(id).page.screenshot({ path });
  },
  async close({ page: id }) {
    await page(id).page.close();
    pages.delete(id);
  },
  async version() {
    return await browser.version();
  },
};

// The browser must not outlive this driver: when stdin ends (the test finished, failed or
// died) or a signal arrives, close it, and kill it if closing takes more than 10 s.
let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  setTimeout(() => { browser.process()?.kill('SIGKILL'); process.exit(code); }, 10000).unref();
  try {
    await browser.close();
  } catch {
    browser.process()?.kill('SIGKILL');
  }
  process.exit(code);
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => shutdown(1));
process.stdout.on('error', () => shutdown(0)); // the test stopped reading: it is gone

const rl = readline.createInterface({ input: process.stdin });
rl.on('close', () => shutdown(0));
reply({ id: 0, ok: true, result: await browser.version() });
for await (const line of rl) {
  const cmd = JSON.parse(line);
  try {
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    reply({ id: cmd.id, ok: true, result: (await op(cmd)) ?? null });
  } catch (e) {
    reply({ id: cmd.id, ok: false, error: String(e?.message ?? e) });
  }
}
