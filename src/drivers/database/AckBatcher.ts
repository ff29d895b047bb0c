/**
 * Group commit for acknowledgements. The first ack is sent at once; acks that arrive while it is in
 * flight wait and go together in the next statement. One worker running 50 jobs at once thus pays
 * for a handful of commits (each a disk flush on MariaDB) instead of fifty, and a lone ack is never
 * held back.
 */
import type { DoneRow } from './dialects/dialect.ts';

interface Pending {
  row: DoneRow;
  resolve: (acked: boolean) => void;
  reject: (error: unknown) => void;
}

export class AckBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  private whenIdle: Promise<void> = Promise.resolve();
  private becameIdle: () => void = () => {};

  constructor(
    private readonly deleteOwned: (rows: DoneRow[]) => Promise<Set<number>>,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves true when the row was deleted, false when its lease was no longer ours. */
  ack(row: DoneRow): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        this.whenIdle = new Promise((resolve) => (this.becameIdle = resolve));
        // Acks made in the same tick go in the first batch too.
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const deleted = await this.deleteOwned(batch.map((p) => p.row));
        for (const p of batch) p.resolve(deleted.has(p.row.id));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.flushing = false;
    this.becameIdle();
  }

  /** Whether acks are waiting or being committed. */
  get busy(): boolean {
    return this.flushing;
  }

  /** Resolves once every ack made so far is committed (or failed). */
  idle(): Promise<void> {
    return this.whenIdle;
  }
}
