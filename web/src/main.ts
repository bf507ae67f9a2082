import { api, ApiError } from './api.js'
import { h, replaceChildren } from './dom.js'
import { fallback, match, navigate, route, start } from './router.js'
import { session } from './session.js'
import { loginView, registerView } from './views/auth.js'
import { createView } from './views/create.js'
import { listView } from './views/list.js'
import { notFoundView } from './views/not-found.js'
import { pollView } from './views/poll.js'
import { showBanner, hideBanner } from './views/banner.js'

route('/', listView)
route('/login', loginView)
route('/register', registerView)
route('/polls/new', createView)
route('/polls/:id', pollView)
fallback(notFoundView)

const main = document.getElementById('main')!
const account = document.getElementById('account')!
let cleanUp: (() => void) | void

function renderAccount (): void {
  const user = session.user
  replaceChildren(account, user
    ? [
        h('span', { class: 'who' }, 'Signed in as ', h('strong', {}, user.username)),
        h('button', { type: 'button', class: 'link-button', onclick: logout }, 'Log out')
      ]
    : [h('a', { href: '/login' }, 'Log in'), h('a', { href: '/register' }, 'Register')])
}

async function logout (): Promise<void> {
  try {
    await api.logout()
    session.set(null)
    navigate('/')
  } catch (error) {
    showBanner(error instanceof ApiError ? error.message : 'Logging out failed.', logout)
  }
}

// Renders the view for the current URL. A failure shows a message with a retry button in
// place of the view, never a blank page.
async function render (): Promise<void> {
  cleanUp?.()
  cleanUp = undefined
  hideBanner()
  const { view, params } = match(location.pathname)
  document.title = `${view.title} · Polls`
  main.setAttribute('aria-busy', 'true')
  replaceChildren(main, h('p', { class: 'loading' }, 'Loading…'))
  try {
    cleanUp = await view.render(main, params)
  } catch (error) {
    const message = error instanceof ApiError ? error.message : 'Something went wrong while showing this page.'
    replaceChildren(main,
      h('h1', {}, 'This page could not be loaded'),
      h('p', { class: 'error', role: 'alert' }, message),
      h('button', { type: 'button', onclick: () => { void render() } }, 'Try again'))
  } finally {
    main.removeAttribute('aria-busy')
  }
}

session.onChange(renderAccount)
renderAccount()
session.refresh().catch(() => {
  showBanner('The server cannot be reached right now.', () => { void session.refresh().then(hideBanner) })
}).finally(() => start(render))
