// Types only: nothing here exists at run time (docs/protocol.md).
export type * from './api.js'
export type * from './push.js'
export type * from './terminal.js'
