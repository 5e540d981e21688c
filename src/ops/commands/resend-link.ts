import { cliActing } from '../actor.js';
import { EXIT, type Command } from '../command.js';
import { reasonOption } from '../reason.js';
import { parseEmail, resendLinks } from '../resend-link.js';

export const resendLinkCommand: Command = {
  name: 'resend-link',
  summary: 'email a new link to the active subscriptions of an email that are not linked yet',
  usage: 'resend-link <email> [--reason TEXT]',
  help: `Does what "Resend link" does in the admin panel, for each active subscription of <email> that is not linked
to a Discord account yet: a new link is queued for the email, and once it is sent, links sent before no longer
work. The running Arbiter sends the email (it looks at its queue at least every 30 seconds); when Arbiter is not
running, the email waits in the queue until it starts. The command waits a few seconds to tell which.

  --reason TEXT   kept in the audit log with your login name (default: "asked for on the command line")

Exit status 1 when no subscription has that email, none of them is waiting for a link (nothing is changed), or
the email could not be sent.`,
  options: { reason: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals, io, services }) {
    const email = parseEmail(positionals[0]!);
    if ('problem' in email) {
      io.err(email.problem);
      return EXIT.failed;
    }
    const reason = reasonOption(values.reason);
    if ('problem' in reason) {
      io.err(reason.problem);
      return EXIT.failed;
    }
    const resent = await resendLinks(services(), cliActing(io.env), email.email, reason.value);
    for (const { subscriptionId, outcome } of resent) {
      const sent = outcome.kind === 'applied' ? ' The running Arbiter sent it.' : '';
      const queued =
        outcome.kind === 'queued'
          ? ' Arbiter sends it the next time it looks at its queue (within 30 seconds while it runs); if Arbiter is not running, it is sent when Arbiter starts.'
          : '';
      io.out(`${subscriptionId}: ${outcome.text}${sent}${queued}`);
    }
    return resent.some((r) => r.outcome.kind === 'failed') ? EXIT.failed : EXIT.ok;
  },
};
