/**
 * Every Redis key name comes from here. All keys of one queue carry the queue in one `{...}` hash
 * tag, so they share a hash slot and each Lua script touches one slot (Redis Cluster works).
 *
 *   <prefix>:{<queue>}:ready       list    ids ready to run, oldest first (those of priority 0)
 *   <prefix>:{<queue>}:ready:<p>   list    the same for the jobs of priority <p>, not 0 (see lua/includes/priority.lua;
 *                                          named by the scripts from `ready`, in its slot)
 *   <prefix>:{<queue>}:levels      zset    <p> -> <p>: the priorities other than 0 whose ready list may hold jobs
 *   <prefix>:{<queue>}:delayed     zset    id -> when it becomes ready (ms)
 *   <prefix>:{<queue>}:reserved    zset    id -> when its lease expires (ms)
 *   <prefix>:{<queue>}:jobs        hash    id -> payload (the envelope)
 *   <prefix>:{<queue>}:attempts    hash    id -> reservations so far
 *   <prefix>:{<queue>}:tokens      hash    id -> token of the current lease
 *   <prefix>:{<queue>}:timeouts    hash    id -> the job's own timeout (ms), if it declares one
 *   <prefix>:{<queue>}:started     hash    id -> when its current try started (ms), once a try is counted
 *   <prefix>:{<queue>}:progress    hash    id -> what the job last reported with ctx.progress() (encoded JSON)
 *   <prefix>:{<queue>}:cancels     hash    id -> "<requested at ms>:<keep ms>:<most kept>": the cancel of a job
 *                                          that was running when asked (see cancel.lua); the job's own
 *                                          state, where `signals` only carries the notice to workers
 *   <prefix>:{<queue>}:ranks       hash    id -> its priority, for a stored job of a priority other than 0 that is
 *                                          delayed or was taken, so that it goes back to its priority's list
 *                                          (not to `ready`) when it comes due, is released or given back, or
 *                                          its lease runs out
 *   <prefix>:{<queue>}:prioritized zset    a release before this one's ready jobs of a priority, by place (see
 *   <prefix>:{<queue>}:priorities  hash      lua/includes/priority.lua), and their places: read until the next
 *                                            take moves them to the lists; `sequence` (string) was its FIFO number
 *   <prefix>:{<queue>}:deadlines   zset    id -> when it expires (ms), for jobs with an expiry whose try has
 *                                          not started (a start takes it out: it can no longer expire)
 *   <prefix>:{<queue>}:unique      hash    unique key -> "<lapses at ms, or nothing>:<holder id>"
 *   <prefix>:{<queue>}:holds       hash    id -> "<s or d><unique key>": the key a job holds, let go of when
 *                                          its try starts (s) or when it is done (d)
 *   <prefix>:{<queue>}:done        hash    id -> record (JSON) of a finished job that is not a failure
 *   <prefix>:{<queue>}:completed   zset    id -> when it finished (ms): the completed records, and the
 *   <prefix>:{<queue>}:cancelled   zset      same for cancelled and expired ones (one zset per state,
 *   <prefix>:{<queue>}:expired     zset      for listing newest first and the count kept per queue;
 *                                            `expired` are jobs not started before their deadline)
 *   <prefix>:{<queue>}:expires     zset    id -> when its record's keep runs out (ms), for every record in `done`
 *   <prefix>:{<queue>}:failed      hash    record id -> failed record (JSON)
 *   <prefix>:{<queue>}:failed_at   zset    record id -> when it failed (ms)
 *   <prefix>:{<queue>}:notify      list    wake-up markers for blocked workers
 *   <prefix>:{<queue>}:schedules   hash    schedule name -> "<last occurrence ms>:<fired at ms or nothing>": the
 *                                          cursor of each schedule whose jobs go to this queue (schedule.lua
 *                                          moves it with the occurrence's push, in the queue's slot)
 *   <prefix>:{<queue>}:metrics     hash    metric field (metrics.ts names them) -> the queue's all-time total
 *   <prefix>:{<queue>}:metrics:<hour>  hash  "<minute of the hour, 0-59>:<field>" -> count, for the hour that
 *                                          starts at <hour> ms; expires METRIC_KEEP_MS after the hour's end
 *   <prefix>:{<queue>}:took:<client>  string  a client's last take, for a re-sent turn (expires with the hold)
 *   <prefix>:{<queue>}:once:<call>    string  the reply of one clear, retry, flush, cancel or clean, for a re-sent call (1 h)
 *   <prefix>:{<queue>}:metrics_seen:<worker>  string  the seq of that worker's last beat whose counts were added
 *                                          to this queue, so a re-sent beat adds nothing (1 h)
 *   <prefix>:queues                set     every queue name ever pushed to
 *   <prefix>:signals               hash    restart -> ms; paused:<queue> -> ms; cancel:<id> -> ms (the
 *                                          requested at of the job's `cancels` entry)
 *   <prefix>:{schedules}:definitions  hash  schedule name -> definition (JSON) of a schedule added at run time
 *   <prefix>:{schedules}:paused       set   names of paused schedules
 *   <prefix>:{workers}:beats       hash    worker id -> "<seq>:<beat at ms>:<expires at ms>:<the beat as JSON>"
 *                                          (by Redis's clock), of the workers listed and those not yet dropped
 *   <prefix>:{workers}:leases      zset    worker id -> when its lease runs out (ms): the next beat drops it then
 *   <prefix>:{workers}:metric_queues  set  every queue name that has metrics (added with the beat that counts them)
 *   <prefix>:finished              channel (pub/sub, not a key) a JSON array of the ids of jobs that
 *                                          completed with a record, failed, were cancelled or expired
 *
 * Keys added by a later release start empty, so what an earlier one stored keeps working as it is.
 *
 * In the tag, '%', '{' and '}' of a queue name are written %25, %7B and %7D, so any name (even one
 * starting with '}') keeps all of its keys in one slot.
 */
