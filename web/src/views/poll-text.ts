import type { PollSummary } from '../api.js'

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export function describeState (poll: Pick<PollSummary, 'isOpen' | 'closesAt' | 'closedAt'>): string {
  if (!poll.isOpen) return poll.closedAt ? `Closed ${dateFormat.format(new Date(poll.closedAt))}` : 'Closed'
  return poll.closesAt ? `Open until ${dateFormat.format(new Date(poll.closesAt))}` : 'Open'
}

export function describeVotes (total: number | null): string {
  if (total === null) return 'results hidden until it closes'
  return total === 1 ? '1 vote' : `${total} votes`
}
