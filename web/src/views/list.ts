import { api, ApiError, type PollSummary } from '../api.js'
import { h, replaceChildren } from '../dom.js'
import type { View } from '../router.js'
import { session } from '../session.js'
import { describeState, describeVotes } from './poll-text.js'

function item (poll: PollSummary): HTMLElement {
  return h('li', { class: 'poll-item' },
    h('a', { href: `/polls/${poll.id}` }, poll.question),
    h('p', { class: 'meta' }, `${describeState(poll)} · ${describeVotes(poll.totalVotes)} · by ${poll.owner.username}`))
}

export const listView: View = {
  title: 'Polls',
  async render (main) {
    const page = await api.listPolls()
    const list = h('ul', { class: 'poll-list' }, page.items.map(item))
    const status = h('p', { class: 'error', role: 'status' })
    let cursor = page.nextCursor
    const more = h('button', { type: 'button', class: 'secondary' }, 'Show older polls')
    more.hidden = cursor === null
    more.addEventListener('click', async () => {
      more.disabled = true
      status.textContent = ''
      try {
        const next = await api.listPolls(cursor ?? undefined)
        list.append(...next.items.map(item))
        cursor = next.nextCursor
        more.hidden = cursor === null
      } catch (error) {
        status.textContent = `${error instanceof ApiError ? error.message : 'Loading failed.'} Press the button to try again.`
      } finally {
        more.disabled = false
      }
    })
    replaceChildren(main,
      h('div', { class: 'title-row' },
        h('h1', {}, 'Polls'),
        session.user ? h('a', { class: 'button', href: '/polls/new' }, 'New poll') : h('a', { href: '/login?next=/polls/new' }, 'Log in to create a poll')),
      page.items.length === 0 ? h('p', {}, 'No polls yet.') : list,
      more,
      status)
  }
}
