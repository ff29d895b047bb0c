/**
 * What every command shares: the project's QueueManager, opened on first use and closed when the
 * command ends. Commands stay thin: flags in, one library call, results out.
 */
import type { Logger } from 'pino';
import { projectRoot } from '../env.ts';
import { useQueueManager } from '../queue/dispatch.ts';
import { QueueManager } from '../queue/manager.ts';

export class CliApp {
  private manager: Promise<QueueManager> | undefined;
  logger: Logger | undefined;
  readonly root = projectRoot();

  /**
   * `takeEarlySignals`: stop signals the binary noted before the worker listened for them (and stops
   * noting); `queue work` replays them once its own handlers are in place.
   */
  constructor(readonly takeEarlySignals: () => NodeJS.Signals[] = () => []) {}

  queue(): Promise<QueueManager> {
    this.manager ??= QueueManager.fromProject(this.root, this.logger).then((manager) => {
      useQueueManager(manager);
      return manager;
    });
    return this.manager;
  }

  async close(): Promise<void> {
    const opening = this.manager;
    this.manager = undefined;
    if (opening) await (await opening.catch(() => undefined))?.close();
  }
}
