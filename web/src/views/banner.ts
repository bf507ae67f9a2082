import { h, replaceChildren } from '../dom.js'

// The page-wide message for lost connections and server errors, with a retry button.
const banner = () => document.getElementById('banner')!

export function showBanner (message: string, retry?: () => unknown): void {
  const element = banner()
  replaceChildren(element,
    h('span', {}, message),
    retry ? h('button', { type: 'button', onclick: () => { hideBanner(); void retry() } }, 'Retry') : null)
  element.hidden = false
}

export function hideBanner (): void {
  const element = banner()
  element.hidden = true
  replaceChildren(element)
}
