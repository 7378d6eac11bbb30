// The console's shell: who is logged in, the navigation, and the router.
// Pages are addressed by the fragment (#/users, #/flows/ID), so the server
// only serves this one shell. Pages for admins or audit readers are hidden
// from everyone else, and opening one directly sends them away; the API
// refuses their calls in any case. A temporary password (an admin's
// reset) opens one page only, the one that changes it: the API refuses
// everything else until then, and every navigation leads there.

import { get, post, hasSession } from './api.js';
import { h, replace, note } from './dom.js';
import * as login from './page-login.js';
import * as users from './page-users.js';
import * as groups from './page-groups.js';
import * as catalog from './page-catalog.js';
import * as flow from './page-flow.js';
import * as secrets from './page-secrets.js';
import * as runs from './page-runs.js';
import * as audit from './page-audit.js';
import * as review from './page-review.js';
import * as password from './page-password.js';

const ANYONE = () => true;
const ADMIN = (me) => me.canAdmin;
const AUDIT = (me) => me.canAudit;

// [pattern, module, who may open it, nav label]
const ROUTES = [
  [/^\/flows$/, catalog, ANYONE, 'Flows'],
  [/^\/namespaces\/([0-9a-f-]{36})$/, catalog, ANYONE],
  [/^\/flows\/([0-9a-f-]{36})$/, flow, ANYONE],
  [/^\/runs$/, runs, ANYONE, 'Runs'],
  [/^\/runs\/([0-9a-f-]{36})$/, runs, ANYONE],
  [/^\/secrets$/, secrets, ANYONE, 'Secrets'],
  [/^\/groups$/, groups, ANYONE, 'Groups'],
  [/^\/groups\/([0-9a-f-]{36})$/, groups, ANYONE],
  [/^\/users$/, users, ADMIN, 'Users'],
  [/^\/audit$/, audit, AUDIT, 'Audit log'],
  [/^\/review$/, review, AUDIT, 'Access review'],
  [/^\/password$/, password, ANYONE],
];
const NAV = { Flows: '#/flows', Runs: '#/runs', Secrets: '#/secrets', Groups: '#/groups', Users: '#/users', 'Audit log': '#/audit', 'Access review': '#/review' };
const HOME = '#/flows';
const PASSWORD = '/password';

let me = null;
let leaving = [];
// Each render has a number; one that finds a newer one started stops, so
// two quick navigations never mix their pages.
let generation = 0;

function path() {
  const hash = window.location.hash.replace(/^#/, '');
  const [route, search = ''] = hash.split('?');
  return { route: route || '/', params: new URLSearchParams(search) };
}

export function go(hash) {
  if (window.location.hash === hash) {
    render();
  } else {
    window.location.hash = hash;
  }
}

async function loadMe() {
  if (!hasSession()) return null;
  try {
    const body = await get('/api/v1/auth/me');
    const canAdmin = body.user.is_superuser || body.role === 'admin';
    return {
      ...body,
      password_change_required: body.password_change_required === true,
      canAdmin,
      canAudit: canAdmin || body.role === 'audit_viewer',
    };
  } catch {
    return null;
  }
}

function renderChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    replace(nav);
    replace(who);
    return;
  }
  const current = path().route;
  // While the password must change, no other page opens: no links to them.
  const open = me.password_change_required ? [] : ROUTES.filter(([, , allowed, label]) => label && allowed(me));
  replace(
    nav,
    open.map(([, , , label]) => {
      const href = NAV[label];
      const base = href.slice(1);
      const active = current === base || current.startsWith(`${base}/`) || (base === '/flows' && current.startsWith('/namespaces/'));
      return h('a', { href, class: active ? 'active' : '', 'aria-current': active ? 'page' : false }, label);
    }),
  );
  replace(
    who,
    h('span', { class: 'whoami', title: me.user.id }, `${me.user.username} · ${me.user.is_superuser ? 'superuser' : me.role}`),
    h('button', { type: 'button', class: 'link', id: 'logout', onclick: logout }, 'Log out'),
  );
}

async function logout() {
  try {
    await post('/api/v1/auth/logout');
  } catch {
    // The session may be gone already; the login page follows either way.
  }
  me = null;
  go('#/login');
}

/** The notes left for the next page (why it was sent there), once. */
function takeNotices() {
  const notes = [];
  for (const [key, kind] of [['cairn:notice', 'error'], ['cairn:notice-ok', 'ok']]) {
    const text = sessionStorage.getItem(key);
    if (text) {
      sessionStorage.removeItem(key);
      notes.push(note(kind, text));
    }
  }
  return notes;
}

/** `?next=` naming the page asked for, unless it is the start page. */
function nextFor(route) {
  return route !== '/' && `#${route}` !== HOME ? `?next=${encodeURIComponent(`#${route}`)}` : '';
}

async function render() {
  generation += 1;
  const mine = generation;
  const stale = () => mine !== generation;
  for (const leave of leaving) leave();
  leaving = [];
  const main = document.getElementById('main');
  // Tests (and assistive tools) can tell when a page is complete: main
  // carries its address once it has rendered, and not before.
  main.removeAttribute('data-ready');
  const address = window.location.hash.replace(/^#/, '') || '/';
  const { route, params } = path();
  if (route === '/login') {
    me = null;
    renderChrome();
    await login.render(main, {
      done: async () => {
        me = await loadMe();
        // Back to the page that asked for the login (a fragment only).
        const next = params.get('next') || '';
        go(/^#\/[a-z]/.test(next) ? next : HOME);
      },
    });
    main.prepend(...takeNotices());
    document.title = 'Log in · Cairn';
    main.setAttribute('data-ready', address);
    return;
  }
  if (!me) me = await loadMe();
  if (stale()) return;
  if (!me) {
    go(`#/login${route !== '/' ? `?next=${encodeURIComponent(`#${route}`)}` : ''}`);
    return;
  }
  if (me.password_change_required && route !== PASSWORD) {
    go(`#${PASSWORD}${nextFor(route)}`);
    return;
  }
  const match = ROUTES.map(([pattern, module, allowed, label]) => [route.match(pattern), module, allowed, label]).find(([found]) => found);
  if (!match) {
    go(HOME);
    return;
  }
  const [found, module, allowed] = match;
  if (!allowed(me)) {
    // Not for this role: away to the start page, with a word why.
    sessionStorage.setItem('cairn:notice', 'That page is for administrators and audit reviewers only.');
    go(HOME);
    return;
  }
  renderChrome();
  replace(main);
  main.append(...takeNotices());
  const container = h('div', { class: 'page-body' });
  main.append(container);
  try {
    await module.render(container, {
      me,
      id: found[1],
      route,
      params,
      go,
      home: HOME,
      // After a password change the session is a new one: read it again.
      forgetMe: () => {
        me = null;
      },
      onLeave: (leave) => leaving.push(leave),
    });
  } catch (problem) {
    if (stale()) return;
    container.append(note('error', problem.message || String(problem)));
  }
  if (stale()) return;
  const title = container.querySelector('h1');
  document.title = `${title ? title.textContent : 'Cairn'} · Cairn`;
  main.setAttribute('data-ready', address);
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', render);
window.addEventListener('cairn:unauthorized', () => {
  me = null;
  if (path().route !== '/login') go('#/login');
});
// The API says the password must change first (it was reset meanwhile).
window.addEventListener('cairn:password-change-required', () => {
  if (me) me.password_change_required = true;
  const { route } = path();
  if (route !== '/login' && route !== PASSWORD) go(`#${PASSWORD}${nextFor(route)}`);
});
render();
