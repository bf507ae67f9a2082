import { api, ApiError, type User } from './api.js'

// Who is logged in, as the server says; views read it and the header follows it.
let current: User | null = null
const listeners = new Set<() => void>()

export const session = {
  get user (): User | null { return current },
  async refresh (): Promise<void> {
    try {
      current = await api.me()
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error
      current = null
    }
    listeners.forEach((listener) => listener())
  },
  set (user: User | null): void {
    current = user
    listeners.forEach((listener) => listener())
  },
  onChange (listener: () => void): void { listeners.add(listener) }
}
