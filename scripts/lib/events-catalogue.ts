/**
 * docs/events.md, generated from the event declarations and the machines: every topic, its
 * sender class, the field naming its batch, its payload fields, and the machine, event type and
 * states that accept it. `npm run docs:events` writes it; a test fails when it is stale.
 */
import { z } from 'zod';
import { defaultMachines } from '../../adapters/engine/registry.js';
import type { EventTarget, MachineId, SenderClass } from '../../machines/contracts/declaration.js';
import { LifecycleEvents, type EventName } from '../../machines/contracts/events.js';
import { acceptingStates } from '../../machines/explain.js';

type Definition = (typeof LifecycleEvents)[EventName];
type Target = EventTarget<unknown, MachineId, string, unknown>;

const SENDERS = {
  client_command: 'a user, for their own batch (or a service relaying the user\'s command)',
  service_result: 'a downstream service (service principals only)',
  internal: 'the engine\'s own machines only; refused from outside on every input',
  outbound: 'the engine\'s own machines, for services outside it; it drives no machine of the engine, HTTP refuses it, and a copy read back from a queue is recorded and changes nothing',
} as const satisfies Record<SenderClass, string>;

function fieldsOf(schema: z.ZodType): string {
  if (!(schema instanceof z.ZodObject)) return '(see the schema)';
  const shape = schema.shape as Record<string, z.ZodType>;
  return Object.entries(shape)
    .map(([name, field]) => (field.safeParse(undefined).success ? `\`${name}\`?` : `\`${name}\``))
    .join(', ');
}

function targetLine(target: Target): string {
  const logic = defaultMachines()[target.machine]?.logic;
  const types = target.types.length > 4 ? `${target.types.slice(0, 3).join(', ')} ... (${target.types.length} triggers, from \`data.trigger\`)` : target.types.join(' / ');
  const states = target.create === 'from_event_only' || logic === undefined ? [] : [...new Set(target.types.flatMap((type) => acceptingStates(logic, type)))];
  const creates = target.create === undefined ? '' : ` (creates it when missing: ${target.create})`;
  const accepted = states.length === 0 ? '' : `; accepted in ${states.map((state) => `\`${state}\``).join(', ')}`;
  return `- \`${target.machine}\` \`data.${String(target.entity)}\`: ${types}${creates}${accepted}`;
}

/** Where a message the engine emits and applies itself is kept (docs/storage-layout.md). */
function storedLine(definition: Definition): string {
  return definition.alsoOutside
    ? 'Also for outside services (`alsoOutside`): written to the outbox as well as applied.'
    : 'Applied by the engine only: kept in the audit log, not in the outbox (unless `outboxInternal`).';
}

function section(definition: Definition): string {
  const targets = definition.targets as readonly Target[];
  return [
    `### \`${definition.topic}\``,
    '',
    `${definition.name}. Batch: \`data.${definition.batch}\`. Sender: **${definition.sender}**, ${SENDERS[definition.sender]}.`,
    '',
    `Payload: ${fieldsOf(definition.data)}.`,
    '',
    targets.length === 0 ? 'Drives no machine of the engine (for outside services and observers).' : ['Drives:', ...targets.map(targetLine)].join('\n'),
    '',
    ...(targets.length > 0 && definition.sender === 'internal' ? [storedLine(definition), ''] : []),
  ].join('\n');
}

const HEADER = `# Events catalogue

Generated from the event declarations (\`machines/contracts/events-*.ts\`) by \`npm run docs:events\`;
\`npm test\` fails when this file is stale. Do not edit by hand.

## Wire vocabulary

Every event is one envelope: \`event_id\` (uuid), \`event_type\` (the topic below), \`event_timestamp\`
(ISO-8601 with offset), \`source_service\`, \`schema_version\` (1, optional), \`correlation_id\` (uuid,
propagated into everything the event causes), \`data\`, \`metadata\`?. Build one with
\`envelope(topic, data)\` from the package root: the payload is typed by topic.

Which \`data\` field names the batch differs by event, as in the reference: registration, content
and the phase commands use \`data.entity_id\`, commands and most results use \`data.batch_id\`, a
per-essay spellcheck request \`data.parent_id\`. Each section below says which. The engine
confines every event to that batch: an event for one batch that would reach an entity of another
(an essay named by id, say) is refused whole with \`OUTSIDE_BATCH\` and audited.

Sender classes: ${Object.entries(SENDERS)
  .map(([name, meaning]) => `**${name}**: ${meaning}`)
  .join('; ')}.

## Events
`;

/** The catalogue's Markdown. */
export function renderEventsCatalogue(): string {
  const definitions = Object.values(LifecycleEvents).sort((a, b) => a.topic.localeCompare(b.topic));
  return `${HEADER}\n${definitions.map(section).join('\n')}`;
}
