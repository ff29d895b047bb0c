/** What every part of the dashboard works on: one connection of the project's manager. */
import type { Driver } from '../contract/driver.ts';
import type { QueueManager } from '../queue/manager.ts';

export interface DashboardContext {
  manager: QueueManager;
  driver: Driver;
  /** The connection's name in config/queue.ts. */
  connection: string;
  /** `sqlite`, `mysql`, `postgres` or `redis`: shown in the page's header. */
  backend: string;
  /** --read-only: the page shows no action and the server refuses every one. */
  readOnly: boolean;
}
