// One flow: its definition, the Run button, its runs, and its Share
// action.

import { all, get, post, put, del } from './api.js';
import { h, replace, page, panel, table, form, button, note, when } from './dom.js';
import { parseDefinition } from './page-catalog.js';
import { sharePanel } from './share.js';

export async function render(container, ctx) {
  const flow = await get(`/api/v1/flows/${ctx.id}`);
  const namespaces = await all('/api/v1/namespaces');
  const status = h('div', { class: 'status' });
  const say = (kind, text) => replace(status, note(kind, text));
  const runs = (await all('/api/v1/runs')).filter((run) => run.flow_id === flow.id);
  const namespace = namespaces.find((candidate) => candidate.id === flow.namespace_id);

  const run = button('Run now', async () => {
    try {
      const started = await post(`/api/v1/flows/${flow.id}/runs`, {});
      ctx.go(`#/runs/${started.id}`);
    } catch (problem) {
      say('error', problem.message);
    }
  }, { class: 'primary', id: 'run-flow' });

  const mine = flow.owner_id === ctx.me.user.id || ctx.me.canAdmin;
  let share = null;
  if (mine) {
    try {
      share = await sharePanel(ctx, 'flow', flow.id);
    } catch (problem) {
      share = note('error', problem.message);
    }
  }

  container.append(
    page(
      `Flow ${flow.name}`,
      h('p', { class: 'muted' }, `In namespace ${namespace ? namespace.name : flow.namespace_id}; updated ${when(flow.updated_at)}.`),
      status,
      h('div', { class: 'actions' }, run),
      panel(
        'Runs of this flow',
        table(
          ['Run', 'Status', 'Requested'],
          runs.map((item) => [h('a', { href: `#/runs/${item.id}` }, item.id), h('span', { class: `badge ${item.status}` }, item.status), when(item.requested_at)]),
          'Not run yet.',
        ),
      ),
      panel(
        'Definition',
        form({
          id: 'edit-flow',
          fields: [
            { name: 'name', label: 'Name', value: flow.name },
            { name: 'definition', label: 'Definition (JSON)', type: 'textarea', value: JSON.stringify(flow.definition, null, 2), rows: 10 },
          ],
          submitLabel: 'Save',
          submit: (values) => put(`/api/v1/flows/${flow.id}`, { name: values.name, namespace_id: flow.namespace_id, definition: parseDefinition(values.definition) }),
          done: () => ctx.go(`#/flows/${flow.id}`),
        }),
        mine ? button('Delete flow', async () => {
          try {
            await del(`/api/v1/flows/${flow.id}`);
            ctx.go('#/flows');
          } catch (problem) {
            say('error', problem.message);
          }
        }, { class: 'danger' }) : null,
      ),
      share,
    ),
  );
}
