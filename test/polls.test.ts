import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../app/app.js'
import { build, createPoll, registerAndLogin, type TestUser, withRoot } from './helpers.js'

let app: App
let owner: TestUser
let voter: TestUser
beforeAll(async () => {
  app = await build()
  ;[owner, voter] = await Promise.all([registerAndLogin(app, 'owner'), registerAndLogin(app, 'voter')])
})
afterAll(async () => { await app.close() })

const vote = (user: TestUser | null, pollId: string, choiceIds: string[]) => app.inject({
  method: 'POST', url: `/api/polls/${pollId}/votes`, payload: { choiceIds }, headers: user ? { cookie: user.cookie } : {}
})
const getPoll = (pollId: string, user?: TestUser) => app.inject({ method: 'GET', url: `/api/polls/${pollId}`, headers: user ? { cookie: user.cookie } : {} })

describe('creating polls', () => {
  it('creates a poll: 201 with its choices, open, no votes', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/polls',
      headers: { cookie: owner.cookie },
      payload: { question: '  Best editor?  ', choices: ['vim', 'emacs', 'nano'], maxChoices: 2 }
    })
    expect(response.statusCode).toBe(201)
    const poll = response.json()
    expect(poll).toMatchObject({
      question: 'Best editor?',
      maxChoices: 2,
      resultsVisibility: 'always',
      isOpen: true,
      closesAt: null,
      totalVotes: 0,
      owner: { id: owner.id, username: owner.username },
      myChoiceIds: []
    })
    expect(poll.choices.map((c: { label: string }) => c.label)).toEqual(['vim', 'emacs', 'nano'])
    expect(poll.choices.every((c: { votes: number }) => c.votes === 0)).toBe(true)
  })

  it('needs a logged-in user: 401, checked before the body, so a bad or non-JSON body gets 401 too', async () => {
    for (const request of [
      { payload: { question: 'q?', choices: ['a', 'b'] } },
      { payload: { question: 42 } },
      { payload: 'question=q', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    ]) {
      const response = await app.inject({ method: 'POST', url: '/api/polls', ...request })
      expect(response.statusCode, JSON.stringify(request)).toBe(401)
    }
    const poll = await createPoll(app, owner)
    const badBallot = await app.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, payload: { choiceIds: 'all' } })
    expect(badBallot.statusCode).toBe(401)
  })

  it.each([
    ['an empty question', { question: '', choices: ['a', 'b'] }],
    ['a blank question', { question: '   ', choices: ['a', 'b'] }],
    ['too long a question', { question: 'q'.repeat(301), choices: ['a', 'b'] }],
    ['one choice', { question: 'q', choices: ['a'] }],
    ['21 choices', { question: 'q', choices: Array.from({ length: 21 }, (_, i) => `c${i}`) }],
    ['an empty choice', { question: 'q', choices: ['a', ''] }],
    ['too long a choice', { question: 'q', choices: ['a', 'b'.repeat(121)] }],
    ['duplicate choices', { question: 'q', choices: ['Yes', 'yes '] }],
    ['maxChoices above the number of choices', { question: 'q', choices: ['a', 'b'], maxChoices: 3 }],
    ['maxChoices 0', { question: 'q', choices: ['a', 'b'], maxChoices: 0 }],
    ['closesAt in the past', { question: 'q', choices: ['a', 'b'], closesAt: '2020-01-01T00:00:00Z' }],
    ['closesAt that is not a date', { question: 'q', choices: ['a', 'b'], closesAt: 'tomorrow' }],
    ['an unknown resultsVisibility', { question: 'q', choices: ['a', 'b'], resultsVisibility: 'never' }]
  ])('refuses %s: 400', async (_case, payload) => {
    const response = await app.inject({ method: 'POST', url: '/api/polls', headers: { cookie: owner.cookie }, payload })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' })
  })
})

describe('reading polls', () => {
  it('GET /api/polls/:id: 404 for an unknown id, 400 for a malformed one', async () => {
    expect((await getPoll('999999999')).statusCode).toBe(404)
    expect((await getPoll('abc')).statusCode).toBe(400)
    expect((await getPoll('0')).statusCode).toBe(400)
  })

  it('lists newest first with cursor pagination and totals', async () => {
    const created = []
    for (let i = 0; i < 5; i++) created.push(await createPoll(app, owner, { question: `page poll ${i}` }))
    await vote(voter, created[4]!.id, [created[4]!.choices[0]!.id])

    const first = await app.inject({ method: 'GET', url: '/api/polls?limit=2' })
    expect(first.statusCode).toBe(200)
    const page1 = first.json()
    expect(page1.items.map((p: { id: string }) => p.id)).toEqual([created[4]!.id, created[3]!.id])
    expect(page1.items[0]).toMatchObject({ totalVotes: 1, isOpen: true })
    expect(page1.nextCursor).toBe(created[3]!.id)

    const page2 = (await app.inject({ method: 'GET', url: `/api/polls?limit=2&cursor=${page1.nextCursor}` })).json()
    expect(page2.items.map((p: { id: string }) => p.id)).toEqual([created[2]!.id, created[1]!.id])

    const defaults = (await app.inject({ method: 'GET', url: '/api/polls' })).json()
    expect(defaults.items.length).toBeLessThanOrEqual(20)
    expect(defaults.items.length).toBeGreaterThanOrEqual(5)
  })

  it.each(['limit=0', 'limit=101', 'limit=abc', 'cursor=-1', 'cursor=x', 'other=1', 'cursor=9007199254740993'])('refuses ?%s: 400', async (query) => {
    expect((await app.inject({ method: 'GET', url: `/api/polls?${query}` })).statusCode).toBe(400)
  })

  it('refuses an id a JavaScript number would round (above 2^53): 400, never another poll', async () => {
    for (const id of ['9007199254740993', '9007199254740992', '1234567890123456']) {
      expect((await app.inject({ method: 'GET', url: `/api/polls/${id}` })).statusCode, id).toBe(400)
    }
    expect((await app.inject({ method: 'GET', url: '/api/polls/999999999999999' })).statusCode).toBe(404)
  })
})

