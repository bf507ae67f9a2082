import { ApiError } from '../api.js'
import { h } from '../dom.js'

// Shared form handling: a labelled field with its own error slot, and a submit that shows the
// API's message next to the field it concerns (or above the form), with the button disabled
// while the request runs.

export function field (id: string, label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  input.id = id
  input.name = id
  const described = [hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ')
  input.setAttribute('aria-describedby', described)
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    input,
    h('p', { class: 'field-error', id: `${id}-error` }))
}

export function formError (): HTMLElement {
  return h('p', { class: 'form-error error', role: 'alert' })
}

export async function submitting (form: HTMLFormElement, work: () => Promise<void>, fieldFor: (error: ApiError) => string | undefined = (e) => e.field): Promise<void> {
  const button = form.querySelector<HTMLButtonElement>('button[type=submit]')
  for (const slot of form.querySelectorAll('.field-error, .form-error')) slot.textContent = ''
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid')
  if (button) button.disabled = true
  try {
    await work()
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError(0, 'Something went wrong. Please try again.')
    const name = fieldFor(apiError)
    const input = name ? form.querySelector<HTMLElement>(`[name="${name}"]`) : null
    const slot = name ? form.querySelector(`#${name}-error`) : null
    if (input && slot) {
      slot.textContent = apiError.message
      input.setAttribute('aria-invalid', 'true')
      input.focus()
    } else {
      const general = form.querySelector('.form-error')
      if (general) general.textContent = apiError.retryable ? `${apiError.message} You can submit again.` : apiError.message
    }
  } finally {
    if (button) button.disabled = false
  }
}
