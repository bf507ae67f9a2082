import { Type } from 'typebox'
import { Id, IdParams, NoContent, errors } from '../schemas/common.js'

const Visibility = Type.Union([Type.Literal('always'), Type.Literal('afterClose')])

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

export const Tally = Type.Object({
  pollId: Id,
  isOpen: Type.Boolean(),
  resultsVisible: Type.Boolean(),
  totalVotes: Count,
  choices: Type.Array(Type.Object({ id: Id, votes: Count }))
})

export const PollDetail = Type.Intersect([
  PollSummary,
  Type.Object({
    choices: Type.Array(Type.Object({ id: Id, label: Type.String(), votes: Count })),
    myChoiceIds: Type.Array(Id)
  })
])

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
  response: { 200: Type.Object({ items: Type.Array(PollSummary), nextCursor: Type.Union([Id, Type.Null()]) }), ...errors(400, 503) }
}

export const createSchema = {
  tags: ['polls'],
  body: CreatePollBody,
  response: { 201: PollDetail, ...errors(400, 401, 403, 413, 415, 503) }
}

export const getSchema = {
  tags: ['polls'],
  params: IdParams,
  response: { 200: PollDetail, ...errors(400, 404, 503) }
}

export const voteSchema = {
  tags: ['polls'],
  params: IdParams,
  body: VoteBody,
  response: { 201: Tally, ...errors(400, 401, 403, 404, 409, 413, 415, 503) }
}

export const ownerActionSchema = {
  tags: ['polls'],
  params: IdParams,
  response: { 204: NoContent, ...errors(400, 401, 403, 404, 503) }
}

export const eventsSchema = {
  tags: ['polls'],
  description: 'text/event-stream: `tally` events with the current Tally, a `closed` event when the poll closes, heartbeat comments',
  params: IdParams,
  response: { ...errors(400, 404, 503) }
}
