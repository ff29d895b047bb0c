/** Options of dispatch() and Queue.push/later/bulk. */
export interface DispatchOptions {
  /** Overrides the class's `static queue`. */
  queue?: string;
  /** Overrides the class's `static connection` and the configured default. */
  connection?: string;
  /** Seconds from now, or the moment the job becomes available. */
  delay?: number | Date;
}