export class RedisKeys {
  /** Built once per queue name: a busy worker asks for the same keys on every turn. */
  private readonly byQueue = new Map<string, QueueKeys>();

  constructor(readonly prefix: string) {}

  queue(name: string): QueueKeys {
    let keys = this.byQueue.get(name);
    if (!keys) {
      keys = this.build(name);
      this.byQueue.set(name, keys);
    }
    return keys;
  }

  private build(name: string) {
    const base = `${this.prefix}:{${name.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}}`;
    return {
      took: (client: string) => `${base}:took:${client}`,
      once: (call: string) => `${base}:once:${call}`,
      metricsHour: (hourStart: number) => `${base}:metrics:${hourStart}`,
      metricsSeen: (worker: string) => `${base}:metrics_seen:${worker}`,
      ready: `${base}:ready`,
      levels: `${base}:levels`,
      ranks: `${base}:ranks`,
      prioritized: `${base}:prioritized`,
      priorities: `${base}:priorities`,
      deadlines: `${base}:deadlines`,
      unique: `${base}:unique`,
      holds: `${base}:holds`,
      delayed: `${base}:delayed`,
      reserved: `${base}:reserved`,
      jobs: `${base}:jobs`,
      attempts: `${base}:attempts`,
      tokens: `${base}:tokens`,
      timeouts: `${base}:timeouts`,
      started: `${base}:started`,
      progress: `${base}:progress`,
      cancels: `${base}:cancels`,
      done: `${base}:done`,
      completed: `${base}:completed`,
      cancelled: `${base}:cancelled`,
      expired: `${base}:expired`,
      expires: `${base}:expires`,
      failed: `${base}:failed`,
      failedAt: `${base}:failed_at`,
      notify: `${base}:notify`,
      schedules: `${base}:schedules`,
      metrics: `${base}:metrics`,
    };
  }

  get queues(): string {
    return `${this.prefix}:queues`;
  }

  get signals(): string {
    return `${this.prefix}:signals`;
  }

  /** Schedules added at run time, and the paused ones: two keys in one slot of their own. */
  get scheduleDefinitions(): string {
    return `${this.prefix}:{schedules}:definitions`;
  }

  get pausedSchedules(): string {
    return `${this.prefix}:{schedules}:paused`;
  }

  /** Workers' heartbeats, and the names of the queues with metrics: three keys in one slot of their own. */
  get workerBeats(): string {
    return `${this.prefix}:{workers}:beats`;
  }

  get workerLeases(): string {
    return `${this.prefix}:{workers}:leases`;
  }

  get metricQueues(): string {
    return `${this.prefix}:{workers}:metric_queues`;
  }

  /** The pub/sub channel of finish notices: PUBLISH ignores the database number, so it is named by the prefix alone. */
  get finished(): string {
    return `${this.prefix}:finished`;
  }
}

export type QueueKeys = ReturnType<RedisKeys['build']>;

/** The name of one of a queue's fixed keys (not a `took`, `once` or metrics key named per call). */
export type QueueKeyName = Exclude<keyof QueueKeys, 'took' | 'once' | 'metricsHour' | 'metricsSeen'>;

/** Per queue's keys and list of names: the keys, built once (a busy worker sends the same ones every turn). */
const listed = new WeakMap<QueueKeys, Map<readonly QueueKeyName[], readonly string[]>>();

/**
 * A queue's keys in the order of `names` (a list of script-keys.ts): the script that takes them
 * declares the same list and reads them back by name (lua/includes/queue_keys.lua), so no script
 * counts its way through KEYS.
 */
export function keyList(k: QueueKeys, names: readonly QueueKeyName[]): readonly string[] {
  let byNames = listed.get(k);
  if (!byNames) listed.set(k, (byNames = new Map()));
  let keys = byNames.get(names);
  if (!keys) byNames.set(names, (keys = names.map((name) => k[name])));
  return keys;
}
