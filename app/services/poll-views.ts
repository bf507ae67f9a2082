import type { PollDetail, PollSummary, Tally } from '../schemas/polls.js'
import { closedAt, isOpen, type PollRow, type PollSnapshot, type PollTally, resultsVisibleTo } from './polls.js'

// What a given viewer may see of a poll: counts become null while the poll hides its results
// from them. Responses and event streams both go through these, so they cannot disagree.

export function summaryFor (poll: PollRow, viewerId: number | undefined, now = new Date()): PollSummary {
  const visible = resultsVisibleTo(poll, viewerId, now)
  return {
    id: String(poll.id),
    question: poll.question,
    owner: { id: String(poll.ownerId), username: poll.ownerName },
    maxChoices: poll.maxChoices,
    resultsVisibility: poll.resultsVisibility,
    resultsVisible: visible,
    isOpen: isOpen(poll, now),
    closesAt: poll.closesAt?.toISOString() ?? null,
    closedAt: closedAt(poll, now)?.toISOString() ?? null,
    createdAt: poll.createdAt.toISOString(),
    totalVotes: visible ? poll.totalVotes : null
  }
}

export function detailFor (snapshot: PollSnapshot, viewerId: number | undefined, myChoiceIds: number[], now = new Date()): PollDetail {
  const visible = resultsVisibleTo(snapshot.poll, viewerId, now)
  return {
    ...summaryFor(snapshot.poll, viewerId, now),
    choices: snapshot.choices.map((choice) => ({ id: String(choice.id), label: choice.label, votes: visible ? choice.votes : null })),
    myChoiceIds: myChoiceIds.map(String)
  }
}

export function tallyFor (snapshot: PollTally, viewerId: number | undefined, now = new Date()): Tally {
  const visible = resultsVisibleTo(snapshot.poll, viewerId, now)
  return {
    pollId: String(snapshot.poll.id),
    isOpen: isOpen(snapshot.poll, now),
    resultsVisible: visible,
    totalVotes: visible ? snapshot.choices.reduce((sum, choice) => sum + choice.votes, 0) : null,
    choices: snapshot.choices.map((choice) => ({ id: String(choice.id), votes: visible ? choice.votes : null }))
  }
}
