/** Job kinds of the roles domain. A reconcile job's key is the Discord user ID; there is one sweep at a time. */
export const RECONCILE_JOB = 'reconcile';
export const SWEEP_JOB = 'sweep';
export const SWEEP_KEY = 'guild';
