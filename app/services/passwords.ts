import argon2 from 'argon2'

// argon2id with OWASP's recommended minimum (19 MiB, 2 passes): strong, and light enough
// that a burst of logins does not exhaust a replica's memory.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export function hashPassword (password: string): Promise<string> {
  return argon2.hash(password, OPTIONS)
}

export function verifyPassword (hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password)
}

// Verifying against this when the user does not exist makes an unknown username take as
// long as a wrong password, so timing does not reveal which names are registered.
let decoyHash: Promise<string> | undefined
export async function verifyAgainstDecoy (password: string): Promise<false> {
  decoyHash ??= hashPassword('decoy password that matches nothing')
  await argon2.verify(await decoyHash, password)
  return false
}
