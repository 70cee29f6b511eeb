// Writes Handoff's state files as fast as it can, as the server and the CLI
// do (pairing and `devices edit` through updateDevices, push subscriptions,
// events, audit lines), until it is killed. Usage: node crash-writer.js <home>.
// Each JSON file only ever moves between two known contents (crash.ts checks
// the file holds one of them whole); logs only grow.
import { appendEvent } from '../server/events/index.js'
import { updateSubscriptions } from '../server/events/push/subscriptions.js'
import { appendAudit, updateDevices } from '../server/store/index.js'
import { CRASH_DEVICES, CRASH_SUBSCRIPTIONS } from './crash-states.js'

const home = process.argv[2]
if (!home) {
  process.stderr.write('usage: crash-writer.js <home>\n')
  process.exit(2)
}

let turn = 0
process.stdout.write('ready\n')
for (;;) {
  const which = turn++ % 2
  // A pairing or an edit: devices.json goes from one whole content to the other.
  await updateDevices(home, () => CRASH_DEVICES[which]!)
  // A phone subscribing or unsubscribing: push.json likewise.
  await updateSubscriptions(home, () => [...CRASH_SUBSCRIPTIONS[which]!])
  await appendEvent(home, { type: 'stop', message: `turn ${turn}` })
  await appendAudit(home, { deviceId: null, deviceName: null, action: 'edit', target: `turn ${turn}`, result: 'allow', reason: null, peer: null, node: null })
}
