// Small DOM helpers. Text always goes in as text (never as HTML), so
// nothing the API returns can become markup or script.

/** An element: h('a', {href: '#/x', class: 'btn'}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(key, '');
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A page: a title and its sections. */
export function page(title, ...children) {
  return h('section', { class: 'page' }, h('h1', {}, title), ...children);
}

/** A panel with a heading. */
export function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

/** A message line; kind is 'error', 'ok' or 'muted'. */
export function note(kind, text) {
  return h('p', { class: `note ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A table that scrolls sideways inside its own box on narrow screens. */
export function table(headers, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, headers.map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, rows.map((cells) => (cells instanceof Node ? cells : h('tr', {}, cells.map((cell) => h('td', {}, cell)))))),
    ),
  );
}

/** A button that runs `action`, disabled while it runs. */
export function button(label, action, attrs = {}) {
  const element = h('button', { type: 'button', ...attrs }, label);
  element.addEventListener('click', async () => {
    element.disabled = true;
    try {
      await action();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

/** A <select> with options [value, label]. */
export function select(name, options, selected, attrs = {}) {
  return h(
    'select',
    { name, id: attrs.id || `f-${name}`, ...attrs },
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

let formCount = 0;

/**
 * A form whose fields each have a place for the API's message about them.
 * fields: [{name, label, type?, options?, value?, required?, rows?, placeholder?}]
 * submit(values) runs the call; a Problem naming a field shows next to it,
 * any other one above the button. `done(result)` runs after success.
 */
export function form({ fields, submitLabel, submit, done, id }) {
  formCount += 1;
  const prefix = id || `form${formCount}`;
  const errors = new Map();
  const inputs = new Map();
  const general = h('p', { class: 'note error', role: 'alert', hidden: true });
  const rows = fields.map((field) => {
    const inputId = `${prefix}-${field.name}`;
    const errorId = `${inputId}-error`;
    let input;
    if (field.options) {
      input = select(field.name, field.options, field.value, { id: inputId, 'aria-describedby': errorId });
    } else if (field.type === 'textarea') {
      input = h('textarea', { name: field.name, id: inputId, rows: field.rows || 6, 'aria-describedby': errorId, spellcheck: 'false' });
      input.value = field.value || '';
    } else if (field.type === 'checkbox') {
      input = h('input', { type: 'checkbox', name: field.name, id: inputId, checked: Boolean(field.value), 'aria-describedby': errorId });
    } else {
      input = h('input', {
        type: field.type || 'text',
        name: field.name,
        id: inputId,
        value: field.value,
        placeholder: field.placeholder,
        autocomplete: field.autocomplete || 'off',
        'aria-describedby': errorId,
      });
    }
    const error = h('span', { class: 'field-error', id: errorId, 'data-field': field.name });
    inputs.set(field.name, input);
    errors.set(field.name, error);
    return h('div', { class: `field${field.type === 'checkbox' ? ' check' : ''}` }, h('label', { for: inputId }, field.label), input, error);
  });
  const submitButton = h('button', { type: 'submit' }, submitLabel);
  const element = h('form', { class: 'form', id: prefix, novalidate: true }, rows, general, h('div', { class: 'actions' }, submitButton));

  function clear() {
    general.hidden = true;
    general.textContent = '';
    for (const [name, error] of errors) {
      error.textContent = '';
      inputs.get(name).removeAttribute('aria-invalid');
    }
  }

  function show(problem) {
    // The API names the member to blame in `field`; nested names
    // (definition.steps[0].url) belong to their top-level input.
    const field = problem.field ? problem.field.split(/[.[]/)[0] : null;
    if (field && errors.has(field)) {
      errors.get(field).textContent = problem.message;
      inputs.get(field).setAttribute('aria-invalid', 'true');
      inputs.get(field).focus();
    } else {
      general.hidden = false;
      general.textContent = problem.field ? `${problem.field}: ${problem.message}` : problem.message;
    }
  }

  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear();
    const values = {};
    for (const [name, input] of inputs) {
      values[name] = input.type === 'checkbox' ? input.checked : input.value;
    }
    submitButton.disabled = true;
    try {
      const result = await submit(values);
      element.reset();
      if (done) await done(result, values);
    } catch (problem) {
      show(problem);
    } finally {
      submitButton.disabled = false;
    }
  });
  element.showProblem = show;
  return element;
}

/** A time as the API gives it, shortened for a table. */
export function when(text) {
  return text ? text.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

/** A short id (the end is the random part of a UUIDv7). */
export function shortId(id) {
  return id ? `…${String(id).slice(-8)}` : '';
}
