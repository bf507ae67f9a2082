import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireCommands } from '../support/commands.js'
import { baseUrl } from './client.js'
import { stack, waitForHealthyReplicas } from './stack.js'

// A real browser (Debian's Chromium, driven by playwright-core) against the whole stack
// through nginx's published port.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = 'test-results/screenshots'
const axeSource = (createRequire(import.meta.url)('axe-core') as { source: string }).source

let browser: Browser
const contexts: BrowserContext[] = []

beforeAll(async () => {
  requireCommands('the browser tests', [CHROMIUM], 'install Debian\'s chromium, or set CHROMIUM_PATH')
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic']
  })
  mkdirSync(ARTIFACTS, { recursive: true })
})
afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()))
  await browser?.close()
})

async function newPage (width = 1280, options: { bypassCSP?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ baseURL: baseUrl(), viewport: { width, height: 900 }, ...options })
  contexts.push(context)
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  return page
}

const unique = (prefix: string) => `${prefix}_${Math.random().toString(36).slice(2, 10)}`

async function registerThroughPage (page: Page): Promise<string> {
  const username = unique('web')
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill('a good long password')
  await page.getByRole('button', { name: 'Register' }).click()
  await expect.poll(() => page.getByText(`Signed in as ${username}`).isVisible()).toBe(true)
  return username
}

async function createPollThroughPage (page: Page, question: string, choices: string[]): Promise<string> {
  await page.getByRole('link', { name: 'New poll' }).click()
  await page.getByLabel('Question').fill(question)
  for (const [i, choice] of choices.entries()) {
    if (i >= 2) await page.getByRole('button', { name: 'Add a choice' }).click()
    await page.getByLabel(`Choice ${i + 1}`, { exact: true }).fill(choice)
  }
  await page.getByRole('button', { name: 'Create poll' }).click()
  await page.waitForURL(/\/polls\/\d+$/)
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(question)
  return page.url()
}

const resultLine = (page: Page, label: string) => page.locator('.bar', { hasText: label }).locator('.bar-value')

// Browser-side code below reaches the page's globals through globalThis: this file is
// compiled for Node, without the DOM's types.
interface Axe { run: (context: unknown, options: object) => Promise<{ violations: Array<{ id: string, impact: string, nodes: unknown[] }> }> }

async function seriousViolations (page: Page): Promise<Array<{ id: string, impact: string, nodes: number }>> {
  await page.addScriptTag({ content: axeSource })
  return page.evaluate(async () => {
    const { axe, document } = globalThis as unknown as { axe: Axe, document: unknown }
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => ({ id: violation.id, impact: violation.impact, nodes: violation.nodes.length }))
  })
}

