import { type Static, Type } from 'typebox'
import { resultsVisibilities } from '../../db/schema/polls.js'
import { signedIn } from './auth.js'
import { Id, IdParams, NoContent, errors } from './common.js'

export const Visibility = Type.Enum(resultsVisibilities)
export type Visibility = Static<typeof Visibility>

// A count is null where the poll hides its results from this caller.
const Count = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])

export const PollSummary = Type.Object({
  id: Id,
  question: Type.String(),
  owner: Type.Object({ id: Id, username: Type.String() }),
  maxChoices: Type.Integer(),
  resultsVisibility: Visibility,
  resultsVisible: Type.Boolean(),
  isOpen: Type.Boolean(),
  closesAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  closedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  totalVotes: Count
})
export type PollSummary = Static<typeof PollSummary>

export const Tally = Type.Object({
  pollId: Id,
  isOpen: Type.Boolean(),
  resultsVisible: Type.Boolean(),
  totalVotes: Count,
  choices: Type.Array(Type.Object({ id: Id, votes: Count }))
})
export type Tally = Static<typeof Tally>

export const PollDetail = Type.Intersect([
  PollSummary,
  Type.Object({
    choices: Type.Array(Type.Object({ id: Id, label: Type.String(), votes: Count })),
    myChoiceIds: Type.Array(Id)
  })
])
export type PollDetail = Static<typeof PollDetail>

export const PollPage = Type.Object({ items: Type.Array(PollSummary), nextCursor: Type.Union([Id, Type.Null()]) })
export type PollPage = Static<typeof PollPage>

// Text fields reject strings that are blank or carry control characters.
const NO_CONTROL = '[^\\u0000-\\u001f\\u007f]'
const VISIBLE = '[^\\s\\u0000-\\u001f\\u007f]'
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: `^${NO_CONTROL}*${VISIBLE}${NO_CONTROL}*$` })

export const CreatePollBody = Type.Object({
  question: Text(300),
  choices: Type.Array(Text(120), { minItems: 2, maxItems: 20 }),
  maxChoices: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  closesAt: Type.Optional(Type.String({ format: 'date-time' })),
  resultsVisibility: Type.Optional(Visibility)
}, { additionalProperties: false })
export type NewPoll = Static<typeof CreatePollBody>

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  cursor: Type.Optional(Id)
}, { additionalProperties: false })

export const VoteBody = Type.Object({
  choiceIds: Type.Array(Id, { minItems: 1, maxItems: 20 })
}, { additionalProperties: false })

export const listSchema = {
  tags: ['polls'],
  querystring: ListQuery,
  response: { 200: PollPage, ...errors(400, 503) }
}

export const createSchema = {
  tags: ['polls'],
  security: signedIn,
  body: CreatePollBody,
  response: { 201: PollDetail, ...errors(400, 401, 403, 413, 415, 429, 503) }
}

export const getSchema = {
  tags: ['polls'],
  params: IdParams,
  response: { 200: PollDetail, ...errors(400, 404, 503) }
}

export const voteSchema = {
  tags: ['polls'],
  security: signedIn,
  params: IdParams,
  body: VoteBody,
  response: { 201: Tally, ...errors(400, 401, 403, 404, 409, 413, 415, 503) }
}

export const ownerActionSchema = {
  tags: ['polls'],
  security: signedIn,
  params: IdParams,
  response: { 204: NoContent, ...errors(400, 401, 403, 404, 503) }
}

export const eventsSchema = {
  tags: ['polls'],
  description: 'text/event-stream: a `tally` event with the current Tally at once and after every vote (not per vote while the poll hides its counts from the caller), a `closed` event with the final Tally when the poll closes, `deleted`, heartbeat comments',
  params: IdParams,
  response: { ...errors(400, 404, 429, 503) }
}
