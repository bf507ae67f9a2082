// Runs inside a container of the app image (mounted at /app/bench, to use its node_modules) on
// the stack's back network (see bench/run.ts):
//   node bench/seed.mjs USERS READ_VOTES
// Creates, straight in MySQL and Redis so that no argon2 hash is computed per user:
// USERS users with logged-in sessions, a poll with 5 choices for the vote scenarios, a poll
// with 5 choices and READ_VOTES ballots for the read scenario, and 100 polls for the list.
// Prints one JSON line: { readPollId, votePollId, voteChoiceIds, cookies: [...] }.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { sign } from '@fastify/cookie'
import argon2 from 'argon2'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'

const [users = '20000', readVotes = '5000'] = process.argv.slice(2)
const databaseUrl = readFileSync(process.env.DATABASE_URL_FILE, 'utf8').trim()
const sessionSecret = readFileSync(process.env.SESSION_SECRET_FILE, 'utf8').trim()
const db = await mysql.createConnection({ uri: databaseUrl, multipleStatements: false })
const redis = new Redis(readFileSync(process.env.REDIS_URL_FILE, 'utf8').trim())
const tag = randomBytes(3).toString('hex')

// One real argon2id hash shared by every bench user: they can log in, and nobody waits.
const hash = await argon2.hash('bench-password', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 })

async function insertUsers (count, prefix) {
  const ids = []
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => [`${prefix}${tag}_${start + i}`, hash])
    const [result] = await db.query('INSERT INTO users (username, password_hash) VALUES ?', [rows])
    for (let i = 0; i < rows.length; i++) ids.push({ id: result.insertId + i, username: rows[i][0] })
  }
  return ids
}

async function createPoll (ownerId, question, labels) {
  const [poll] = await db.query('INSERT INTO polls (owner_id, question, max_choices) VALUES (?, ?, 1)', [ownerId, question])
  await db.query('INSERT INTO choices (poll_id, position, label) VALUES ?', [labels.map((label, i) => [poll.insertId, i, label])])
  const [choices] = await db.query('SELECT id FROM choices WHERE poll_id = ? ORDER BY position', [poll.insertId])
  return { id: poll.insertId, choiceIds: choices.map((c) => c.id) }
}

const [owner] = await insertUsers(1, 'owner')
const labels = ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo']
const readPoll = await createPoll(owner.id, 'Which option do you prefer? (read benchmark)', labels)
const votePoll = await createPoll(owner.id, 'Which option do you prefer? (vote benchmark)', labels)
for (let i = 0; i < 100; i++) await createPoll(owner.id, `List benchmark poll ${i}`, labels.slice(0, 3))

// The read poll's ballots, counted as the vote transaction counts them.
const readVoters = await insertUsers(Number(readVotes), 'reader')
for (let start = 0; start < readVoters.length; start += 1000) {
  const batch = readVoters.slice(start, start + 1000)
  const [result] = await db.query('INSERT INTO ballots (poll_id, user_id) VALUES ?', [batch.map((u) => [readPoll.id, u.id])])
  const picks = batch.map((_u, i) => readPoll.choiceIds[(start + i) % 5])
  await db.query('INSERT INTO ballot_choices (ballot_id, poll_id, choice_id) VALUES ?', [picks.map((choiceId, i) => [result.insertId + i, readPoll.id, choiceId])])
  for (const choiceId of readPoll.choiceIds) {
    await db.query('UPDATE choices SET vote_count = vote_count + ? WHERE id = ?', [picks.filter((c) => c === choiceId).length, choiceId])
  }
}

// Sessions as the app stores them (app/plugins/session.ts), and their signed cookies.
const voters = await insertUsers(Number(users), 'voter')
const ttl = 3600
const cookies = []
for (let start = 0; start < voters.length; start += 1000) {
  const pipeline = redis.pipeline()
  for (const voter of voters.slice(start, start + 1000)) {
    const sessionId = randomBytes(24).toString('base64url')
    const session = { cookie: { originalMaxAge: ttl * 1000, expires: new Date(Date.now() + ttl * 1000).toISOString(), httpOnly: true, path: '/', sameSite: 'lax', secure: false }, userId: voter.id, username: voter.username }
    pipeline.set(`session:${sessionId}`, JSON.stringify(session), 'EX', ttl)
    cookies.push(`polls.sid=${encodeURIComponent(sign(sessionId, sessionSecret))}`)
  }
  await pipeline.exec()
}

console.log(JSON.stringify({ readPollId: readPoll.id, votePollId: votePoll.id, voteChoiceIds: votePoll.choiceIds, cookies }))
await db.end()
redis.disconnect()
