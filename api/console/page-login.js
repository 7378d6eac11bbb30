// Log in. The API sets the session cookie (HttpOnly) and the CSRF cookie;
// the access token in the answer's body is not kept anywhere.

import { post } from './api.js';
import { h, replace, form } from './dom.js';

export async function render(main, { done }) {
  replace(
    main,
    h(
      'section',
      { class: 'page login' },
      h('h1', {}, 'Log in'),
      form({
        id: 'login',
        fields: [
          { name: 'username', label: 'Username', autocomplete: 'username' },
          { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
        ],
        submitLabel: 'Log in',
        submit: (values) => post('/api/v1/auth/login', { username: values.username, password: values.password }),
        done,
      }),
    ),
  );
  main.querySelector('input[name="username"]').focus();
}
