import type { BrowserContext, Page } from 'playwright-core'

/** What went wrong in a test's pages, collected from the moment each page opened. */
export interface PageProblems {
  /** Uncaught page errors and CSP refusals: a test expects none. */
  problems: string[]
  /** Everything else a page logged as a console error (a failed request logs one too: expected while offline). */
  consoleErrors: string[]
}

/** Collects the problems of every page `context` has and will open into `into`. */
export function collectProblems(context: BrowserContext, into: PageProblems): void {
  const watch = (page: Page) => {
    page.on('pageerror', (error) => into.problems.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) into.problems.push(`csp: ${message.text()}`)
      else if (message.type() === 'error') into.consoleErrors.push(`console error: ${message.text()} (${message.location().url})`)
    })
  }
  for (const page of context.pages()) watch(page)
  context.on('page', watch)
}
