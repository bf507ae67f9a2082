export * from './users.js'
export * from './polls.js'
