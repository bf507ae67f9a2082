import { api, type Visibility } from '../api.js'
import { h, replaceChildren } from '../dom.js'
import { navigate, type View } from '../router.js'
import { session } from '../session.js'
import { field, formError, submitting } from './form.js'

const MAX_CHOICES = 20

export const createView: View = {
  title: 'New poll',
  async render (main) {
    if (!session.user) {
      navigate('/login?next=/polls/new')
      return
    }
    const question = h('input', { type: 'text', required: true, maxlength: 300 })
    const choiceList = h('ol', { class: 'choice-inputs' })
    const addButton = h('button', { type: 'button', class: 'secondary' }, 'Add a choice')
    const maxChoices = h('input', { type: 'number', min: 1, max: MAX_CHOICES, value: 1, required: true, inputmode: 'numeric' })
    const closesAt = h('input', { type: 'datetime-local' })
    const visibility = h('select', {},
      h('option', { value: 'always' }, 'Always'),
      h('option', { value: 'afterClose' }, 'Only after the poll closes'))

    const renumber = () => {
      const rows = [...choiceList.children]
      rows.forEach((row, i) => {
        row.querySelector('label')!.textContent = `Choice ${i + 1}`
        row.querySelector<HTMLButtonElement>('button')!.hidden = rows.length <= 2
        row.querySelector<HTMLButtonElement>('button')!.setAttribute('aria-label', `Remove choice ${i + 1}`)
      })
      addButton.hidden = rows.length >= MAX_CHOICES
    }
    const addChoice = (focus: boolean) => {
      const id = `choice-${crypto.randomUUID()}`
      const input = h('input', { type: 'text', id, name: 'choices', required: true, maxlength: 120 })
      const row = h('li', { class: 'choice-input' },
        h('label', { for: id }),
        input,
        h('button', { type: 'button', class: 'link-button', onclick: () => { row.remove(); renumber() } }, 'Remove'))
      choiceList.append(row)
      renumber()
      if (focus) input.focus()
    }
    addChoice(false)
    addChoice(false)
    addButton.addEventListener('click', () => addChoice(true))

    const form = h('form', { class: 'card', novalidate: true },
      formError(),
      field('question', 'Question', question),
      h('fieldset', {},
        h('legend', {}, 'Choices (2 to 20)'),
        choiceList,
        addButton,
        h('p', { class: 'field-error', id: 'choices-error' })),
      field('maxChoices', 'How many choices may each voter pick?', maxChoices),
      field('closesAt', 'Closes at (optional)', closesAt, 'Leave empty to close it yourself'),
      field('resultsVisibility', 'Show results', visibility),
      h('button', { type: 'submit' }, 'Create poll'))

    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void submitting(form, async () => {
        const choices = [...choiceList.querySelectorAll('input')].map((input) => input.value)
        const poll = await api.createPoll({
          question: question.value,
          choices,
          maxChoices: Number(maxChoices.value),
          ...(closesAt.value ? { closesAt: new Date(closesAt.value).toISOString() } : {}),
          resultsVisibility: visibility.value as Visibility
        })
        navigate(`/polls/${poll.id}`)
      }, (error) => error.field ?? (/choices/i.test(error.message) ? 'choices' : /closesAt/.test(error.message) ? 'closesAt' : /maxChoices/.test(error.message) ? 'maxChoices' : undefined))
    })
    replaceChildren(main, h('h1', {}, 'New poll'), form)
    question.focus()
  }
}
