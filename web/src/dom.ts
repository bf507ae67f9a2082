// A small element builder: h('p', { class: 'x' }, 'text', child). Attributes whose value is
// false, null or undefined are left out; `on*` functions become event listeners.
type Child = Node | string | number | null | undefined | false
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attributes: Attributes = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue
    if (typeof value === 'function') element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(child instanceof Node ? child : String(child))
  }
  return element
}

export function replaceChildren (parent: Element, ...children: Array<Child | Child[]>): void {
  parent.replaceChildren(...children.flat().filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => c instanceof Node ? c : String(c)))
}
