// Groups: admins create them; owners and managers manage the members and
// their group roles (owner, manager, member).

import { all, get, post, patch, del } from './api.js';
import { h, replace, page, panel, table, form, button, select, note, when } from './dom.js';
import { directory } from './share.js';

const GROUP_ROLES = [['member', 'member'], ['manager', 'manager'], ['owner', 'owner']];

export async function render(container, ctx) {
  if (ctx.id) return renderGroup(container, ctx);
  const groups = await all('/api/v1/groups');
  const list = table(
    ['Name', 'Members', 'Created'],
    groups.map((group) => [h('a', { href: `#/groups/${group.id}` }, group.name), String(group.members.length), when(group.created_at)]),
    'No groups you can see.',
  );
  const create = ctx.me.canAdmin
    ? panel(
      'Create a group',
      form({
        id: 'create-group',
        fields: [{ name: 'name', label: 'Name' }],
        submitLabel: 'Create group',
        submit: (values) => post('/api/v1/groups', { name: values.name }),
        done: (group) => ctx.go(`#/groups/${group.id}`),
      }),
    )
    : null;
  container.append(page('Groups', create, panel('Groups', list)));
}

async function renderGroup(container, ctx) {
  const people = await directory(ctx);
  const status = h('div', { class: 'status' });
  const members = h('div', { id: 'members' });
  const say = (kind, text) => replace(status, note(kind, text));
  let group = await get(`/api/v1/groups/${ctx.id}`);
  // Owners and managers manage the members (and admins); others only see them.
  const mine = group.members.find((member) => member.user_id === ctx.me.user.id);
  const manages = ctx.me.canAdmin || Boolean(mine && ['owner', 'manager'].includes(mine.role));

  function refreshMembers() {
    if (!manages) {
      replace(members, table(['User', 'Group role'], group.members.map((member) => [people.name(member.user_id), member.role]), 'No members.'));
      return;
    }
    replace(members, 
      table(
        ['User', 'Group role', 'Actions'],
        group.members.map((member) => {
          const role = select('role', GROUP_ROLES, member.role, { id: `grole-${member.user_id}`, 'aria-label': 'Group role' });
          return h(
            'tr',
            { 'data-user': member.user_id },
            h('td', {}, people.name(member.user_id)),
            h('td', {}, h('div', { class: 'inline-controls' }, role, button('Set', async () => {
              try {
                await patch(`/api/v1/groups/${group.id}/members/${member.user_id}`, { role: role.value });
                await reload();
                say('ok', 'Role changed.');
              } catch (problem) {
                say('error', problem.message);
              }
            }, { class: 'small' }))),
            h('td', {}, button('Remove', async () => {
              try {
                await del(`/api/v1/groups/${group.id}/members/${member.user_id}`);
                await reload();
                say('ok', 'Member removed.');
              } catch (problem) {
                say('error', problem.message);
              }
            }, { class: 'small danger' })),
          );
        }),
        'No members.',
      ),
    );
  }

  async function reload() {
    group = await get(`/api/v1/groups/${ctx.id}`);
    refreshMembers();
  }

  refreshMembers();
  const remove = ctx.me.canAdmin
    ? button('Delete group', async () => {
      try {
        await del(`/api/v1/groups/${group.id}`);
        ctx.go('#/groups');
      } catch (problem) {
        say('error', problem.message);
      }
    }, { class: 'danger' })
    : null;
  container.append(
    page(
      `Group ${group.name}`,
      status,
      panel('Members', members),
      manages ? panel(
        'Add a member',
        form({
          id: 'add-member',
          fields: [
            people.field('user_id', 'User'),
            { name: 'role', label: 'Group role', options: GROUP_ROLES, value: 'member' },
          ],
          submitLabel: 'Add member',
          submit: (values) => post(`/api/v1/groups/${group.id}/members`, { user_id: values.user_id, role: values.role }),
          done: async () => {
            await reload();
            say('ok', 'Member added.');
          },
        }),
      ) : null,
      remove ? panel('Danger zone', remove) : null,
    ),
  );
}
