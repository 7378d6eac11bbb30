// Drives Cairn's web console in a real headless Chromium (Debian's, via
// playwright-core; no browser download). Started by the Rust e2e test
// tests/tests/e2e/console.rs with the server's base URL:
//
//   node tests/browser/console.spec.mjs http://127.0.0.1:PORT
//
// Environment: CAIRN_ADMIN_USER, CAIRN_ADMIN_PASSWORD (the bootstrap
// admin), CONSOLE_ECHO_URL (a loopback server the flow's http step calls),
// CONSOLE_SECRET_VALUE (the secret the flow sends; it must never show),
// CONSOLE_ARTIFACTS (where screenshots go), CHROMIUM (default
// /usr/bin/chromium). Prints one JSON line with what it created, for the
// Rust test to check through the API; exits non-zero on any failure,
// including any console error or uncaught exception on any page.

import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.argv[2];
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const admin = { username: env('CAIRN_ADMIN_USER'), password: env('CAIRN_ADMIN_PASSWORD') };
const echoUrl = env('CONSOLE_ECHO_URL');
const secretValue = env('CONSOLE_SECRET_VALUE');
const artifacts = env('CONSOLE_ARTIFACTS');
const casey = { username: 'casey', password: 'Velvet-Harbor-93!kq' };
// dana's password is reset by the admin (a temporary one, `reset`), then
// changed by dana (`chosen`) before anything else.
const dana = { username: 'dana', password: 'Orchid-Meadow-58!vz', reset: 'Granite-Fjord-27!mw', chosen: 'Juniper-Kestrel-64!rd' };
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 800 };
const PATIENCE = 30_000;

mkdirSync(artifacts, { recursive: true });

// ------------------------------------------------------------ error watch

const problems = [];
let allowed = null; // {status, seen} while a step expects the API to refuse
let currentStep = 'start';

function watch(page) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // Chromium logs every non-2xx fetch as "Failed to load resource"; a
    // step that deliberately provokes a refusal allows exactly that status.
    if (allowed && text.includes(`status of ${allowed.status}`)) {
      allowed.seen += 1;
      return;
    }
    problems.push(`[${currentStep}] console error: ${text} (${message.location().url || ''})`);
  });
  page.on('pageerror', (error) => problems.push(`[${currentStep}] uncaught: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (request.failure()?.errorText === 'net::ERR_ABORTED' && request.url().includes('/api/v1/audit/export')) return;
    problems.push(`[${currentStep}] request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
}

async function expectRefusal(status, action) {
  allowed = { status, seen: 0 };
  try {
    await action();
  } finally {
    allowed = null;
  }
}

function check(condition, message) {
  if (!condition) throw new Error(`${currentStep}: ${message}`);
}

// ---------------------------------------------------------------- helpers

let shot = 0;
const shots = [];

async function ready(page, route) {
  await page.waitForSelector(`main[data-ready="${route}"]`, { timeout: PATIENCE });
}

async function open(page, hash, route = hash.slice(1)) {
  await page.evaluate((target) => { window.location.hash = target; }, hash);
  await ready(page, route);
}

/** Screenshots at 1280×800, then checks the page at 390 px wide. */
async function snap(page, name) {
  shot += 1;
  // A rendering slip shows up as these words in the page's own text
  // (JSON shown as JSON, in <pre>, may say null).
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('pre, code, textarea').forEach((element) => element.remove());
    return copy.textContent;
  });
  check(!text.includes('[object Object]'), `${name} shows [object Object]`);
  for (const slip of ['undefined', 'NaN', 'null']) {
    check(!new RegExp(`\\b${slip}\\b`).test(text), `${name} shows "${slip}"`);
  }
  const stem = `${String(shot).padStart(2, '0')}-${name}`;
  await page.screenshot({ path: join(artifacts, `${stem}.png`), fullPage: true });
  await page.setViewportSize(NARROW);
  const overflow = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  check(overflow.scroll <= overflow.inner, `${name} overflows at 390 px: scrollWidth ${overflow.scroll} > ${overflow.inner}`);
  await page.screenshot({ path: join(artifacts, `${stem}-390.png`), fullPage: true });
  await page.setViewportSize(WIDE);
  shots.push(stem);
}

