export { PANE_ID_PATTERN, paneLocation, socketPathFromTmuxEnv, Tmux } from './tmux.js'
export type { PaneLocation, Session, Snapshot, Window, TmuxVersions } from './tmux.js'
export { checkNewName, cleanTitle, NEW_NAME_PATTERN, parseWindowIndex } from './names.js'
export { tmuxEnv } from './run.js'
