// Namespaces and flows: the catalog a user can see; create both; a
// namespace's page lists its flows and holds its Share action.

import { all, get, post } from './api.js';
import { h, page, panel, table, form, when } from './dom.js';
import { Problem } from './api.js';
import { sharePanel } from './share.js';

export const EXAMPLE_DEFINITION = JSON.stringify(
  { steps: [{ id: 'hello', type: 'log', message: 'hello from Cairn' }] },
  null,
  2,
);

/** The definition textarea's text as JSON, or a Problem naming the field. */
export function parseDefinition(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Problem(422, { field: 'definition', detail: `is not JSON: ${error.message}` });
  }
}

function flowTable(flows, namespaces) {
  const names = new Map(namespaces.map((namespace) => [namespace.id, namespace.name]));
  return table(
    ['Flow', 'Namespace', 'Updated'],
    flows.map((flow) => [h('a', { href: `#/flows/${flow.id}` }, flow.name), names.get(flow.namespace_id) || '', when(flow.updated_at)]),
    'No flows you can see.',
  );
}

export async function render(container, ctx) {
  const [namespaces, flows] = await Promise.all([all('/api/v1/namespaces'), all('/api/v1/flows')]);
  if (ctx.id) return renderNamespace(container, ctx, namespaces, flows);
  const namespaceOptions = namespaces.map((namespace) => [namespace.id, namespace.name]);
  container.append(
    page(
      'Flows',
      panel('Flows', flowTable(flows, namespaces)),
      panel(
        'Create a flow',
        form({
          id: 'create-flow',
          fields: [
            { name: 'name', label: 'Name' },
            { name: 'namespace_id', label: 'Namespace', options: namespaceOptions, value: (namespaces.find((namespace) => namespace.name === 'default') || {}).id },
            { name: 'definition', label: 'Definition (JSON: steps of type http or log)', type: 'textarea', value: EXAMPLE_DEFINITION, rows: 8 },
          ],
          submitLabel: 'Create flow',
          submit: (values) => post('/api/v1/flows', { name: values.name, namespace_id: values.namespace_id, definition: parseDefinition(values.definition) }),
          done: (flow) => ctx.go(`#/flows/${flow.id}`),
        }),
      ),
      panel(
        'Namespaces',
        table(
          ['Namespace', 'Kind', 'Created'],
          namespaces.map((namespace) => [h('a', { href: `#/namespaces/${namespace.id}` }, namespace.name), namespace.system ? 'public (system)' : 'private', when(namespace.created_at)]),
        ),
        form({
          id: 'create-namespace',
          fields: [
            { name: 'name', label: 'New namespace' },
            { name: 'parent_id', label: 'Inside', options: [['', '(top level)'], ...namespaceOptions], value: '' },
          ],
          submitLabel: 'Create namespace',
          submit: (values) => post('/api/v1/namespaces', { name: values.name, ...(values.parent_id ? { parent_id: values.parent_id } : {}) }),
          done: (namespace) => ctx.go(`#/namespaces/${namespace.id}`),
        }),
      ),
    ),
  );
}

async function renderNamespace(container, ctx, namespaces, flows) {
  const namespace = await get(`/api/v1/namespaces/${ctx.id}`);
  const inside = flows.filter((flow) => flow.namespace_id === namespace.id);
  const parent = namespaces.find((candidate) => candidate.id === namespace.parent_id);
  container.append(
    page(
      `Namespace ${namespace.name}`,
      h('p', { class: 'muted' }, namespace.system ? 'A public system namespace: everyone in the org can use it.' : 'Private: reached by its owner, admins and the grants below (flows inside inherit them).', parent ? ` Inside ${parent.name}.` : ''),
      panel('Flows in it', flowTable(inside, namespaces)),
      await sharePanel(ctx, 'namespace', namespace.id),
    ),
  );
}
