import { h, replaceChildren } from '../dom.js'
import type { View } from '../router.js'

export const notFoundView: View = {
  title: 'Not found',
  async render (main) {
    replaceChildren(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'See all polls')))
  }
}
