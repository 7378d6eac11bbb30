// The console's shell: who is logged in, the navigation, and the router.
// Pages are addressed by the fragment (#/users, #/flows/ID), so the server
// only serves this one shell. Pages for admins or audit readers are hidden
// from everyone else, and opening one directly sends them away; the API
// refuses their calls in any case.

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
];
const NAV = { Flows: '#/flows', Runs: '#/runs', Secrets: '#/secrets', Groups: '#/groups', Users: '#/users', 'Audit log': '#/audit', 'Access review': '#/review' };
const HOME = '#/flows';

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
    return { ...body, canAdmin, canAudit: canAdmin || body.role === 'audit_viewer' };
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
  replace(
    nav,
    ROUTES.filter(([, , allowed, label]) => label && allowed(me)).map(([, , , label]) => {
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
  const notice = sessionStorage.getItem('cairn:notice');
  if (notice) {
    sessionStorage.removeItem('cairn:notice');
    main.append(note('error', notice));
  }
  const container = h('div', { class: 'page-body' });
  main.append(container);
  try {
    await module.render(container, {
      me,
      id: found[1],
      route,
      params,
      go,
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
render();
