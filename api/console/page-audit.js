// The audit log (admins and audit viewers): filters, paging by seq, one
// event's detail, exports (JSONL, OCSF, CEF), and the chain's verification
// with the latest signed checkpoint. Reading the log is itself recorded.

import { all, get, query } from './api.js';
import { h, replace, page, panel, table, form, note, when, shortId } from './dom.js';

const OUTCOMES = [['', 'any'], ['success', 'success'], ['denied', 'denied'], ['failure', 'failure']];
const RESOURCE_TYPES = ['', 'system', 'user', 'org', 'group', 'session', 'api_key', 'namespace', 'flow', 'secret', 'connection', 'grant', 'run', 'schedule'];
const FILTERS = ['action', 'actor', 'resource_type', 'resource_id', 'outcome', 'since', 'until', 'limit'];

export async function render(container, ctx) {
  const filters = {};
  for (const name of FILTERS) filters[name] = ctx.params.get(name) || '';
  const after = ctx.params.get('after') || '';
  const results = h('div', { id: 'audit-results' });
  const detail = h('div', { id: 'audit-detail' });
  const chain = h('div', { id: 'chain' });
  const exports = h('div', { class: 'exports' });

  function exportLinks() {
    const range = { since: filters.since, until: filters.until };
    replace(exports, 
      ...['jsonl', 'ocsf', 'cef'].map((format) => h(
        'a',
        { class: 'btn', href: `/api/v1/audit/export${query({ format, ...range })}`, download: '' },
        `Export ${format.toUpperCase()}`,
      )),
    );
  }

  function showDetail(event) {
    replace(detail, 
      panel(
        `Event ${event.seq}: ${event.action}`,
        h('pre', { class: 'output', id: 'event-json' }, JSON.stringify(event, null, 2)),
      ),
    );
    detail.scrollIntoView();
  }

  async function load() {
    const answer = await get(`/api/v1/audit/events${query({ ...filters, after })}`);
    replace(results, 
      table(
        ['Seq', 'Time', 'Action', 'Actor', 'Resource', 'Outcome'],
        answer.items.map((event) => h(
          'tr',
          { 'data-seq': event.seq, 'data-resource': event.resource.id || '' },
          h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => showDetail(event) }, String(event.seq))),
          h('td', {}, when(event.time)),
          h('td', {}, event.action),
          h('td', {}, `${event.actor.type} ${shortId(event.actor.id)}`),
          h('td', { title: event.resource.id || '' }, `${event.resource.type} ${event.resource.id || ''}`),
          h('td', {}, h('span', { class: `badge ${event.outcome}` }, event.outcome)),
        )),
        'No events match.',
      ),
      h(
        'div',
        { class: 'actions' },
        after ? h('a', { class: 'btn', href: `#/audit${query(filters)}` }, 'First page') : null,
        answer.next ? h('a', { class: 'btn', id: 'next-page', href: `#/audit${query({ ...filters, after: answer.next })}` }, 'Next page') : null,
      ),
    );
  }

  async function loadChain() {
    const [verify, checkpoints, key] = await Promise.all([
      get('/api/v1/audit/verify'),
      all('/api/v1/audit/checkpoints'),
      get('/api/v1/audit/public-key'),
    ]);
    const latest = checkpoints[checkpoints.length - 1];
    replace(chain, 
      note(verify.ok ? 'ok' : 'error', verify.ok
        ? `Chain verified: ${verify.checked} events, ${verify.checkpoints_verified} signed checkpoints checked.`
        : `Chain BROKEN at seq ${verify.first_bad}.`),
      h(
        'dl',
        { class: 'facts', id: 'chain-facts' },
        h('dt', {}, 'Head'), h('dd', {}, `seq ${verify.head.seq}`, h('code', { class: 'hash' }, verify.head.hash)),
        h('dt', {}, 'Latest checkpoint'),
        h('dd', {}, latest ? [`seq ${latest.seq} at ${when(latest.at)}`, h('code', { class: 'hash' }, latest.hash), h('span', { class: 'muted' }, `signed by ${latest.key_id}`)] : 'none signed yet'),
        h('dt', {}, 'Public key'), h('dd', {}, `${key.algorithm} `, h('code', { class: 'hash' }, key.public_key)),
      ),
    );
  }

  const filterForm = form({
    id: 'audit-filters',
    fields: [
      { name: 'action', label: 'Action', value: filters.action, placeholder: 'run.requested' },
      { name: 'actor', label: 'Actor (user id)', value: filters.actor },
      { name: 'resource_type', label: 'Resource type', options: RESOURCE_TYPES.map((type) => [type, type || 'any']), value: filters.resource_type },
      { name: 'resource_id', label: 'Resource id', value: filters.resource_id },
      { name: 'outcome', label: 'Outcome', options: OUTCOMES, value: filters.outcome },
      { name: 'since', label: 'Since (RFC 3339)', value: filters.since, placeholder: '2026-01-01T00:00:00Z' },
      { name: 'until', label: 'Until (RFC 3339)', value: filters.until },
      { name: 'limit', label: 'Per page', value: filters.limit, placeholder: '50' },
    ],
    submitLabel: 'Search',
    // The query is checked by the API first, so a bad filter is shown
    // next to its field; then the page's address records the filters.
    submit: async (values) => {
      await get(`/api/v1/audit/events${query({ ...values, limit: 1 })}`);
      return values;
    },
    done: (values) => ctx.go(`#/audit${query(values)}`),
  });

  container.append(
    page(
      'Audit log',
      panel('Chain verification', chain),
      panel('Filters', filterForm, exports),
      panel('Events', results),
      detail,
    ),
  );
  exportLinks();
  await Promise.all([load(), loadChain().catch((problem) => replace(chain, note('error', problem.message)))]);
}
