/** Job kinds of the roles domain; the key of a reconcile job is the Discord user ID. */
export const RECONCILE_JOB = 'reconcile';
