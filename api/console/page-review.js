// The access review (admins and audit viewers): every user and every
// resource they can reach, what they may do and why; as of now or as of a
// chosen seq of the log.

import { get, query } from './api.js';
import { h, page, panel, table, form, note } from './dom.js';

export async function render(container, ctx) {
  const atSeq = ctx.params.get('at_seq') || '';
  const review = await get(`/api/v1/reports/access-review${query({ at_seq: atSeq })}`);
  container.append(
    page(
      'Access review',
      panel(
        'As of',
        form({
          id: 'review-at',
          fields: [{ name: 'at_seq', label: 'Log seq (empty for now)', value: atSeq, placeholder: String(review.at_seq) }],
          submitLabel: 'Show',
          submit: async (values) => {
            await get(`/api/v1/reports/access-review${query({ at_seq: values.at_seq })}`);
            return values;
          },
          done: (values) => ctx.go(`#/review${query({ at_seq: values.at_seq })}`),
        }),
        note('muted', `As of seq ${review.at_seq}${atSeq ? '' : ' (now)'}: ${review.items.length} rows.`),
      ),
      panel(
        'Who can reach what',
        table(
          ['User', 'Resource', 'May', 'Path', 'Why'],
          review.items.map((row) => [row.username, `${row.resource_type} ${row.resource_name}`, row.actions.join(', '), row.path, row.reason]),
          'Nobody can reach anything.',
        ),
      ),
    ),
  );
}
