/**
 * Every Redis key name comes from here. All keys of one queue carry the queue in one `{...}` hash
 * tag, so they share a hash slot and each Lua script touches one slot (Redis Cluster works).
 *
 *   <prefix>:{<queue>}:ready       list    ids ready to run, oldest first
 *   <prefix>:{<queue>}:delayed     zset    id -> when it becomes ready (ms)
 *   <prefix>:{<queue>}:reserved    zset    id -> when its lease expires (ms)
 *   <prefix>:{<queue>}:jobs        hash    id -> payload (the envelope)
 *   <prefix>:{<queue>}:attempts    hash    id -> reservations so far
 *   <prefix>:{<queue>}:tokens      hash    id -> token of the current lease
 *   <prefix>:{<queue>}:timeouts    hash    id -> the job's own timeout (ms), if it declares one
 *   <prefix>:{<queue>}:failed      hash    record id -> failed record (JSON)
 *   <prefix>:{<queue>}:failed_at   zset    record id -> when it failed (ms)
 *   <prefix>:{<queue>}:notify      list    wake-up markers for blocked workers
 *   <prefix>:{<queue>}:took:<client>  string  a client's last take, for a re-sent turn (expires with the hold)
 *   <prefix>:{<queue>}:once:<call>    string  the reply of one clear, retry or flush, for a re-sent call (1 h)
 *   <prefix>:queues                set     every queue name ever pushed to
 *   <prefix>:signals               hash    restart -> ms; paused:<queue> -> ms
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
      ready: `${base}:ready`,
      delayed: `${base}:delayed`,
      reserved: `${base}:reserved`,
      jobs: `${base}:jobs`,
      attempts: `${base}:attempts`,
      tokens: `${base}:tokens`,
      timeouts: `${base}:timeouts`,
      failed: `${base}:failed`,
      failedAt: `${base}:failed_at`,
      notify: `${base}:notify`,
    };
  }

  get queues(): string {
    return `${this.prefix}:queues`;
  }

  get signals(): string {
    return `${this.prefix}:signals`;
  }
}

export type QueueKeys = ReturnType<RedisKeys['build']>;
