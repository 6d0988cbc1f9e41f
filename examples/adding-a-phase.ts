/**
 * Guide docs/adding-a-phase.md, the part a host can do today without changing the library:
 * its own named pipelines over the existing phases, and an admission hook, in a batch machine
 * built with `createBatchMachine` and registered in a custom machine registry.
 * Run it with `npx tsx examples/adding-a-phase.ts`; test/examples-guides.test.ts runs it too.
 */
import { randomUUID } from 'node:crypto';
import {
  batchLifecycleOf,
  createBatchMachine,
  DEFAULT_PIPELINES,
  defaultMachines,
  LifecycleEngine,
  LifecycleEvents,
  PIPELINE_PHASES,
  type AdmissionPolicy,
  type BatchMachineOptions,
  type MachineRegistry,
  type PipelineDefinitions,
} from 'essay-lifecycle-statecharts';
import { createMemoryStore } from 'essay-lifecycle-statecharts/memory';

/**
 * Named pipelines: the reference's four plus two of ours. Each is an ordered list of
 * PIPELINE_PHASES (dependencies first); phases that already completed for a batch are pruned
 * when the pipeline runs (PhaseSkippedV1), and spellcheck must come first until it has run.
 */
export const PIPELINES: PipelineDefinitions = {
  ...DEFAULT_PIPELINES,
  quick_feedback: ['spellcheck', 'ai_feedback'],
  ranking_only: ['spellcheck', 'cj_assessment'],
};

/** Organisations on the free plan (configuration: keep it stable, see below). */
const FREE_PLAN_ORGS: ReadonlySet<string> = new Set(['trial-school']);
const FREE_PLAN_COMPARISONS = 45; // CJ of at most 10 essays

/**
 * The admission hook: runs INSIDE the machine, for every pipeline request, also when history is
 * replayed or an entity rebuilt. So it must be pure and deterministic: decide from the request
 * only (who, which phases, how many essays, the estimated cost), never from a database or the
 * clock. Credits that live elsewhere are checked before the request is sent (and the request
 * carries the result), not here.
 */
export const admission: AdmissionPolicy = (request) => {
  if (request.org_id !== null && FREE_PLAN_ORGS.has(request.org_id) && request.cost.cj_comparison > FREE_PLAN_COMPARISONS) {
    return {
      allowed: false,
      denial_reason: 'the free plan ranks at most 10 essays',
      required_credits: request.cost.cj_comparison,
      available_credits: FREE_PLAN_COMPARISONS,
      resource_breakdown: { cj_comparison: request.cost.cj_comparison },
    };
  }
  return { allowed: true };
};

/** The options and the registry: the library's machines with our batch machine in place of its own. */
export const BATCH_OPTIONS: BatchMachineOptions = { pipelines: PIPELINES, admission };
export function machines(): MachineRegistry {
  return { ...defaultMachines(), batch: batchLifecycleOf(createBatchMachine(BATCH_OPTIONS), BATCH_OPTIONS) };
}

const envelope = (event_type: string, data: Record<string, unknown>) => ({
  event_id: randomUUID(),
  event_type,
  event_timestamp: new Date().toISOString(),
  source_service: 'my-app',
  correlation_id: randomUUID(),
  data,
});

/** A ready GUEST batch of `count` essays for `org`. */
async function readyBatch(engine: LifecycleEngine, id: string, org: string, count: number): Promise<void> {
  const essays = Array.from({ length: count }, (_, i) => `${id}-essay-${i}`);
  await engine.dispatch(envelope(LifecycleEvents.BatchEssaysRegistered.topic, {
    entity_id: id, expected_essay_count: count, essay_ids: essays, course_code: 'ENG5', user_id: 'teacher-1', org_id: org, student_prompt_ref: 'prompt-1',
  }));
  await engine.dispatchMany(essays.map((_, i) => envelope('huleedu.file.essay.content.provisioned.v1', {
    entity_id: id, file_upload_id: `${id}-upload-${i}`, original_file_name: `${i}.docx`, raw_file_storage_id: `${id}-raw-${i}`, text_storage_id: `${id}-text-${i}`, file_size_bytes: 100,
  })));
}

/** Runs our `quick_feedback` pipeline, and a `ranking_only` request the admission hook denies. */
export async function main(): Promise<Record<string, unknown>> {
  const store = createMemoryStore();
  const engine = new LifecycleEngine({ store, machines: machines() });

  await readyBatch(engine, 'batch-quick', 'school-a', 3);
  const quick = await engine.dispatch(envelope('huleedu.commands.batch.pipeline.v1', { batch_id: 'batch-quick', requested_pipeline: 'quick_feedback', user_id: 'teacher-1' }));

  await readyBatch(engine, 'batch-big', 'trial-school', 12);
  const denied = await engine.dispatch(envelope('huleedu.commands.batch.pipeline.v1', { batch_id: 'batch-big', requested_pipeline: 'ranking_only', user_id: 'teacher-1' }));
  const unknown = await engine.dispatch(envelope('huleedu.commands.batch.pipeline.v1', { batch_id: 'batch-big', requested_pipeline: 'grammar', user_id: 'teacher-1' }));

  const outbox = await store.pendingOutbox(1000);
  const deniedMessage = outbox.find((row) => row.event_type === LifecycleEvents.PipelineDeniedV1.topic);
  await store.close();
  return {
    phases: PIPELINE_PHASES,
    quick: `${quick.outcome} ${quick.from ?? ''} -> ${quick.to ?? ''}`,
    quickCommands: quick.emitted.filter((e) => e.event_type.endsWith('.initiate.command.v1')).map((e) => e.event_type),
    denied: `${denied.outcome} ${denied.from ?? ''} -> ${denied.to ?? ''}`,
    deniedReason: (deniedMessage?.envelope as { data?: { denial_reason?: string } } | undefined)?.data?.denial_reason,
    unknown: `${unknown.outcome}: ${unknown.reason ?? ''}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
