import neostandard from 'neostandard'

// The layers of the service, each importing only from the ones below it:
//   app/server.ts -> app/app.ts -> app/plugins, app/routes -> app/services -> db/
// app/schemas (the API's shapes), app/errors.ts and app/config.ts are leaves anyone may use.
const forbidden = {
  routes: { group: ['**/routes/**'], message: 'Routes sit above this layer: move what both need down, into services or schemas.' },
  plugins: { group: ['**/plugins/**'], message: 'Plugins only wire services into Fastify: import the service itself.' },
  services: { group: ['**/services/**'], message: 'Schemas describe the API and depend on nothing above them.' },
  entryPoints: { group: ['**/app.js', '**/server.js'], message: 'app.ts and server.ts are the top of the import graph.' },
  appFolder: { group: ['**/app/**'], message: 'db/ is the bottom layer: it knows nothing of the app.' }
}
const layer = (files, ...restricted) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: restricted.map((name) => forbidden[name]) }] }
})

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**', 'test-results/**'] }),
  {
    rules: {
      // `void promise;` marks a promise left to run on its own, on purpose.
      'no-void': ['error', { allowAsStatement: true }],
      // A TypeBox schema and the type derived from it share a name by design; TypeScript
      // itself reports any real redeclaration.
      '@typescript-eslint/no-redeclare': 'off',
      // The database pool takes multi-statement queries (db/client.ts): text spliced into SQL
      // could add a statement, so values are always bound.
      'no-restricted-properties': ['error', { object: 'sql', property: 'raw', message: 'Bind values as parameters of the sql template instead: the pool runs multi-statement queries.' }]
    }
  },
  layer(['db/**'], 'appFolder'),
  layer(['app/schemas/**'], 'routes', 'plugins', 'services', 'entryPoints'),
  layer(['app/services/**'], 'routes', 'plugins', 'entryPoints'),
  layer(['app/routes/**'], 'plugins', 'entryPoints'),
  layer(['app/plugins/**'], 'routes', 'entryPoints'),
  {
    // The page shares the API's types with the server, and nothing else.
    files: ['web/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: ['**/app/**', '**/db/**'], allowTypeImports: true, message: 'The page may import the server\'s types only (import type).' }]
      }]
    }
  }
]
