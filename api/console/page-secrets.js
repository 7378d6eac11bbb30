// Secrets: names and metadata only. Create, rotate, delete, share; the
// value is shown only when its owner asks for it explicitly (an audited
// reveal), and only until they hide it or leave the page.

import { all, post, put, del } from './api.js';
import { h, replace, page, panel, table, form, button, note, when } from './dom.js';
import { sharePanel } from './share.js';

export async function render(container, ctx) {
  const status = h('div', { class: 'status' });
  const list = h('div', { id: 'secrets-list' });
  const detail = h('div', { id: 'secret-detail' });
  const say = (kind, text) => replace(status, note(kind, text));

  async function refresh() {
    const secrets = await all('/api/v1/secrets');
    replace(list, 
      table(
        ['Name', 'Version', 'Owner', 'Updated', 'Actions'],
        secrets.map((secret) => secretRow(secret)),
        'No secrets you can see.',
      ),
    );
  }

  function secretRow(secret) {
    const owned = secret.owner_id === ctx.me.user.id;
    const revealed = h('code', { class: 'revealed', hidden: true });
    const reveal = owned
      ? button('Reveal value', async () => {
        if (!revealed.hidden) {
          revealed.hidden = true;
          revealed.textContent = '';
          return;
        }
        try {
          const answer = await post(`/api/v1/secrets/${secret.id}/reveal`, {});
          revealed.textContent = answer.value;
          revealed.hidden = false;
        } catch (problem) {
          say('error', problem.message);
        }
      }, { class: 'small', title: 'Shows the value here; the reveal is recorded in the audit log' })
      : null;
    const rotate = form({
      id: `rotate-${secret.id}`,
      fields: [{ name: 'value', label: `New value for ${secret.name}`, type: 'password', autocomplete: 'off' }],
      submitLabel: 'Rotate',
      submit: (values) => put(`/api/v1/secrets/${secret.id}`, { value: values.value }),
      done: async (answer) => {
        await refresh();
        say('ok', `${secret.name} is now at version ${answer.version}.`);
      },
    });
    const remove = button('Delete', async () => {
      try {
        await del(`/api/v1/secrets/${secret.id}`);
        say('ok', `${secret.name} deleted.`);
        replace(detail);
        await refresh();
      } catch (problem) {
        say('error', problem.message);
      }
    }, { class: 'small danger' });
    const share = button('Share', async () => {
      try {
        replace(detail, h('h2', {}, `Sharing ${secret.name} (use only: grantees use it in runs, never see it)`), await sharePanel(ctx, 'secret', secret.id));
        detail.scrollIntoView();
      } catch (problem) {
        say('error', problem.message);
      }
    }, { class: 'small' });
    return h(
      'tr',
      { 'data-secret': secret.name },
      h('td', {}, secret.name),
      h('td', {}, String(secret.version)),
      h('td', {}, owned ? 'you' : 'shared with you'),
      h('td', {}, when(secret.updated_at)),
      h('td', {}, h('div', { class: 'inline-controls' }, reveal, owned ? share : null, owned ? h('details', { class: 'inline' }, h('summary', {}, 'Rotate'), rotate) : null, owned ? remove : null), revealed),
    );
  }

  ctx.onLeave(() => replace(list));
  container.append(
    page(
      'Secrets',
      h('p', { class: 'muted' }, 'Values are sealed under their owner’s key. Flows use them as $secret.NAME; run outputs show them as ***.'),
      status,
      panel(
        'Create a secret',
        form({
          id: 'create-secret',
          fields: [
            { name: 'name', label: 'Name' },
            { name: 'value', label: 'Value', type: 'password', autocomplete: 'off' },
          ],
          submitLabel: 'Create secret',
          submit: (values) => post('/api/v1/secrets', { name: values.name, value: values.value }),
          done: async (secret) => {
            await refresh();
            say('ok', `Created ${secret.name}.`);
          },
        }),
      ),
      panel('Secrets', list),
      detail,
    ),
  );
  await refresh();
}