describe('voting', () => {
  it('accepts one ballot: 201 with the new tally, and shows the caller their choice', async () => {
    const poll = await createPoll(app, owner)
    const response = await vote(voter, poll.id, [poll.choices[1]!.id])
    expect(response.statusCode).toBe(201)
    expect(response.json()).toEqual({
      pollId: poll.id,
      isOpen: true,
      resultsVisible: true,
      totalVotes: 1,
      choices: [{ id: poll.choices[0]!.id, votes: 0 }, { id: poll.choices[1]!.id, votes: 1 }, { id: poll.choices[2]!.id, votes: 0 }]
    })
    const mine = (await getPoll(poll.id, voter)).json()
    expect(mine.myChoiceIds).toEqual([poll.choices[1]!.id])
    expect((await getPoll(poll.id, owner)).json().myChoiceIds).toEqual([])
  })

  it('refuses a second ballot: 409, and the count does not move', async () => {
    const poll = await createPoll(app, owner)
    expect((await vote(voter, poll.id, [poll.choices[0]!.id])).statusCode).toBe(201)
    const second = await vote(voter, poll.id, [poll.choices[1]!.id])
    expect(second.statusCode).toBe(409)
    expect((await getPoll(poll.id)).json().totalVotes).toBe(1)
  })

  it('refuses a choice of another poll, too many choices, repeated or no choices: 400', async () => {
    const poll = await createPoll(app, owner, { maxChoices: 2 })
    const other = await createPoll(app, owner)
    expect((await vote(voter, poll.id, [other.choices[0]!.id])).statusCode).toBe(400)
    expect((await vote(voter, poll.id, [poll.choices[0]!.id, other.choices[0]!.id])).statusCode).toBe(400)
    expect((await vote(voter, poll.id, poll.choices.map((c) => c.id))).statusCode).toBe(400)
    expect((await vote(voter, poll.id, [poll.choices[0]!.id, poll.choices[0]!.id])).statusCode).toBe(400)
    expect((await vote(voter, poll.id, [])).statusCode).toBe(400)
    expect((await getPoll(poll.id)).json().totalVotes).toBe(0)
    // Nothing was written, so a valid ballot still goes through.
    expect((await vote(voter, poll.id, [poll.choices[0]!.id, poll.choices[2]!.id])).statusCode).toBe(201)
    expect((await getPoll(poll.id)).json().totalVotes).toBe(2)
  })

  it('needs a logged-in user: 401; unknown poll: 404', async () => {
    const poll = await createPoll(app, owner)
    expect((await vote(null, poll.id, [poll.choices[0]!.id])).statusCode).toBe(401)
    expect((await vote(voter, '999999999', ['1'])).statusCode).toBe(404)
  })

  it('refuses a ballot on a closed poll: 409', async () => {
    const poll = await createPoll(app, owner)
    expect((await app.inject({ method: 'POST', url: `/api/polls/${poll.id}/close`, headers: { cookie: owner.cookie } })).statusCode).toBe(204)
    const response = await vote(voter, poll.id, [poll.choices[0]!.id])
    expect(response.statusCode).toBe(409)
    expect(response.json().message).toMatch(/closed/)
    expect((await getPoll(poll.id)).json()).toMatchObject({ isOpen: false, totalVotes: 0, closedAt: expect.any(String) })
  })
  it('undoes a refused ballot whole, on the connection the next ballot then uses', async () => {
    // One connection: a refused ballot's batch has counted the choices of this poll before
    // the statement that refuses it, and a transaction left open there would be committed
    // by the next ballot's START TRANSACTION.
    const oneConnection = await build({ DATABASE_POOL_SIZE: '1' })
    try {
      const castOn = (pollId: string, choiceIds: string[]) => oneConnection.inject({
        method: 'POST', url: `/api/polls/${pollId}/votes`, payload: { choiceIds }, headers: { cookie: voter.cookie }
      })
      const closed = await createPoll(oneConnection, owner)
      const open = await createPoll(oneConnection, owner, { maxChoices: 2 })
      const other = await createPoll(oneConnection, owner)
      await oneConnection.inject({ method: 'POST', url: `/api/polls/${closed.id}/close`, headers: { cookie: owner.cookie } })
      expect((await castOn(closed.id, [closed.choices[0]!.id])).statusCode).toBe(409)
      expect((await castOn(open.id, [open.choices[0]!.id, other.choices[0]!.id])).statusCode).toBe(400)
      expect((await castOn(open.id, [open.choices[1]!.id])).statusCode).toBe(201)

      const [counts] = await withRoot((connection) => connection.query(
        'SELECT poll_id AS pollId, CAST(SUM(vote_count) AS UNSIGNED) AS votes FROM choices WHERE poll_id IN (?) GROUP BY poll_id ORDER BY poll_id',
        [[closed.id, open.id, other.id]]))
      expect(counts).toEqual([
        { pollId: Number(closed.id), votes: 0 }, { pollId: Number(open.id), votes: 1 }, { pollId: Number(other.id), votes: 0 }
      ])
      const [ballots] = await withRoot((connection) => connection.query(
        'SELECT b.poll_id AS pollId, bc.choice_id AS choiceId FROM ballots b JOIN ballot_choices bc ON bc.ballot_id = b.id WHERE b.user_id = ? AND b.poll_id IN (?)',
        [voter.id, [closed.id, open.id, other.id]]))
      expect(ballots).toEqual([{ pollId: Number(open.id), choiceId: Number(open.choices[1]!.id) }])
    } finally {
      await oneConnection.close()
    }
  })
})

