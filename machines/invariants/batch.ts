/** Invariants of the batch machine: readiness, membership, runs and their completions. */
import type { BatchEssay, PipelineRun } from '../batch/context.js';
import type { PipelineExecutionStatus } from '../contracts/statuses.js';
import { memoByPair } from '../memo.js';
import { trackerOf } from './tracker-view.js';
import { associationsOf, batchOf, BATCH_READY_STATUSES, essaysOf } from './views.js';
import { emittedOf, firstProblem, type Invariant } from './world.js';

const PIPELINE_COMPLETED = 'huleedu.batch.pipeline.completed.v1';
const PHASE_COMMANDS = new Set([
  'huleedu.els.spellcheck.initiate.command.v1',
  'huleedu.batch.nlp.initiate.command.v2',
  'huleedu.batch.cj_assessment.initiate.command.v1',
  'huleedu.batch.ai_feedback.initiate.command.v1',
]);

/** Ready (or later) implies content provisioned and, for REGULAR, associations settled. */
export const readyImpliesSettled: Invariant = {
  name: 'batch.ready_implies_content_and_associations',
  description: 'a batch ready for (or running) pipelines has essays, a tracker past content provisioning and, when REGULAR, confirmed associations and ready essays',
  check: (world) => {
    const batch = batchOf(world);
    if (batch === undefined || !BATCH_READY_STATUSES.has(batch.status)) return undefined;
    const { context } = batch;
    if (context.essays.length === 0) return `batch "${world.batch_id}" is ${batch.status} with no essay`;
    const tracker = trackerOf(world);
    if (tracker !== undefined && tracker.status !== 'content_provisioned') return `batch "${world.batch_id}" is ${batch.status} while its tracker is ${tracker.status}`;
    if (context.class_type !== 'REGULAR') return undefined;
    if (context.associations === null || !context.essays_ready) return `REGULAR batch "${world.batch_id}" is ${batch.status} without confirmed associations and ready essays`;
    const associations = associationsOf(world);
    if (associations !== undefined && associations.status === 'pending_validation') return `batch "${world.batch_id}" is ${batch.status} while its associations are pending`;
    return undefined;
  },
};

/** The batch's essays are the tracker's assigned essays of this batch. */
export const batchEssaysBelongToBatch: Invariant = {
  name: 'batch.essays_belong_to_batch',
  description: "every essay the batch knows is an assigned slot of its tracker and, where the essay is at hand, an essay of this batch",
  check: (world) => {
    const batch = batchOf(world);
    if (batch === undefined) return undefined;
    const tracker = trackerOf(world);
    if (batch.context.essays.length === 0) return undefined;
    const unassigned = tracker?.registered === true ? firstUnassigned(batch.context.essays, tracker.assignedIds()) : undefined;
    if (unassigned !== undefined) return `batch "${world.batch_id}" lists essay "${unassigned}", which is not an assigned slot of its tracker`;
    if (!world.allEssays) return undefined;
    const essays = new Set(essaysOf(world).map((essay) => essay.entity_id));
    const missing = batch.context.essays.find(({ essay_id }) => !essays.has(essay_id));
    return missing === undefined ? undefined : `batch "${world.batch_id}" lists essay "${missing.essay_id}", which does not exist`;
  },
};

/** The first of the batch's essays that is not an assigned slot (remembered per essay list and slot list). */
const firstUnassigned = memoByPair((essays: readonly BatchEssay[], assigned: ReadonlySet<string>) => essays.find(({ essay_id }) => !assigned.has(essay_id))?.essay_id);

/** The first failed essay among those in flight (remembered per essay list and run). */
const failedInFlight = memoByPair((essays: readonly BatchEssay[], run: PipelineRun) => {
  const failed = new Set(essays.filter((essay) => essay.failed_phase !== null).map((essay) => essay.essay_id));
  return run.current_essay_ids.find((id) => failed.has(id));
});

