import { api, ApiError, type PollDetail, type Tally } from '../api.js'
import { h, replaceChildren } from '../dom.js'
import { followPoll, type LiveStatus } from '../live.js'
import { navigate, type View } from '../router.js'
import { session } from '../session.js'
import { describeState, describeVotes } from './poll-text.js'
import { formError, submitting } from './form.js'

// One poll: the vote form while the caller may vote, the results as a bar chart that is also
// plain text for screen readers, updated live from the event stream.
export const pollView: View = {
  title: 'Poll',
  async render (main, { id }) {
    let poll = await api.getPoll(id!)
    document.title = `${poll.question} · Polls`

    const heading = h('h1', { tabindex: -1 }, poll.question)
    const meta = h('p', { class: 'meta' })
    const liveNote = h('p', { class: 'live-note', role: 'status' })
    const voteArea = h('section', { 'aria-labelledby': 'vote-heading' })
    const results = h('section', { class: 'results', 'aria-labelledby': 'results-heading' })
    const ownerArea = h('section', { class: 'owner-actions' })

    const apply = (tally: Tally) => {
      poll = {
        ...poll,
        isOpen: tally.isOpen,
        resultsVisible: tally.resultsVisible,
        totalVotes: tally.totalVotes,
        closedAt: !tally.isOpen && poll.closedAt === null ? new Date().toISOString() : poll.closedAt,
        choices: poll.choices.map((choice) => ({ ...choice, votes: tally.choices.find((c) => c.id === choice.id)?.votes ?? null }))
      }
    }
    const paint = () => {
      meta.textContent = `${describeState(poll)} · ${describeVotes(poll.totalVotes)} · by ${poll.owner.username}`
      paintVote(voteArea, poll, (tally, chosen) => {
        poll = { ...poll, myChoiceIds: chosen }
        apply(tally)
        paint()
      })
      paintResults(results, poll)
      paintOwner(ownerArea, poll, async () => {
        poll = await api.getPoll(poll.id)
        paint()
      })
    }
    paint()

    const stop = poll.isOpen
      ? followPoll(poll.id, {
        tally: (tally) => { apply(tally); paint() },
        // The final tally; reading the poll again brings closedAt and unhidden counts.
        closed: (tally) => {
          apply(tally)
          paint()
          liveNote.textContent = 'This poll has closed.'
          api.getPoll(poll.id).then((fresh) => { poll = fresh; paint() }, () => {})
        },
        deleted: () => { liveNote.textContent = 'This poll has been deleted.' },
        status: (status: LiveStatus) => {
          liveNote.textContent = status === 'live' ? 'Results update live.' : 'Live updates interrupted; reconnecting…'
          liveNote.classList.toggle('warning', status !== 'live')
        }
      })
      : undefined

    const share = h('input', { type: 'text', readonly: true, value: location.href, id: 'share-link' })
    const copied = h('span', { role: 'status', class: 'hint' })
    replaceChildren(main,
      heading,
      meta,
      voteArea,
      results,
      liveNote,
      h('section', { class: 'share', 'aria-labelledby': 'share-heading' },
        h('h2', { id: 'share-heading' }, 'Share'),
        h('label', { for: 'share-link' }, 'Link to this poll'),
        h('div', { class: 'inline' }, share,
          h('button', {
            type: 'button',
            class: 'secondary',
            onclick: async () => {
              share.select()
              try {
                await navigator.clipboard.writeText(share.value)
                copied.textContent = 'Link copied.'
              } catch {
                copied.textContent = 'Select the link and copy it.'
              }
            }
          }, 'Copy link'),
          copied)),
      ownerArea)
    heading.focus()
    return stop
  }
}

function paintVote (area: HTMLElement, poll: PollDetail, voted: (tally: Tally, chosen: string[]) => void): void {
  if (!poll.isOpen) {
    replaceChildren(area)
    return
  }
  if (!session.user) {
    replaceChildren(area, h('h2', { id: 'vote-heading' }, 'Vote'),
      h('p', {}, h('a', { href: `/login?next=/polls/${poll.id}` }, 'Log in to vote')))
    return
  }
  if (poll.myChoiceIds.length > 0) {
    replaceChildren(area, h('h2', { id: 'vote-heading' }, 'Vote'), h('p', {}, 'You have voted in this poll.'))
    return
  }
  // A vote form already on screen stays as it is (a live tally must not reset the choice).
  if (area.querySelector('form')) return
  const multiple = poll.maxChoices > 1
  const form = h('form', { class: 'card', novalidate: true },
    h('fieldset', {},
      h('legend', {}, multiple ? `Choose up to ${poll.maxChoices}` : 'Choose one'),
      poll.choices.map((choice) => h('div', { class: 'option' },
        h('input', { type: multiple ? 'checkbox' : 'radio', name: 'choiceIds', id: `choice-${choice.id}`, value: choice.id }),
        h('label', { for: `choice-${choice.id}` }, choice.label))),
      h('p', { class: 'field-error', id: 'choiceIds-error' })),
    formError(),
    h('button', { type: 'submit' }, 'Vote'))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const chosen = [...form.querySelectorAll<HTMLInputElement>('input:checked')].map((input) => input.value)
    void submitting(form, async () => {
      if (chosen.length === 0) throw new ApiError(400, 'Pick a choice first.', 'choiceIds')
      if (chosen.length > poll.maxChoices) throw new ApiError(400, `Pick at most ${poll.maxChoices}.`, 'choiceIds')
      voted(await api.vote(poll.id, chosen), chosen)
    }, (error) => error.field ?? (error.status === 400 ? 'choiceIds' : undefined))
  })
  replaceChildren(area, h('h2', { id: 'vote-heading' }, 'Vote'), form)
}

function paintResults (area: HTMLElement, poll: PollDetail): void {
  const heading = h('h2', { id: 'results-heading' }, 'Results')
  if (!poll.resultsVisible || poll.totalVotes === null) {
    replaceChildren(area, heading, h('p', {}, 'Results are hidden until the poll closes.'))
    return
  }
  const total = poll.totalVotes
  replaceChildren(area, heading,
    h('ul', { class: 'bars' }, poll.choices.map((choice) => {
      const votes = choice.votes ?? 0
      const percent = total === 0 ? 0 : Math.round((votes / total) * 100)
      const mine = poll.myChoiceIds.includes(choice.id)
      return h('li', { class: mine ? 'bar mine' : 'bar' },
        h('span', { class: 'bar-label' }, choice.label, mine ? h('span', { class: 'badge' }, ' (your choice)') : null),
        h('span', { class: 'bar-value' }, `${votes} ${votes === 1 ? 'vote' : 'votes'}, ${percent}%`),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: `width: ${percent}%` })))
    })),
    h('p', { class: 'total' }, `Total: ${describeVotes(total)}`))
}

function paintOwner (area: HTMLElement, poll: PollDetail, changed: () => Promise<void>): void {
  if (session.user?.id !== poll.owner.id) {
    replaceChildren(area)
    return
  }
  const form = h('form', { class: 'inline', novalidate: true }, formError())
  const close = h('button', { type: 'button', class: 'secondary' }, 'Close poll')
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete poll')
  close.hidden = !poll.isOpen
  close.addEventListener('click', () => {
    void submitting(form, async () => {
      await api.closePoll(poll.id)
      await changed()
    })
  })
  remove.addEventListener('click', () => {
    if (!confirm('Delete this poll and all its votes?')) return
    void submitting(form, async () => {
      await api.deletePoll(poll.id)
      navigate('/')
    })
  })
  form.append(close, remove)
  replaceChildren(area, h('h2', {}, 'Your poll'), form)
}
