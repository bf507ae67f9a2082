import { eq } from 'drizzle-orm'
import { type Database, mysqlErrorCode } from '../../db/client.js'
import { users } from '../../db/schema/index.js'
import { conflict, unauthorized } from '../errors.js'
import { hashPassword, verifyAgainstDecoy, verifyPassword } from './passwords.js'

export interface User {
  id: number
  username: string
}

export async function registerUser (db: Database, username: string, password: string): Promise<User> {
  const passwordHash = await hashPassword(password)
  try {
    const [result] = await db.insert(users).values({ username, passwordHash }).$returningId()
    return { id: result!.id, username }
  } catch (error) {
    if (mysqlErrorCode(error) === 'ER_DUP_ENTRY') throw conflict('That username is taken')
    throw error
  }
}

const WRONG_CREDENTIALS = 'Wrong username or password'

export async function authenticate (db: Database, username: string, password: string): Promise<User> {
  const [user] = await db.select().from(users).where(eq(users.username, username)).limit(1)
  const valid = user ? await verifyPassword(user.passwordHash, password) : await verifyAgainstDecoy(password)
  if (!user || !valid) throw unauthorized(WRONG_CREDENTIALS)
  return { id: user.id, username: user.username }
}
