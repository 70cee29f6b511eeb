import '../style.css'
import './home.css'
import { h } from '../dom.js'
import { bridgePlugin, type BridgePlugin, type BridgeStatus } from './bridge.js'
import { DEFAULT_PORT, loadSaved, mergeComputers, parseComputerAddress, remember, type HomeComputer } from './computers.js'

/*
 * The native shells' home screen (docs/native-shells.md): this phone's
 * tailnet node, and every computer it can open, the ones opened before and
 * the ones the tailnet has running Handoff now. Tapping one opens it in the
 * web view through the node's proxy; the computer's own web app takes over
 * from there (pairing, sign-in with the device key, terminals).
 */

const DISCOVER_TIMEOUT_MS = 3_000
/** While the node starts (or waits for its login), its state is asked this often. */
const STATUS_POLL_MS = 1_000

const root = document.getElementById('home') as HTMLElement

function statusLine(status: BridgeStatus | undefined): Node {
  if (!status) return h('p', { class: 'home-status', 'data-testid': 'bridge-status', 'data-state': 'unknown' }, 'Starting this phone’s tailnet node…')
  if (status.LoginURL) {
    return h(
      'p',
      { class: 'home-status', 'data-testid': 'bridge-status', 'data-state': status.State },
      'Log this phone in to your tailnet: ',
      h('a', { href: status.LoginURL, 'data-testid': 'bridge-login' }, 'log in'),
    )
  }
  const text = status.Running ? `${status.Name} on ${status.Tailnet}` : `Tailnet: ${status.State}`
  return h('p', { class: 'home-status', 'data-testid': 'bridge-status', 'data-state': status.State }, text)
}

function computerRow(computer: HomeComputer, bridge: BridgePlugin): HTMLElement {
  const badges = [
    computer.online ? h('span', { class: 'badge' }, 'online') : h('span', { class: 'badge readonly' }, 'not found now'),
    ...(computer.added ? [] : [h('span', { class: 'badge unseen' }, 'new')]),
  ]
  const button = h(
    'button',
    { type: 'button', class: 'session', 'data-testid': `computer-${computer.name}`, 'data-url': computer.url },
    h('span', { class: 'name' }, computer.name),
    h('span', { class: 'meta' }, new URL(computer.url).port === String(DEFAULT_PORT) ? '' : `port ${new URL(computer.url).port}`),
    ...badges,
  )
  button.addEventListener('click', () => {
    remember({ name: computer.name, url: computer.url })
    void bridge.open({ url: computer.url })
  })
  return h('li', {}, button)
}

function addForm(onAdd: () => void): HTMLElement {
  const input = h('input', { type: 'text', inputmode: 'url', autocapitalize: 'off', autocomplete: 'off', spellcheck: 'false', placeholder: 'laptop.tail1234.ts.net', 'data-testid': 'add-computer', 'aria-label': 'A computer’s name' })
  const problem = h('p', { class: 'home-problem', 'data-testid': 'add-problem', hidden: true })
  const form = h('form', { class: 'home-add' }, input, h('button', { type: 'submit', class: 'primary' }, 'Add'), problem)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const parsed = parseComputerAddress(input.value)
    problem.hidden = parsed.ok
    if (!parsed.ok) {
      problem.textContent = parsed.reason
      return
    }
    remember(parsed.computer)
    input.value = ''
    onAdd()
  })
  return form
}

/** The node's settings: a self-hosted control server and an auth key, for tailnets that are not on Tailscale's. */
function nodeForm(bridge: BridgePlugin, onStarted: () => void): HTMLElement {
  const hostname = h('input', { type: 'text', autocapitalize: 'off', autocomplete: 'off', spellcheck: 'false', placeholder: 'this phone’s name on the tailnet', 'aria-label': 'This phone’s name on the tailnet', 'data-testid': 'node-hostname' })
  const controlURL = h('input', { type: 'url', autocapitalize: 'off', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://headscale.example (empty: Tailscale’s)', 'aria-label': 'Control server', 'data-testid': 'node-control' })
  const authKey = h('input', { type: 'password', autocomplete: 'off', placeholder: 'auth key (optional)', 'aria-label': 'Auth key', 'data-testid': 'node-auth-key' })
  const problem = h('p', { class: 'home-problem', 'data-testid': 'node-problem', hidden: true })
  const form = h('form', { class: 'home-add' }, hostname, controlURL, authKey, h('button', { type: 'submit', class: 'primary' }, 'Start'), problem)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    problem.hidden = true
    const options = { hostname: hostname.value.trim(), ...(controlURL.value.trim() ? { controlURL: controlURL.value.trim() } : {}), ...(authKey.value ? { authKey: authKey.value } : {}) }
    bridge.start(options).then(onStarted, (err: unknown) => {
      problem.hidden = false
      problem.textContent = err instanceof Error ? err.message : String(err)
    })
  })
  return h('details', { class: 'home-node' }, h('summary', {}, 'This phone on the tailnet'), form)
}

/**
 * The home screen: a status line, the computers, and the two forms. Only the
 * status line and the list change afterwards (the forms keep what is typed):
 * the status every second until the node runs, then the list, which Refresh
 * and Add fill again.
 */
function mount(bridge: BridgePlugin): void {
  const status = h('div', {}, statusLine(undefined))
  const list = h('div', {})
  let polling: ReturnType<typeof setTimeout> | undefined

  const showComputers = async (running: boolean) => {
    const found = running ? await bridge.discover({ port: DEFAULT_PORT, timeoutMillis: DISCOVER_TIMEOUT_MS }).then((r) => r.computers).catch(() => []) : []
    const computers = mergeComputers(loadSaved(), found)
    list.replaceChildren(
      computers.length
        ? h('ul', { class: 'sessions', 'data-testid': 'computers' }, ...computers.map((c) => computerRow(c, bridge)))
        : h('p', { class: 'home-empty', 'data-testid': 'no-computers' }, 'No computer yet. On your computer run handoff serve, then Refresh, or add its name below.'),
    )
  }
  const watchStatus = async () => {
    clearTimeout(polling)
    const now = await bridge.status().catch(() => undefined)
    status.replaceChildren(statusLine(now))
    await showComputers(now?.Running === true)
    // Starting, or waiting for the user's login: look again shortly.
    if (!now?.Running) polling = setTimeout(() => void watchStatus(), STATUS_POLL_MS)
  }

  const refresh = h('button', { type: 'button', 'data-testid': 'refresh' }, 'Refresh')
  refresh.addEventListener('click', () => void watchStatus())
  root.replaceChildren(
    h('header', { class: 'app-bar' }, h('h1', {}, 'Handoff'), h('span', { class: 'spacer' }), refresh),
    status,
    list,
    addForm(() => void watchStatus()),
    nodeForm(bridge, () => void watchStatus()),
  )
  void watchStatus()
}

const bridge = bridgePlugin()
if (bridge) mount(bridge)
else root.replaceChildren(h('p', { class: 'home-empty' }, 'This page is the Handoff app’s home screen; open it in the app.'))
