import Noop from './Noop.ts';

/** The benchmark's job as a unique job (`--jobs unique`): each holds a key of its own, so none is a duplicate. */
export default class UniqueNoop extends Noop {
  static unique = { key: (job: UniqueNoop) => String(job.i) };
}
