// Choose a new password. After an admin's reset the password is temporary:
// the API refuses everything but this change, who-am-I and log out, so the
// shell sends every navigation here until it is done. Anyone may come here
// to change their own password too.
//
// The change ends every session of the user, this one included. The page
// then logs in again with the new password (a fresh session and CSRF
// token) and goes on to where the user was going; should that login fail,
// the login page follows, with a word why.

import { put, post, Problem } from './api.js';
import { h, form, note } from './dom.js';

export async function render(container, ctx) {
  const temporary = ctx.me.password_change_required;
  const username = ctx.me.user.username;
  container.append(
    h(
      'section',
      { class: 'page narrow' },
      h('h1', {}, 'Choose a new password'),
      temporary
        ? note('muted', 'Your password was set by an administrator. Choose your own before you go on; until then nothing else is open to you.')
        : null,
      form({
        id: 'change-password',
        fields: [
          {
            name: 'current_password',
            label: temporary ? 'Temporary password' : 'Current password',
            type: 'password',
            autocomplete: 'current-password',
          },
          { name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password' },
          { name: 'confirm', label: 'New password again', type: 'password', autocomplete: 'new-password' },
        ],
        submitLabel: 'Change password',
        submit: async (values) => {
          // A typo would lock the user out; this check needs no server.
          if (values.new_password !== values.confirm) {
            throw new Problem(0, { detail: 'does not match the new password', field: 'confirm' });
          }
          return put('/api/v1/users/me/password', {
            current_password: values.current_password,
            new_password: values.new_password,
          });
        },
        done: async (_result, values) => {
          // The change ended this session: a new one, with the new password.
          ctx.forgetMe();
          const next = ctx.params.get('next') || '';
          try {
            await post('/api/v1/auth/login', { username, password: values.new_password });
          } catch {
            sessionStorage.setItem('cairn:notice', 'Your password was changed. Log in with the new one.');
            ctx.go(`#/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
            return;
          }
          sessionStorage.setItem('cairn:notice-ok', 'Your password was changed.');
          ctx.go(/^#\/[a-z]/.test(next) && !next.startsWith('#/password') ? next : ctx.home);
        },
      }),
    ),
  );
  container.querySelector('input[name="current_password"]').focus();
}
