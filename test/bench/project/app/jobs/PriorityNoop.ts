import Noop from './Noop.ts';

/** The benchmark's job with a priority (`--jobs priority`): every one above the default. */
export default class PriorityNoop extends Noop {
  static priority = 5;
}
