// Users (admins only): create, activate or deactivate, change the role,
// reset the password.

import { all, post, patch } from './api.js';
import { h, replace, page, panel, table, form, button, select, note, when } from './dom.js';

export const ROLES = ['admin', 'flow_editor', 'flow_executor', 'integration_manager', 'audit_viewer', 'analytics_viewer', 'viewer', 'none'];

export async function render(container, ctx) {
  const list = h('div', { id: 'users-list' });
  const status = h('div', { class: 'status' });

  async function refresh() {
    const users = await all('/api/v1/users');
    replace(list, 
      table(
        ['Username', 'Role', 'Active', 'Created', 'Actions'],
        users.map((user) => userRow(user)),
        'No users.',
      ),
    );
  }

  function say(kind, text) {
    replace(status, note(kind, text));
  }

  function userRow(user) {
    const self = user.id === ctx.me.user.id;
    const role = select('role', ROLES.map((name) => [name, name]), user.role || 'none', { id: `role-${user.id}`, 'aria-label': `Role of ${user.username}` });
    const toggle = button(user.is_active ? 'Deactivate' : 'Activate', async () => {
      try {
        await patch(`/api/v1/users/${user.id}`, { is_active: !user.is_active });
        await refresh();
        say('ok', `${user.username} ${user.is_active ? 'deactivated' : 'activated'}.`);
      } catch (problem) {
        say('error', problem.message);
      }
    }, { class: 'small', disabled: self });
    const saveRole = button('Set role', async () => {
      try {
        await patch(`/api/v1/users/${user.id}`, { role: role.value });
        await refresh();
        say('ok', `${user.username} is now ${role.value}.`);
      } catch (problem) {
        say('error', problem.message);
      }
    }, { class: 'small' });
    const reset = form({
      id: `reset-${user.id}`,
      fields: [{ name: 'password', label: `New password for ${user.username}`, type: 'password', autocomplete: 'new-password' }],
      submitLabel: 'Reset password',
      submit: (values) => patch(`/api/v1/users/${user.id}`, { password: values.password }),
      done: () => say('ok', `The password of ${user.username} was reset; their sessions ended.`),
    });
    const details = h('details', { class: 'inline' }, h('summary', {}, 'Reset password'), reset);
    return h(
      'tr',
      { 'data-username': user.username },
      h('td', {}, user.username, user.is_superuser ? h('span', { class: 'tag' }, 'superuser') : null),
      h('td', {}, h('div', { class: 'inline-controls' }, role, saveRole)),
      h('td', {}, user.is_active ? 'yes' : 'no'),
      h('td', {}, when(user.created_at)),
      h('td', {}, h('div', { class: 'inline-controls' }, toggle, details)),
    );
  }

  container.append(
    page(
      'Users',
      status,
      panel(
        'Create a user',
        form({
          id: 'create-user',
          fields: [
            { name: 'username', label: 'Username' },
            { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password' },
            { name: 'email', label: 'Email (optional)', type: 'email' },
            { name: 'role', label: 'Role', options: ROLES.map((name) => [name, name]), value: 'viewer' },
            { name: 'is_active', label: 'Active (may log in now)', type: 'checkbox', value: true },
          ],
          submitLabel: 'Create user',
          submit: (values) => post('/api/v1/users', {
            username: values.username,
            password: values.password,
            ...(values.email ? { email: values.email } : {}),
            role: values.role,
            is_active: values.is_active,
          }),
          done: async (user) => {
            await refresh();
            say('ok', `Created ${user.username}.`);
          },
        }),
      ),
      panel('All users', list),
    ),
  );
  await refresh();
}