describe('closing and deleting', () => {
  it('only the owner may close or delete: others 403, anonymous 401, unknown 404', async () => {
    const poll = await createPoll(app, owner)
    for (const [method, suffix] of [['POST', '/close'], ['DELETE', '']] as const) {
      expect((await app.inject({ method, url: `/api/polls/${poll.id}${suffix}`, headers: { cookie: voter.cookie } })).statusCode).toBe(403)
      expect((await app.inject({ method, url: `/api/polls/${poll.id}${suffix}` })).statusCode).toBe(401)
      expect((await app.inject({ method, url: `/api/polls/999999999${suffix}`, headers: { cookie: owner.cookie } })).statusCode).toBe(404)
    }
    expect((await getPoll(poll.id)).json().isOpen).toBe(true)
  })

  it('the owner deletes a poll with its ballots: 204, then 404', async () => {
    const poll = await createPoll(app, owner)
    await vote(voter, poll.id, [poll.choices[0]!.id])
    expect((await app.inject({ method: 'DELETE', url: `/api/polls/${poll.id}`, headers: { cookie: owner.cookie } })).statusCode).toBe(204)
    expect((await getPoll(poll.id)).statusCode).toBe(404)
  })
})

describe('results hidden until close (resultsVisibility afterClose)', () => {
  it('hides counts from everyone but the owner until the poll closes by itself at closesAt', async () => {
    // Far enough ahead that the vote and the reads below come before it, however busy the machine.
    const closesAt = new Date(Date.now() + 5000).toISOString()
    const poll = await createPoll(app, owner, { resultsVisibility: 'afterClose', closesAt })
    const cast = await vote(voter, poll.id, [poll.choices[2]!.id])
    expect(cast.statusCode).toBe(201)
    expect(cast.json()).toMatchObject({ resultsVisible: false, totalVotes: null })
    expect(cast.json().choices.every((c: { votes: unknown }) => c.votes === null)).toBe(true)

    const asVoter = (await getPoll(poll.id, voter)).json()
    const asAnonymous = (await getPoll(poll.id)).json()
    const asOwner = (await getPoll(poll.id, owner)).json()
    for (const view of [asVoter, asAnonymous]) {
      expect(view).toMatchObject({ resultsVisible: false, totalVotes: null, isOpen: true })
      expect(view.choices.map((c: { votes: unknown }) => c.votes)).toEqual([null, null, null])
    }
    expect(asVoter.myChoiceIds).toEqual([poll.choices[2]!.id])
    expect(asOwner).toMatchObject({ resultsVisible: true, totalVotes: 1 })
    expect(asOwner.choices.map((c: { votes: unknown }) => c.votes)).toEqual([0, 0, 1])
    const listed = (await app.inject({ method: 'GET', url: '/api/polls?limit=100' })).json().items.find((p: { id: string }) => p.id === poll.id)
    expect(listed).toMatchObject({ totalVotes: null, resultsVisible: false })

    await new Promise((resolve) => setTimeout(resolve, Date.parse(closesAt) - Date.now() + 100))
    const after = (await getPoll(poll.id)).json()
    expect(after).toMatchObject({ isOpen: false, resultsVisible: true, totalVotes: 1, closedAt: closesAt })
    expect(after.choices.map((c: { votes: unknown }) => c.votes)).toEqual([0, 0, 1])
    expect((await vote(owner, poll.id, [poll.choices[0]!.id])).statusCode).toBe(409)
  })
})
