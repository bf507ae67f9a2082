// Runs inside a container of the app image (mounted at /app/bench, to use its node_modules) on
// the stack's back network (see bench/run.ts):
//   node bench/raw-insert.mjs ROWS CONCURRENCY
// The database's own limit for a vote: the same rows the vote transaction writes (a ballot,
// its choice, the choice's counter), inserted by plain mysql2 loops with no HTTP and no app.
// Prints one JSON line: { rows, seconds, rate }.
import { readFileSync } from 'node:fs'
import mysql from 'mysql2/promise'

const [rows = '5000', concurrency = '32'] = process.argv.slice(2)
const databaseUrl = readFileSync(process.env.DATABASE_URL_FILE, 'utf8').trim()
const pool = mysql.createPool({ uri: databaseUrl, connectionLimit: Number(concurrency) })

const [[owner]] = await pool.query('SELECT id FROM users ORDER BY id LIMIT 1')
const [poll] = await pool.query('INSERT INTO polls (owner_id, question, max_choices) VALUES (?, ?, 1)', [owner.id, 'raw insert benchmark'])
await pool.query('INSERT INTO choices (poll_id, position, label) VALUES ?', [['A', 'B', 'C', 'D', 'E'].map((label, i) => [poll.insertId, i, label])])
const [choices] = await pool.query('SELECT id FROM choices WHERE poll_id = ? ORDER BY position', [poll.insertId])
const [users] = await pool.query('SELECT id FROM users ORDER BY id DESC LIMIT ?', [Number(rows)])

let next = 0
const started = process.hrtime.bigint()
await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
  const connection = await pool.getConnection()
  try {
    while (next < users.length) {
      const i = next++
      const choiceId = choices[i % choices.length].id
      await connection.beginTransaction()
      const [ballot] = await connection.query('INSERT INTO ballots (poll_id, user_id) VALUES (?, ?)', [poll.insertId, users[i].id])
      await connection.query('UPDATE choices SET vote_count = vote_count + 1 WHERE id = ?', [choiceId])
      await connection.query('INSERT INTO ballot_choices (ballot_id, poll_id, choice_id) VALUES (?, ?, ?)', [ballot.insertId, poll.insertId, choiceId])
      await connection.commit()
    }
  } finally {
    connection.release()
  }
}))
const seconds = Number(process.hrtime.bigint() - started) / 1e9
const [[{ n }]] = await pool.query('SELECT COUNT(*) AS n FROM ballots WHERE poll_id = ?', [poll.insertId])
await pool.query('DELETE FROM polls WHERE id = ?', [poll.insertId])
console.log(JSON.stringify({ rows: Number(n), seconds, rate: Number(n) / seconds }))
await pool.end()