async function login(page, who) {
  await open(page, '#/login', '/login');
  await page.fill('#login-username', who.username);
  await page.fill('#login-password', who.password);
  await page.click('#login button[type="submit"]');
  await ready(page, '/flows');
  const whoami = await page.textContent('.whoami');
  check(whoami.startsWith(who.username), `logged in as ${whoami}`);
}

async function logout(page) {
  await page.click('#logout');
  await ready(page, '/login');
}

async function fieldError(page, formId, field) {
  const locator = page.locator(`#${formId}-${field}-error`);
  await locator.filter({ hasText: /./ }).waitFor({ timeout: PATIENCE });
  return locator.textContent();
}

async function step(name, action) {
  currentStep = name;
  await action();
}

// ------------------------------------------------------------------- run

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const summary = {};
let failed = null;
try {
  const context = await browser.newContext({ viewport: WIDE, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);

  await step('login-page', async () => {
    await page.goto(`${base}/`);
    await ready(page, '/login');
    // A wrong password: the API's answer is shown on the form.
    await page.fill('#login-username', admin.username);
    await page.fill('#login-password', 'not-the-password-at-all');
    await expectRefusal(401, async () => {
      await page.click('#login button[type="submit"]');
      await page.locator('#login .note.error').filter({ hasText: /credentials/ }).waitFor({ timeout: PATIENCE });
    });
    await snap(page, 'login-refused');
  });

  await step('admin-login', async () => {
    await login(page, admin);
    const nav = await page.textContent('#nav');
    for (const label of ['Flows', 'Runs', 'Secrets', 'Groups', 'Users', 'Audit log', 'Access review']) {
      check(nav.includes(label), `the admin's navigation has ${label}: ${nav}`);
    }
    await snap(page, 'admin-flows');
  });

  await step('create-user', async () => {
    await open(page, '#/users');
    // The API's message lands next to the field it names.
    await page.fill('#create-user-username', casey.username);
    await page.fill('#create-user-password', 'password');
    await expectRefusal(422, async () => {
      await page.click('#create-user button[type="submit"]');
      const error = await fieldError(page, 'create-user', 'password');
      check(error.length > 0, 'a password error next to the password field');
    });
    await snap(page, 'user-form-error');
    await page.fill('#create-user-username', casey.username);
    await page.fill('#create-user-password', casey.password);
    await page.selectOption('#create-user-role', 'flow_executor');
    await page.click('#create-user button[type="submit"]');
    await page.locator(`tr[data-username="${casey.username}"]`).waitFor({ timeout: PATIENCE });
    await snap(page, 'user-created');
  });

  await step('administer-user', async () => {
    // Created inactive, then activated, given a role and a new password.
    await page.fill('#create-user-username', dana.username);
    await page.fill('#create-user-password', dana.password);
    await page.selectOption('#create-user-role', 'viewer');
    await page.uncheck('#create-user-is_active');
    await page.click('#create-user button[type="submit"]');
    const row = page.locator(`tr[data-username="${dana.username}"]`);
    await row.filter({ hasText: 'Activate' }).waitFor({ timeout: PATIENCE });
    check(await row.getByRole('button', { name: 'Deactivate' }).count() === 0, 'created inactive');
    await row.getByRole('button', { name: 'Activate' }).click();
    await row.getByRole('button', { name: 'Deactivate' }).waitFor({ timeout: PATIENCE });
    await row.locator('select[name="role"]').selectOption('audit_viewer');
    await row.getByRole('button', { name: 'Set role' }).click();
    await page.locator('.status .note.ok').filter({ hasText: `${dana.username} is now audit_viewer` }).waitFor({ timeout: PATIENCE });
    await row.locator('summary').click();
    await row.locator('input[name="password"]').fill(dana.reset);
    await row.getByRole('button', { name: 'Reset password' }).click();
    await page.locator('.status .note.ok').filter({ hasText: `password of ${dana.username} was reset` }).waitFor({ timeout: PATIENCE });
    await snap(page, 'user-administered');
  });

  await step('create-group', async () => {
    await open(page, '#/groups');
    await page.fill('#create-group-name', 'operators');
    await page.click('#create-group button[type="submit"]');
    await page.waitForURL(/#\/groups\/[0-9a-f-]{36}$/, { timeout: PATIENCE });
    summary.group_id = page.url().split('/').pop();
    await ready(page, `/groups/${summary.group_id}`);
    await page.selectOption('#add-member-user_id', { label: casey.username });
    await page.click('#add-member button[type="submit"]');
    await page.locator('#members tr[data-user]').filter({ hasText: casey.username }).waitFor({ timeout: PATIENCE });
    // Another member, made manager, then removed.
    await page.selectOption('#add-member-user_id', { label: dana.username });
    await page.click('#add-member button[type="submit"]');
    const member = page.locator('#members tr[data-user]').filter({ hasText: dana.username });
    await member.waitFor({ timeout: PATIENCE });
    await member.locator('select[name="role"]').selectOption('manager');
    await member.getByRole('button', { name: 'Set' }).click();
    await page.locator('.status .note.ok').filter({ hasText: 'Role changed' }).waitFor({ timeout: PATIENCE });
    check(await member.locator('select[name="role"]').inputValue() === 'manager', 'dana manages the group');
    await member.getByRole('button', { name: 'Remove' }).click();
    await page.locator('.status .note.ok').filter({ hasText: 'Member removed' }).waitFor({ timeout: PATIENCE });
    // Gone from the list (waited for: the list re-renders after the answer).
    await member.waitFor({ state: 'detached', timeout: PATIENCE });
    check(await member.count() === 0, 'dana is no longer a member');
    await snap(page, 'group-created');
  });

  await step('create-secret', async () => {
    await open(page, '#/secrets');
    await page.fill('#create-secret-name', 'echo_token');
    await page.fill('#create-secret-value', secretValue);
    await page.click('#create-secret button[type="submit"]');
    const row = page.locator('tr[data-secret="echo_token"]');
    await row.waitFor({ timeout: PATIENCE });
    await row.getByRole('button', { name: 'Share' }).click();
    await page.locator('#share-grantee_id').waitFor({ timeout: PATIENCE });
    await page.selectOption('#share-grantee_id', { label: 'group operators' });
    await page.click('#share button[type="submit"]');
    await page.locator('#grants tr[data-grant]').filter({ hasText: 'group operators' }).waitFor({ timeout: PATIENCE });
    check(!(await page.textContent('body')).includes(secretValue), 'the secret value is not on the page');
    await snap(page, 'secret-shared');
  });

  await step('create-flow', async () => {
    await open(page, '#/flows');
    await page.fill('#create-flow-name', 'echo-flow');
    // A definition the API refuses: its message is shown at the field.
    await page.fill('#create-flow-definition', JSON.stringify({ steps: [{ id: 'call', type: 'http', method: 'GET' }] }));
    await expectRefusal(422, async () => {
      await page.click('#create-flow button[type="submit"]');
      const error = await fieldError(page, 'create-flow', 'definition');
      check(error.length > 0, 'a definition error next to the definition');
    });
    await snap(page, 'flow-form-error');
    const definition = {
      steps: [
        { id: 'call', type: 'http', method: 'GET', url: `${echoUrl}/hello`, headers: { Authorization: 'Bearer $secret.echo_token' } },
        { id: 'note', type: 'log', message: 'sent $secret.echo_token' },
      ],
    };
    await page.fill('#create-flow-name', 'echo-flow');
    await page.fill('#create-flow-definition', JSON.stringify(definition, null, 2));
    await page.click('#create-flow button[type="submit"]');
    await page.waitForURL(/#\/flows\/[0-9a-f-]{36}$/, { timeout: PATIENCE });
    summary.flow_id = page.url().split('/').pop();
    await ready(page, `/flows/${summary.flow_id}`);
  });

  await step('share-flow', async () => {
    // A grant to a user, seen and revoked.
    await page.selectOption('#share-grantee_id', { label: `user ${dana.username}` });
    await page.click('#share button[type="submit"]');
    const danaGrant = page.locator('#grants tr[data-grant]').filter({ hasText: `user ${dana.username}` });
    await danaGrant.waitFor({ timeout: PATIENCE });
    await danaGrant.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('.share .note.ok').filter({ hasText: 'revoked' }).first().waitFor({ timeout: PATIENCE });
    await danaGrant.waitFor({ state: 'detached', timeout: PATIENCE });
    check(await danaGrant.count() === 0, 'the revoked grant is gone');
    await page.selectOption('#share-grantee_id', { label: 'group operators' });
    await page.selectOption('#share-level', 'use');
    await page.click('#share button[type="submit"]');
    await page.locator('#grants tr[data-grant]').filter({ hasText: 'group operators' }).waitFor({ timeout: PATIENCE });
    // Who can reach it and why: the member, through the group's grant.
    await page.locator('#reach tr').filter({ hasText: casey.username }).filter({ hasText: 'operators' }).waitFor({ timeout: PATIENCE });
    await page.selectOption('#explain-user_id', { label: casey.username });
    await page.selectOption('#explain-action', 'run');
    await page.click('#explain button[type="submit"]');
    await page.locator('#explain-result .note.ok').filter({ hasText: 'Allowed' }).waitFor({ timeout: PATIENCE });
    await snap(page, 'flow-shared');
    await logout(page);
  });

  await step('member-login', async () => {
    await login(page, casey);
    const nav = await page.textContent('#nav');
    for (const label of ['Users', 'Audit log', 'Access review']) {
      check(!nav.includes(label), `a flow executor's navigation hides ${label}: ${nav}`);
    }
    await snap(page, 'member-flows');
  });

  await step('member-sent-away', async () => {
    for (const hash of ['#/users', '#/audit', '#/review']) {
      // From another page, so that arriving at #/flows is news.
      await open(page, '#/runs');
      await page.evaluate((target) => { window.location.hash = target; }, hash);
      await page.waitForURL(/#\/flows$/, { timeout: PATIENCE });
      await ready(page, '/flows');
      await page.locator('main .note.error').filter({ hasText: 'administrators' }).waitFor({ timeout: PATIENCE });
    }
    await snap(page, 'member-sent-away');
    // And the API refuses their calls, whatever the page shows.
    await expectRefusal(403, async () => {
      const statuses = await page.evaluate(async () => {
        const csrf = document.cookie.split('; ').find((pair) => pair.startsWith('cairn_csrf=')).split('=')[1];
        const list = await fetch('/api/v1/users', { credentials: 'same-origin' });
        const create = await fetch('/api/v1/users', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
          body: JSON.stringify({ username: 'mallory', password: 'Quartz-Lantern-61!x' }),
        });
        const audit = await fetch('/api/v1/audit/events', { credentials: 'same-origin' });
        return [list.status, create.status, audit.status];
      });
      check(statuses.every((status) => status === 403), `the API refused the member: ${statuses}`);
    });
  });

  await step('member-run', async () => {
    await page.locator(`a[href="#/flows/${summary.flow_id}"]`).first().click();
    await ready(page, `/flows/${summary.flow_id}`);
    check(await page.locator('#share').count() === 0, 'a use grantee has no Share action');
    check(await page.locator('#nav a.active').textContent() === 'Flows', 'a flow belongs to Flows');
    await page.click('#run-flow');
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/, { timeout: PATIENCE });
    summary.run_id = page.url().split('/').pop();
    await page.locator('#run-status').filter({ hasText: /^(succeeded|failed|denied)$/ }).waitFor({ timeout: PATIENCE });
    const status = await page.textContent('#run-status');
    check(status === 'succeeded', `the run ${status}: ${await page.textContent('#run')}`);
    const output = await page.textContent('#run');
    check(output.includes('Bearer ***'), `the echoed header is masked: ${output}`);
    check(output.includes('sent ***'), `the log step is masked: ${output}`);
    check(!(await page.content()).includes(secretValue), 'the secret value is nowhere in the page');
    await snap(page, 'member-run-masked');
  });

  await step('member-secrets', async () => {
    await open(page, '#/secrets');
    const row = page.locator('tr[data-secret="echo_token"]');
    await row.waitFor({ timeout: PATIENCE });
    check(await row.getByRole('button', { name: 'Reveal value' }).count() === 0, 'only the owner may reveal');
    check((await row.textContent()).includes('shared with you'), 'shown as shared');
    await open(page, '#/runs');
    await page.locator(`a[href="#/runs/${summary.run_id}"]`).waitFor({ timeout: PATIENCE });
    await snap(page, 'member-runs');
    // The groups they are in, without the admin's actions.
    await open(page, '#/groups');
    check(await page.locator('#create-group').count() === 0, 'only admins create groups');
    await page.locator(`a[href="#/groups/${summary.group_id}"]`).click();
    await ready(page, `/groups/${summary.group_id}`);
    check(await page.locator('#add-member').count() === 0, 'a plain member manages no members');
    await page.locator('#members tr').filter({ hasText: casey.username }).waitFor({ timeout: PATIENCE });
    await snap(page, 'member-group');
    await logout(page);
  });

  await step('temporary-password', async () => {
    // The admin's reset is temporary: logged in with it, dana is shown the
    // change page, and nothing else.
    await open(page, '#/login', '/login');
    await page.fill('#login-username', dana.username);
    await page.fill('#login-password', dana.reset);
    await page.click('#login button[type="submit"]');
    await ready(page, '/password');
    check((await page.textContent('.whoami')).startsWith(dana.username), 'logged in as dana');
    check((await page.textContent('#nav')).trim() === '', `no other page is offered: ${await page.textContent('#nav')}`);
    check((await page.textContent('main h1')) === 'Choose a new password', 'the change page');
    // Any other page leads back here, remembering where it was going.
    await page.evaluate(() => { window.location.hash = '#/audit'; });
    await ready(page, '/password?next=%23%2Faudit');
    // And the API refuses everything else meanwhile.
    await expectRefusal(403, async () => {
      const answer = await page.evaluate(async () => {
        const response = await fetch('/api/v1/audit/events', { credentials: 'same-origin' });
        return { status: response.status, body: await response.json() };
      });
      check(answer.status === 403 && answer.body.detail.startsWith('password change required'), `refused: ${JSON.stringify(answer)}`);
    });
    await snap(page, 'password-change');
    // A confirmation that differs is caught at its field.
    await page.fill('#change-password-current_password', dana.reset);
    await page.fill('#change-password-new_password', dana.chosen);
    await page.fill('#change-password-confirm', `${dana.chosen}x`);
    await page.click('#change-password button[type="submit"]');
    check((await fieldError(page, 'change-password', 'confirm')).includes('does not match'), 'the confirmation differs');
    // The API's refusal (a wrong temporary password) lands next to its field.
    await page.fill('#change-password-current_password', 'not-the-temporary-one');
    await page.fill('#change-password-confirm', dana.chosen);
    await expectRefusal(422, async () => {
      await page.click('#change-password button[type="submit"]');
      const error = await fieldError(page, 'change-password', 'current_password');
      check(error.length > 0, 'an error next to the temporary password');
    });
    check(await page.textContent('#change-password-confirm-error') === '', 'the old error is cleared');
    await snap(page, 'password-change-error');
    // Changed: dana is logged in again with it and goes where she was going.
    await page.fill('#change-password-current_password', dana.reset);
    await page.fill('#change-password-new_password', dana.chosen);
    await page.fill('#change-password-confirm', dana.chosen);
    await page.click('#change-password button[type="submit"]');
    await ready(page, '/audit');
    await page.locator('main .note.ok').filter({ hasText: 'password was changed' }).waitFor({ timeout: PATIENCE });
    check((await page.textContent('.whoami')).startsWith(dana.username), 'still dana');
    summary.dana_password = dana.chosen;
    await snap(page, 'password-changed');
  });

  await step('auditor', async () => {
    const nav = await page.textContent('#nav');
    check(nav.includes('Audit log') && nav.includes('Access review'), `an audit viewer reads the audit log: ${nav}`);
    check(!nav.includes('Users'), `but administers no users: ${nav}`);
    await open(page, '#/review');
    await page.evaluate(() => { window.location.hash = '#/users'; });
    await page.waitForURL(/#\/flows$/, { timeout: PATIENCE });
    await ready(page, '/flows');
    await snap(page, 'auditor');
    await logout(page);
  });

  await step('audit-find-run', async () => {
    // Opened while logged out: the login comes first, then the page.
    await page.evaluate(() => { window.location.hash = '#/audit'; });
    await page.waitForURL(/#\/login\?next=/, { timeout: PATIENCE });
    await ready(page, '/login?next=%23%2Faudit');
    await page.fill('#login-username', admin.username);
    await page.fill('#login-password', admin.password);
    await page.click('#login button[type="submit"]');
    await ready(page, '/audit');
    check(await page.locator('#nav a.active').textContent() === 'Audit log', 'the audit log is the current page');
    await page.locator('#chain .note.ok').filter({ hasText: 'Chain verified' }).waitFor({ timeout: PATIENCE });
    const chain = await page.textContent('#chain-facts');
    check(/Latest checkpoint\s*seq \d+/.test(chain), `a latest signed checkpoint is shown: ${chain}`);
    await page.fill('#audit-filters-action', 'run.requested');
    await page.click('#audit-filters button[type="submit"]');
    await ready(page, '/audit?action=run.requested');
    const row = page.locator(`tr[data-resource="${summary.run_id}"]`);
    await row.waitFor({ timeout: PATIENCE });
    await row.locator('button.link').click();
    const detail = await page.locator('#event-json').textContent();
    const event = JSON.parse(detail);
    check(event.action === 'run.requested' && event.resource.id === summary.run_id, `the event is the run: ${detail}`);
    summary.run_event_actor = event.actor.id;
    await snap(page, 'audit-run-found');
    // Paging: two events a page, the next page starts after the last seq.
    await open(page, '#/audit?limit=2');
    const firstPage = await page.locator('#audit-results tr[data-seq]').evaluateAll((rows) => rows.map((row) => Number(row.dataset.seq)));
    check(firstPage.length === 2, `two events a page: ${firstPage}`);
    await page.click('#next-page');
    await ready(page, `/audit?limit=2&after=${firstPage[1]}`);
    const secondPage = await page.locator('#audit-results tr[data-seq]').evaluateAll((rows) => rows.map((row) => Number(row.dataset.seq)));
    check(secondPage.length === 2 && secondPage[0] > firstPage[1], `the next page follows: ${firstPage} then ${secondPage}`);
    await snap(page, 'audit-second-page');
    // A bad filter is refused by the API and shown at its field.
    await page.fill('#audit-filters-since', 'yesterday');
    await expectRefusal(422, async () => {
      await page.click('#audit-filters button[type="submit"]');
      await fieldError(page, 'audit-filters', 'since');
    });
    // The JSONL export holds the run too.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: PATIENCE }),
      page.click('a.btn:has-text("Export JSONL")'),
    ]);
    const exported = await readFile(await download.path(), 'utf8');
    check(exported.split('\n').some((line) => line.includes(summary.run_id) && line.includes('run.requested')), 'the JSONL export has the run');
    const ocsf = page.locator('a.btn:has-text("Export OCSF")');
    check((await ocsf.getAttribute('href')).includes('format=ocsf'), 'an OCSF export');
    check((await page.locator('a.btn:has-text("Export CEF")').getAttribute('href')).includes('format=cef'), 'a CEF export');
  });

  await step('access-review', async () => {
    await open(page, '#/review');
    await page.locator('tr').filter({ hasText: casey.username }).filter({ hasText: 'echo-flow' }).waitFor({ timeout: PATIENCE });
    await snap(page, 'access-review');
    const seq = await page.locator('#review-at-at_seq').getAttribute('placeholder');
    await page.fill('#review-at-at_seq', '3');
    await page.click('#review-at button[type="submit"]');
    await ready(page, '/review?at_seq=3');
    check(page.url().includes('at_seq=3'), 'as of a chosen seq');
    check(await page.locator('tr').filter({ hasText: 'echo-flow' }).count() === 0, `nothing was shared at seq 3 (now ${seq})`);
    await snap(page, 'access-review-at-seq');
  });

  await step('other-pages', async () => {
    await open(page, '#/runs');
    await snap(page, 'admin-runs');
    await open(page, `#/runs/${summary.run_id}`);
    await page.locator('#run-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: PATIENCE });
    await snap(page, 'admin-run');
    await open(page, '#/groups');
    await snap(page, 'groups');
    await open(page, '#/secrets');
    // The owner's explicit reveal shows the value, and hiding removes it.
    const row = page.locator('tr[data-secret="echo_token"]');
    check(!(await row.locator('code.revealed').isVisible()), 'no value shown before the reveal');
    await row.getByRole('button', { name: 'Reveal value' }).click();
    await row.locator('code.revealed').filter({ hasText: secretValue }).waitFor({ timeout: PATIENCE });
    await row.getByRole('button', { name: 'Reveal value' }).click();
    check(!(await page.content()).includes(secretValue), 'hidden again');
    check(!(await row.locator('code.revealed').isVisible()), 'the value box is gone');
    // Another secret: rotated to version 2, then deleted.
    await page.fill('#create-secret-name', 'scratch');
    await page.fill('#create-secret-value', 'first-value-Jq4');
    await page.click('#create-secret button[type="submit"]');
    const scratch = page.locator('tr[data-secret="scratch"]');
    await scratch.waitFor({ timeout: PATIENCE });
    await scratch.locator('summary').click();
    await scratch.locator('input[name="value"]').fill('second-value-Lw7');
    await scratch.getByRole('button', { name: 'Rotate' }).click();
    await page.locator('.status .note.ok').filter({ hasText: 'scratch is now at version 2' }).waitFor({ timeout: PATIENCE });
    check((await scratch.locator('td').nth(1).textContent()) === '2', 'version 2 listed');
    await scratch.getByRole('button', { name: 'Delete' }).click();
    await page.locator('.status .note.ok').filter({ hasText: 'scratch deleted' }).waitFor({ timeout: PATIENCE });
    // The note comes before the list is fetched again: wait for the row to
    // leave (or the time to run out), then hold it to being gone.
    await scratch.waitFor({ state: 'detached', timeout: PATIENCE }).catch(() => {});
    check(await scratch.count() === 0, 'scratch is gone');
    await snap(page, 'secrets');
    const namespaces = await page.evaluate(async () => (await (await fetch('/api/v1/namespaces')).json()).items);
    const general = namespaces.find((namespace) => namespace.name === 'default');
    await open(page, `#/namespaces/${general.id}`);
    await snap(page, 'namespace');
    await logout(page);
    await snap(page, 'logged-out');
  });

  await context.close();
} catch (error) {
  failed = error;
  // What the page showed when it failed, to tell why.
  for (const page of browser.contexts().flatMap((context) => context.pages())) {
    await page.screenshot({ path: join(artifacts, `FAILED-${currentStep}.png`), fullPage: true }).catch(() => {});
    const shown = await page.textContent('main').catch(() => '');
    console.error(`the page at ${page.url()} showed:\n${shown}`);
  }
}
await browser.close();

if (problems.length) {
  console.error(`console errors:\n${problems.join('\n')}`);
}
if (failed) {
  console.error(`failed at ${currentStep}: ${failed.stack || failed}`);
}
console.log(JSON.stringify({ ok: !failed && !problems.length, ...summary, screenshots: shots }));
process.exit(failed || problems.length ? 1 : 0);
