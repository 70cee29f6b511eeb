import { resolveConfig } from '../../server/config.js'
import type { EventsRepair } from '../../server/events/index.js'
import type { CommonFlags } from '../main.js'
import { render } from '../output.js'

const human = (r: EventsRepair): string =>
  [
    r.removedLines === 0
      ? 'No line with an impossible id.'
      : `Took out ${r.removedLines} line(s) with an impossible id; they are kept in events.removed.jsonl.`,
    r.seq.before === r.seq.after ? `events.seq is right (${r.seq.after}).` : `events.seq: ${r.seq.before} -> ${r.seq.after}.`,
    r.stateReset ? 'The server\'s record of handled events held an impossible id: reset to the files\'.' : '',
    '',
  ]
    .filter((line, i, all) => line !== '' || i === all.length - 1)
    .join('\n')

/** `handoff events repair`: safe to run any time, also while the server runs (it takes the event log's lock). */
export async function repair(flags: CommonFlags): Promise<void> {
  const { home } = resolveConfig(flags)
  const { repairEvents } = await import('../../server/events/repair.js')
  render(await repairEvents(home), flags.json, human)
}
