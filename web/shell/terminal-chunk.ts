// The lazily loaded part of the app: xterm.js, its addons and stylesheet, and
// the terminal screen. Only lazy-terminal.ts imports this, and only dynamically.
import '@xterm/xterm/css/xterm.css'

export { mountTerminalScreen } from '../terminal-view.js'