describe('the web page', () => {
  let pollUrl = ''

  it('two people vote and each sees the other\'s vote arrive live, without a reload', async () => {
    const alice = await newPage()
    const bob = await newPage()
    await registerThroughPage(alice)
    pollUrl = await createPollThroughPage(alice, 'Tea or coffee?', ['Tea', 'Coffee', 'Water'])
    await registerThroughPage(bob)
    await bob.goto(pollUrl)
    await expect.poll(() => bob.getByText('Results update live.').isVisible()).toBe(true)
    await expect.poll(() => alice.getByText('Results update live.').isVisible()).toBe(true)

    await alice.getByLabel('Coffee').check()
    await alice.getByRole('button', { name: 'Vote' }).click()
    await expect.poll(() => alice.getByText('You have voted in this poll.').isVisible()).toBe(true)
    await expect.poll(() => resultLine(bob, 'Coffee').textContent(), { timeout: 10_000 }).toBe('1 vote, 100%')

    await bob.getByLabel('Tea').check()
    await bob.getByRole('button', { name: 'Vote' }).click()
    await expect.poll(() => resultLine(alice, 'Tea').textContent(), { timeout: 10_000 }).toBe('1 vote, 50%')
    expect(await resultLine(alice, 'Coffee').textContent()).toBe('1 vote, 50%')
    expect(await alice.locator('.bar.mine').textContent()).toContain('Coffee')
    expect(await bob.locator('.bar.mine').textContent()).toContain('Tea')
    await alice.screenshot({ path: `${ARTIFACTS}/poll-live-1280.png`, fullPage: true })
  })

  it('opens a shared poll link in a fresh browser, as someone not logged in', async () => {
    const guest = await newPage()
    const response = await guest.goto(pollUrl)
    expect(response?.status()).toBe(200)
    await expect.poll(() => guest.getByRole('heading', { level: 1 }).textContent()).toBe('Tea or coffee?')
    expect(await resultLine(guest, 'Tea').textContent()).toBe('1 vote, 50%')
    expect(await guest.getByRole('link', { name: 'Log in to vote' }).isVisible()).toBe(true)
  })

  it('shows the API\'s message when a login fails', async () => {
    const page = await newPage()
    await page.goto('/login')
    await page.getByLabel('Username').fill(unique('nobody'))
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).isVisible()).toBe(true)
  })

  it('shows a field\'s error next to that field', async () => {
    const page = await newPage()
    await page.goto('/register')
    await page.getByLabel('Username').fill('no spaces allowed')
    await page.getByLabel('Password').fill('a good long password')
    await page.getByRole('button', { name: 'Register' }).click()
    const error = page.locator('#username-error')
    await expect.poll(() => error.textContent()).toMatch(/Username/)
    expect(await page.getByLabel('Username').getAttribute('aria-invalid')).toBe('true')
  })

  it('shows a clear, retryable message when the server fails or the connection is lost', async () => {
    const page = await newPage()
    await page.route('**/api/polls?*', (route) => route.fulfill({
      status: 503, contentType: 'application/json', body: JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'mysql is unavailable; try again shortly' })
    }))
    await page.goto('/')
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'mysql is unavailable' }).isVisible()).toBe(true)
    await page.unroute('**/api/polls?*')
    await page.route('**/api/polls?*', (route) => route.abort('internetdisconnected'))
    await page.getByRole('button', { name: 'Try again' }).click()
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'cannot be reached' }).isVisible()).toBe(true)
    await page.unroute('**/api/polls?*')
    await page.getByRole('button', { name: 'Try again' }).click()
    await expect.poll(() => page.getByRole('heading', { name: 'Polls', level: 1 }).isVisible()).toBe(true)
    expect(await page.locator('.loading').count()).toBe(0)
  })

  it('reconnects the live results by itself after the stream drops', async () => {
    const owner = await newPage()
    await registerThroughPage(owner)
    const url = await createPollThroughPage(owner, 'Reconnect?', ['Yes', 'No'])
    const watcher = await newPage()
    await watcher.goto(url)
    await expect.poll(() => watcher.getByText('Results update live.').isVisible()).toBe(true)
    // Keep every state the live note passes through, however briefly.
    await watcher.evaluate(() => {
      const page = globalThis as unknown as { document: { querySelector: (s: string) => { textContent: string } }, liveNotes: string[], MutationObserver: new (cb: () => void) => { observe: (n: unknown, o: object) => void } }
      const note = page.document.querySelector('.live-note')
      page.liveNotes = []
      new page.MutationObserver(() => page.liveNotes.push(note.textContent)).observe(note, { childList: true, characterData: true, subtree: true })
    })
    // Every replica restarts: the stream ends, and for a moment no replica answers.
    await stack(['restart', 'app'])
    await waitForHealthyReplicas(4)
    await expect.poll(() => watcher.getByText('Results update live.').isVisible(), { timeout: 30_000 }).toBe(true)
    const notes = await watcher.evaluate(() => (globalThis as unknown as { liveNotes: string[] }).liveNotes)
    expect(notes.some((note) => /interrupted/.test(note))).toBe(true)
    await owner.getByLabel('Yes').check()
    await owner.getByRole('button', { name: 'Vote' }).click()
    await expect.poll(() => resultLine(watcher, 'Yes').textContent(), { timeout: 10_000 }).toBe('1 vote, 100%')
  })

  it('lets the owner set a closing time, close and delete a poll, and log out', async () => {
    const page = await newPage()
    const username = await registerThroughPage(page)
    await page.getByRole('link', { name: 'New poll' }).click()
    await page.getByLabel('Question').fill('Closing soon?')
    await page.getByLabel('Choice 1', { exact: true }).fill('Sure')
    await page.getByLabel('Choice 2', { exact: true }).fill('Nope')
    await page.getByLabel('Closes at (optional)').fill('2099-01-01T12:00')
    await page.getByRole('button', { name: 'Create poll' }).click()
    await page.waitForURL(/\/polls\/\d+$/)
    await expect.poll(() => page.locator('.meta').first().textContent()).toMatch(/^Open until .*2099/)

    await page.getByRole('button', { name: 'Close poll' }).click()
    await expect.poll(() => page.locator('.meta').first().textContent()).toMatch(/^Closed/)
    expect(await page.getByRole('button', { name: 'Vote' }).count()).toBe(0)

    page.once('dialog', (dialog) => { void dialog.accept() })
    await page.getByRole('button', { name: 'Delete poll' }).click()
    await page.waitForURL((url) => url.pathname === '/')
    await expect.poll(() => page.getByRole('heading', { name: 'Polls', level: 1 }).isVisible()).toBe(true)
    expect(await page.getByRole('link', { name: 'Closing soon?' }).count()).toBe(0)

    await page.getByRole('button', { name: 'Log out' }).click()
    await expect.poll(() => page.getByRole('link', { name: 'Log in', exact: true }).isVisible()).toBe(true)
    expect(await page.getByText(`Signed in as ${username}`).count()).toBe(0)
  })

  it('pages through the polls, newest first', async () => {
    const page = await newPage()
    await registerThroughPage(page)
    // 21 polls through the API with the page's own session, so they are the newest.
    const questions = await page.evaluate(async () => {
      const made: string[] = []
      for (let i = 0; i < 21; i++) {
        const question = `Paging poll ${i}`
        const response = await fetch('/api/polls', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question, choices: ['a', 'b'] }) })
        if (response.status !== 201) throw new Error(`create: ${response.status}`)
        made.push(question)
      }
      return made
    })
    await page.goto('/')
    const links = page.locator('.poll-item a')
    await expect.poll(() => links.count()).toBe(20)
    expect(await links.first().textContent()).toBe(questions[20])
    await page.getByRole('button', { name: 'Show older polls' }).click()
    await expect.poll(() => links.count()).toBeGreaterThan(20)
    expect(await links.nth(20).textContent()).toBe(questions[0])
  })

  it('can be used with the keyboard alone', async () => {
    const page = await newPage()
    await registerThroughPage(page)
    const url = await createPollThroughPage(page, 'Keyboard?', ['Left', 'Right'])
    await page.goto(url)
    await page.getByLabel('Left').focus()
    await page.keyboard.press('ArrowDown')
    expect(await page.getByLabel('Right').isChecked()).toBe(true)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Vote')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByText('You have voted in this poll.').isVisible()).toBe(true)
    expect(await resultLine(page, 'Right').textContent()).toBe('1 vote, 100%')
  })

  it('has no serious or critical accessibility violations on the list, poll and login pages', async () => {
    // The page's Content Security Policy forbids inline scripts, axe's included.
    const page = await newPage(1280, { bypassCSP: true })
    for (const path of ['/', new URL(pollUrl).pathname, '/login']) {
      await page.goto(path)
      await page.waitForSelector('main:not([aria-busy])')
      await expect.poll(() => page.locator('main h1').count()).toBeGreaterThan(0)
      expect(await seriousViolations(page), path).toEqual([])
    }
  })

  it('loads a poll page with under 100 KB of compressed JavaScript and CSS, cached by content hash', async () => {
    const page = await newPage()
    const assets: Array<{ url: string, bytes: number, cacheControl: string }> = []
    page.on('response', async (response) => {
      const type = response.request().resourceType()
      if (type !== 'script' && type !== 'stylesheet') return
      const sizes = await response.request().sizes()
      assets.push({ url: response.url(), bytes: sizes.responseBodySize, cacheControl: (await response.allHeaders())['cache-control'] ?? '' })
    })
    const document = await page.goto(pollUrl, { waitUntil: 'networkidle' })
    expect(document?.headers()['cache-control']).toBe('no-cache')
    expect(assets.length).toBeGreaterThanOrEqual(2)
    const total = assets.reduce((sum, asset) => sum + asset.bytes, 0)
    expect(total).toBeLessThan(100 * 1024)
    for (const asset of assets) {
      expect(asset.url).toMatch(/\/assets\/[\w-]+-[\w-]{8}\.(js|css)$/)
      expect(asset.cacheControl).toMatch(/max-age=\d{8,}/)
    }
  })

  it('fits a phone (360 px) and a desktop (1280 px): screenshots saved as test artifacts', async () => {
    for (const width of [360, 1280]) {
      const page = await newPage(width)
      await page.goto(pollUrl)
      await expect.poll(() => page.getByText('Results update live.').isVisible()).toBe(true)
      const overflow = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number, clientWidth: number } } }).document.documentElement
        return root.scrollWidth - root.clientWidth
      })
      expect(overflow, `horizontal overflow at ${width} px`).toBeLessThanOrEqual(0)
      await page.screenshot({ path: `${ARTIFACTS}/poll-${width}.png`, fullPage: true })
    }
  })
})
