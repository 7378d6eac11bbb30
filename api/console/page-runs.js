// Runs: the caller's runs, and one run followed until it finishes, with its
// steps' outputs as stored (resolved secrets already masked as ***).

import { all, get } from './api.js';
import { h, replace, page, panel, table, note, when } from './dom.js';

const FINISHED = ['succeeded', 'failed', 'denied'];

export async function render(container, ctx) {
  if (ctx.id) return renderRun(container, ctx);
  const [runs, flows] = await Promise.all([all('/api/v1/runs'), all('/api/v1/flows')]);
  const names = new Map(flows.map((flow) => [flow.id, flow.name]));
  container.append(
    page(
      'Runs',
      panel(
        'Runs',
        table(
          ['Run', 'Flow', 'Status', 'Requested', 'Finished'],
          runs.map((run) => [h('a', { href: `#/runs/${run.id}` }, run.id), names.get(run.flow_id) || run.flow_id, h('span', { class: `badge ${run.status}` }, run.status), when(run.requested_at), when(run.finished_at)]),
          'No runs yet: start one from a flow’s page.',
        ),
      ),
    ),
  );
}

function stepsTable(run) {
  return table(
    ['Step', 'Status', 'Output'],
    run.steps.map((step) => h(
      'tr',
      { 'data-step': step.id },
      h('td', {}, step.id),
      h('td', {}, h('span', { class: `badge ${step.status}` }, step.status)),
      h('td', {}, h('pre', { class: 'output' }, JSON.stringify(step.output, null, 2))),
    )),
    'No step has finished yet.',
  );
}

async function renderRun(container, ctx) {
  const body = h('div', { id: 'run' });
  let timer = null;
  let stopped = false;
  ctx.onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });

  async function poll() {
    let run;
    try {
      run = await get(`/api/v1/runs/${ctx.id}`);
    } catch (problem) {
      replace(body, note('error', problem.message));
      return;
    }
    if (stopped) return;
    const flow = await get(`/api/v1/flows/${run.flow_id}`).catch(() => null);
    replace(body, 
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, h('span', { class: `badge ${run.status}`, id: 'run-status' }, run.status)),
        h('dt', {}, 'Flow'), h('dd', {}, flow ? h('a', { href: `#/flows/${flow.id}` }, flow.name) : run.flow_id),
        h('dt', {}, 'As'), h('dd', {}, `${run.actor.type} ${run.actor.user_id === ctx.me.user.id ? ctx.me.user.username : run.actor.user_id}`),
        h('dt', {}, 'Requested'), h('dd', {}, when(run.requested_at)),
        h('dt', {}, 'Finished'), h('dd', {}, when(run.finished_at) || '…'),
      ),
      run.error ? note('error', run.error) : null,
      panel('Steps', stepsTable(run)),
    );
    if (!FINISHED.includes(run.status)) {
      timer = setTimeout(poll, 500);
    }
  }

  container.append(page(`Run ${ctx.id}`, body));
  await poll();
}
