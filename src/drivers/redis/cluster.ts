/**
 * What differs on a Redis Cluster, where a script runs on the keys of one hash slot only (every
 * queue's keys share one slot; different queues usually do not):
 * - a push that spans queues is one script per queue (atomic per queue), and the set of queue
 *   names, in a slot of its own, is written apart, once per name per client;
 * - a turn is one script per queue it touches, each carrying that queue's acks, starts and
 *   give-backs; the take goes to the queues in priority order until one has jobs;
 * - an idle worker of several queues blocks on the first one only, and looks at the others at
 *   least every CLUSTER_BLOCK_MS.
 */
import type { Pushed, StoredJob, Turn, TurnResult } from '../../contract/driver.ts';

const CLUSTER_BLOCK_MS = 200;

export class ClusterPaths {
  /** Queue names this client has already added to the set of queues. */
  private readonly knownQueues = new Set<string>();

  constructor(
    private readonly addQueueNames: (queues: string[]) => Promise<unknown>,
    /** The push script on jobs of one queue: one Pushed per job, in order. */
    private readonly pushQueue: (jobs: StoredJob[]) => Promise<Pushed[]>,
    private readonly turnQueue: (turn: Turn) => Promise<TurnResult>,
  ) {}

  /** Pushes each queue's jobs apart; returns what became of every job in the caller's order. */
  async push(jobs: StoredJob[]): Promise<Pushed[]> {
    const byQueue = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      const indexes = byQueue.get(job.queue);
      if (indexes) indexes.push(i);
      else byQueue.set(job.queue, [i]);
    });
    const unknown = [...byQueue.keys()].filter((queue) => !this.knownQueues.has(queue));
    if (unknown.length > 0) {
      await this.addQueueNames(unknown);
      for (const queue of unknown) this.knownQueues.add(queue);
    }
    const pushed: Pushed[] = new Array(jobs.length);
    for (const indexes of byQueue.values()) {
      const outcomes = await this.pushQueue(indexes.map((i) => jobs[i]!));
      indexes.forEach((i, k) => (pushed[i] = outcomes[k]!));
    }
    return pushed;
  }

  async turn(turn: Turn): Promise<TurnResult> {
    const result: TurnResult = { acked: new Array(turn.acks.length), started: new Array(turn.starts.length), held: [] };
    interface Part { acks: number[]; starts: number[]; giveBacks: number[] }
    const byQueue = new Map<string, Part>();
    const part = (queue: string) => {
      let p = byQueue.get(queue);
      if (!p) byQueue.set(queue, (p = { acks: [], starts: [], giveBacks: [] }));
      return p;
    };
    turn.acks.forEach((ack, i) => part(ack.reservation.queue).acks.push(i));
    turn.starts.forEach((r, i) => part(r.queue).starts.push(i));
    turn.giveBacks.forEach((r, i) => part(r.queue).giveBacks.push(i));
    const pick = <T>(list: readonly T[], indexes: number[]) => indexes.map((i) => list[i]!);
    const run = async (queue: string, take: boolean) => {
      const p = byQueue.get(queue) ?? { acks: [], starts: [], giveBacks: [] };
      byQueue.delete(queue);
      const answer = await this.turnQueue({
        acks: pick(turn.acks, p.acks),
        starts: pick(turn.starts, p.starts),
        giveBacks: pick(turn.giveBacks, p.giveBacks),
        queues: take ? [queue] : [],
        options: turn.options,
      });
      p.acks.forEach((i, k) => (result.acked[i] = answer.acked[k]!));
      p.starts.forEach((i, k) => (result.started[i] = answer.started[k]!));
      return answer.held;
    };
    if (turn.options.count > 0) {
      for (const queue of turn.queues) {
        result.held = await run(queue, true);
        if (result.held.length > 0) break;
      }
    }
    await Promise.all([...byQueue.keys()].map((queue) => run(queue, false)));
    return result;
  }

  /** The notify keys an idle worker blocks on, and for how long at most. */
  static blocking(notifyKeys: string[], maxMs: number): { keys: string[]; ms: number } {
    return notifyKeys.length > 1 ? { keys: notifyKeys.slice(0, 1), ms: Math.min(maxMs, CLUSTER_BLOCK_MS) } : { keys: notifyKeys, ms: maxMs };
  }
}
