export { auditPeer, authorize, grantOf, recheck } from './access.js'
export type { Allowed, Peer } from './access.js'
