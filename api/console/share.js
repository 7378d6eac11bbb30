// The Share action of a namespace, flow or secret: grant a user or a group
// `use` or `manage`, see and revoke the grants, and the explanation of who
// can reach the resource and why (the access review for admins and
// auditors; `access/explain` for one user and action for anyone allowed).

import { all, get, post, del, query } from './api.js';
import { h, replace, panel, table, form, button, note, shortId, when } from './dom.js';

/**
 * Who the console can name: every user of the org for admins (the users
 * list is theirs alone), and the visible groups. Others type a user id.
 */
export async function directory(ctx) {
  const users = ctx.me.canAdmin ? await all('/api/v1/users') : [ctx.me.user];
  const groups = await all('/api/v1/groups');
  const names = new Map(users.map((user) => [user.id, user.username]));
  const groupNames = new Map(groups.map((group) => [group.id, group.name]));
  return {
    users,
    groups,
    name: (id) => names.get(id) || shortId(id),
    groupName: (id) => groupNames.get(id) || shortId(id),
    /** A form field that picks a user (a list for admins, an id otherwise). */
    field: (name, label) => (ctx.me.canAdmin
      ? { name, label, options: users.map((user) => [user.id, user.username]) }
      : { name, label: `${label} (user id)`, placeholder: '0190…' }),
  };
}

const ACTIONS = ['read', 'run', 'edit', 'delete', 'share', 'reveal'];

/** The Share panel of one resource. */
export async function sharePanel(ctx, resourceType, resourceId) {
  const people = await directory(ctx);
  const status = h('div', { class: 'status' });
  const grantsBox = h('div', { id: 'grants' });
  const reachBox = h('div', { id: 'reach' });
  const say = (kind, text) => replace(status, note(kind, text));

  async function refresh() {
    const grants = (await all('/api/v1/grants')).filter((grant) => grant.resource_id === resourceId);
    replace(grantsBox, 
      table(
        ['Grantee', 'Level', 'Granted', 'Actions'],
        grants.map((grant) => h(
          'tr',
          { 'data-grant': grant.id },
          h('td', {}, grant.grantee_type === 'group' ? `group ${people.groupName(grant.grantee_id)}` : `user ${people.name(grant.grantee_id)}`),
          h('td', {}, grant.level),
          h('td', {}, when(grant.created_at)),
          h('td', {}, button('Revoke', async () => {
            try {
              await del(`/api/v1/grants/${grant.id}`);
              await refresh();
              say('ok', 'Grant revoked; it stops working with the next request.');
            } catch (problem) {
              say('error', problem.message);
            }
          }, { class: 'small danger' })),
        )),
        'Not shared with anyone.',
      ),
    );
    if (ctx.me.canAudit) {
      const review = await get('/api/v1/reports/access-review');
      const rows = review.items.filter((row) => row.resource_id === resourceId);
      replace(reachBox, 
        table(
          ['User', 'May', 'Why'],
          rows.map((row) => [row.username, row.actions.join(', '), row.reason]),
          'Nobody but its owner and the administrators.',
        ),
      );
    }
  }

  const granteeOptions = [
    ...people.groups.map((group) => [`group:${group.id}`, `group ${group.name}`]),
    ...(ctx.me.canAdmin ? people.users.map((user) => [`user:${user.id}`, `user ${user.username}`]) : []),
  ];
  const grantFields = [
    { name: 'grantee_id', label: 'Share with', options: granteeOptions },
    ...(ctx.me.canAdmin ? [] : [{ name: 'user_id', label: '…or a user (user id)', placeholder: '0190…' }]),
    { name: 'level', label: 'Level', options: [['use', 'use (read and run)'], ['manage', 'manage (edit and re-share)']], value: 'use' },
  ];
  const grantForm = form({
    id: 'share',
    fields: grantFields,
    submitLabel: 'Share',
    submit: (values) => {
      const [type, id] = values.user_id ? ['user', values.user_id] : (values.grantee_id || ':').split(':');
      return post('/api/v1/grants', {
        resource_type: resourceType,
        resource_id: resourceId,
        grantee_type: type,
        grantee_id: id,
        level: values.level,
      });
    },
    done: async () => {
      await refresh();
      say('ok', 'Shared.');
    },
  });

  const explainResult = h('div', { id: 'explain-result', 'aria-live': 'polite' });
  const explainForm = form({
    id: 'explain',
    fields: [people.field('user_id', 'User'), { name: 'action', label: 'Action', options: ACTIONS.map((action) => [action, action]), value: 'read' }],
    submitLabel: 'Explain',
    submit: (values) => get(`/api/v1/access/explain${query({ user_id: values.user_id, resource_type: resourceType, resource_id: resourceId, action: values.action })}`),
    done: (answer, values) => {
      replace(explainResult, note(answer.allowed ? 'ok' : 'error', `${answer.allowed ? 'Allowed' : 'Not allowed'} (${values.action}): ${answer.reason}`));
    },
  });

  await refresh();
  return h(
    'div',
    { class: 'share' },
    panel('Share', status, grantForm, h('h3', {}, 'Grants'), grantsBox),
    panel(
      'Who can reach it, and why',
      ctx.me.canAudit ? reachBox : null,
      h('h3', {}, 'Explain one user and action'),
      explainForm,
      explainResult,
    ),
  );
}