/** No essay that failed a phase is among the essays of the phase in flight. */
export const failedEssaysNotInFlight: Invariant = {
  name: 'batch.failed_essays_not_in_flight',
  description: 'no essay the batch recorded as failed is commanded into the phase in flight',
  check: (world) => {
    const batch = batchOf(world);
    const run = batch?.context.run;
    if (batch === undefined || run === null || run === undefined) return undefined;
    const stray = failedInFlight(batch.context.essays, run);
    return stray === undefined ? undefined : `essay "${stray}" failed a phase but is commanded into ${String(run.phases[run.index])} of run ${run.run_id}`;
  },
};

function finalStatusProblem(completion: Readonly<Record<string, unknown>>): string | undefined {
  const final = completion.final_status;
  const metadata = completion.metadata as { phase_status?: Record<string, PipelineExecutionStatus> } | undefined;
  const statuses = Object.values(metadata?.phase_status ?? {});
  const phaseFailed = statuses.includes('failed');
  if (statuses.includes('skipped_due_to_dependency_failure') && !phaseFailed) {
    return `run ${String(completion.run_id)} skipped phases for a failed dependency, but none of its phases failed: ${JSON.stringify(metadata?.phase_status)}`;
  }
  const failedCount = Number(completion.failed_essay_count);
  const expected = phaseFailed ? 'failed_critically' : failedCount > 0 ? 'completed_with_failures' : 'completed_successfully';
  if (final !== expected) {
    return `run ${String(completion.run_id)} completed as ${String(final)}, but its phase statuses ${JSON.stringify(metadata?.phase_status)} and ${failedCount} failed essays say ${expected}`;
  }
  return undefined;
}

/** Exactly one completion per run, with a final status its phases explain. */
export const oneCompletionPerRun: Invariant = {
  name: 'batch.one_completion_per_run',
  description: 'at most one BatchPipelineCompletedV1 per run (exactly one for each finished run), with final_status consistent with its phase statuses',
  check: (world) => {
    const completions = emittedOf(world, PIPELINE_COMPLETED);
    const seen = new Set<unknown>();
    const twice = completions.find((completion) => (seen.has(completion.run_id) ? true : (seen.add(completion.run_id), false)));
    if (twice !== undefined) return `run ${String(twice.run_id)} of batch "${world.batch_id}" completed twice`;
    const inconsistent = firstProblem(completions, finalStatusProblem);
    if (inconsistent !== undefined) return inconsistent;
    const batch = batchOf(world);
    if (!world.allEmitted || batch === undefined) return undefined;
    const finished = batch.context.run === null ? batch.context.run_count : batch.context.run_count - 1;
    return seen.size === finished ? undefined : `batch "${world.batch_id}" finished ${finished} runs but sent ${seen.size} completions`;
  },
};

/** A run's successful plus failed essays are the essays that entered its first phase. */
export const runCountsAddUp: Invariant = {
  name: 'batch.run_counts_add_up',
  description: "a run's successful_essay_count + failed_essay_count equals the essays commanded into its first phase",
  check: (world) => {
    const firstCommand = new Map<unknown, number>();
    for (const message of world.emitted) {
      if (!PHASE_COMMANDS.has(message.event_type) || firstCommand.has(message.data.run_id)) continue;
      firstCommand.set(message.data.run_id, Array.isArray(message.data.essays_to_process) ? message.data.essays_to_process.length : 0);
    }
    return firstProblem(emittedOf(world, PIPELINE_COMPLETED), (completion) => {
      const entered = firstCommand.get(completion.run_id);
      const total = Number(completion.successful_essay_count) + Number(completion.failed_essay_count);
      if (entered === undefined || total === entered) return undefined;
      return `run ${String(completion.run_id)} of batch "${world.batch_id}" reports ${total} essays, but ${entered} entered its first phase`;
    });
  },
};

/** The batch machine's invariants. */
export const BATCH_INVARIANTS: readonly Invariant[] = [readyImpliesSettled, batchEssaysBelongToBatch, failedEssaysNotInFlight, oneCompletionPerRun, runCountsAddUp];
