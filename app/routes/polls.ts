import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createSchema, getSchema, listSchema, ownerActionSchema, voteSchema } from '../schemas/polls.js'
import { detailFor, summaryFor, tallyFor } from '../services/poll-views.js'
import { castBallot, choicesVotedBy, closePoll, createPoll, deletePoll, listPolls } from '../services/polls.js'

const DEFAULT_PAGE_SIZE = 20

// Handlers behind `onRequest: app.requireUser` take request.user as set.
const pollRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', { schema: listSchema }, async (request) => {
    const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query
    const page = await listPolls(app.db, limit, cursor === undefined ? undefined : Number(cursor))
    const now = new Date()
    return {
      items: page.items.map((poll) => summaryFor(poll, request.user?.id, now)),
      nextCursor: page.nextCursor === null ? null : String(page.nextCursor)
    }
  })

  app.post('/', { schema: createSchema, onRequest: app.requireUser }, async (request, reply) => {
    const owner = request.user!
    await app.rateLimits.countPollCreated(owner.id)
    const pollId = await createPoll(app.db, owner.id, request.body)
    const snapshot = await app.pollFeed.requireSnapshot(pollId)
    return reply.status(201).send(detailFor(snapshot, owner.id, []))
  })

  app.get('/:id', { schema: getSchema }, async (request) => {
    const pollId = Number(request.params.id)
    const snapshot = await app.pollFeed.requireSnapshot(pollId)
    const mine = request.user ? await choicesVotedBy(app.db, pollId, request.user.id) : []
    return detailFor(snapshot, request.user?.id, mine)
  })

  app.post('/:id/votes', { schema: voteSchema, onRequest: app.requireUser }, async (request, reply) => {
    const voter = request.user!
    const pollId = Number(request.params.id)
    const tally = await castBallot(app.db, pollId, voter.id, request.body.choiceIds.map(Number))
    app.metrics.votesAccepted.inc()
    await app.pollFeed.publish(pollId, 'vote')
    return reply.status(201).send(tallyFor(tally, voter.id))
  })

  app.post('/:id/close', { schema: ownerActionSchema, onRequest: app.requireUser }, async (request, reply) => {
    const pollId = Number(request.params.id)
    await closePoll(app.db, pollId, request.user!.id)
    await app.pollFeed.publish(pollId, 'closed')
    return reply.status(204).send(null)
  })

  app.delete('/:id', { schema: ownerActionSchema, onRequest: app.requireUser }, async (request, reply) => {
    const pollId = Number(request.params.id)
    await deletePoll(app.db, pollId, request.user!.id)
    await app.pollFeed.publish(pollId, 'deleted')
    return reply.status(204).send(null)
  })
}

export default pollRoutes
