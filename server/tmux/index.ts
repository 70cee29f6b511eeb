export { Tmux } from './tmux.js'
export type { Session, Snapshot, Window, TmuxVersions } from './tmux.js'
export { checkNewName, cleanTitle, NEW_NAME_PATTERN, parseWindowIndex } from './names.js'
export { tmuxEnv } from './run.js'
