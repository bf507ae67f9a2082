import { api } from '../api.js'
import { h, replaceChildren } from '../dom.js'
import { navigate, type View } from '../router.js'
import { session } from '../session.js'
import { field, formError, submitting } from './form.js'

function authView (mode: 'login' | 'register'): View {
  const title = mode === 'login' ? 'Log in' : 'Register'
  return {
    title,
    async render (main) {
      const username = h('input', { type: 'text', autocomplete: 'username', required: true, minlength: 3, maxlength: 32, autocapitalize: 'none', spellcheck: 'false' })
      const password = h('input', { type: 'password', autocomplete: mode === 'login' ? 'current-password' : 'new-password', required: true, minlength: 8, maxlength: 256 })
      const form = h('form', { class: 'card', novalidate: true },
        formError(),
        field('username', 'Username', username, mode === 'register' ? '3 to 32 letters, digits, _ or -' : undefined),
        field('password', 'Password', password, mode === 'register' ? 'At least 8 characters' : undefined),
        h('button', { type: 'submit' }, title))
      form.addEventListener('submit', (event) => {
        event.preventDefault()
        void submitting(form, async () => {
          if (mode === 'register') await api.register(username.value, password.value)
          session.set(await api.login(username.value, password.value))
          const next = new URLSearchParams(location.search).get('next')
          navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/')
        }, (error) => error.field ?? (error.status === 409 ? 'username' : undefined))
      })
      replaceChildren(main,
        h('h1', {}, title),
        form,
        mode === 'login'
          ? h('p', {}, 'No account yet? ', h('a', { href: '/register' }, 'Register'))
          : h('p', {}, 'Already registered? ', h('a', { href: '/login' }, 'Log in')))
      username.focus()
    }
  }
}

export const loginView = authView('login')
export const registerView = authView('register')
