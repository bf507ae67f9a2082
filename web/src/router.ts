// Client-side routes over the History API. nginx answers every unknown path with the page,
// so a shared or reloaded URL opens the same view.
export interface View {
  title: string
  // Renders into main; returns a clean-up function (e.g. to stop a live stream).
  render: (main: HTMLElement, params: Record<string, string>) => Promise<(() => void) | void>
}

interface Route { pattern: RegExp, keys: string[], view: View }
const routes: Route[] = []
let notFound: View

export function route (path: string, view: View): void {
  const keys: string[] = []
  const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_match, key: string) => { keys.push(key); return '([^/]+)' })}/?$`)
  routes.push({ pattern, keys, view })
}

export function fallback (view: View): void { notFound = view }

export function navigate (path: string): void {
  history.pushState(null, '', path)
  void onNavigate()
}

export function match (pathname: string): { view: View, params: Record<string, string> } {
  for (const { pattern, keys, view } of routes) {
    const found = pattern.exec(pathname)
    if (found) return { view, params: Object.fromEntries(keys.map((key, i) => [key, decodeURIComponent(found[i + 1]!)])) }
  }
  return { view: notFound, params: {} }
}

let onNavigate: () => Promise<void> = async () => {}
export function start (render: () => Promise<void>): void {
  onNavigate = render
  window.addEventListener('popstate', () => { void render() })
  // Same-origin links are handled here instead of reloading the page.
  document.addEventListener('click', (event) => {
    const link = (event.target as Element | null)?.closest('a')
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || link.target) return
    const url = new URL(link.href)
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return
    event.preventDefault()
    navigate(url.pathname + url.search)
  })
  void render()
}
