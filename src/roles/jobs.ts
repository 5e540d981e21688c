/** Job kinds of the roles domain. A reconcile job's key is the Discord user ID; there is one sweep at a time. */
export const RECONCILE_JOB = 'reconcile';
export const SWEEP_JOB = 'sweep';
export const SWEEP_KEY = 'guild';
/**
 * The end of an admin's grant or block, keyed by its id: when due, it asks for an ordinary reconcile of the member,
 * so that reconciles of one member never run side by side.
 */
export const GRANT_END_JOB = 'grant_end';
