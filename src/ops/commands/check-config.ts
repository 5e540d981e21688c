import { checkConfig } from '../check-config.js';
import { EXIT, type Command } from '../command.js';

export const checkConfigCommand: Command = {
  name: 'check-config',
  summary: 'validate the settings and roles.json, then try SMTP, Discord and Ghost with them',
  usage: 'check-config',
  help: `Validates the settings and roles.json as the server does at start (a problem there ends with exit status
78 and every problem listed), then tries each outside service with them, one line per check:

  SMTP                connects to SMTP_HOST:SMTP_PORT with TLS and login as configured (without SMTP_HOST, in
                      development, mail is written to files instead)
  Discord bot token   Discord accepts DISCORD_BOT_TOKEN
  Discord server      the bot is in the server DISCORD_GUILD_ID
  Discord roles       the bot has Manage Roles and Create Invite, and every role in roles.json exists and is below
                      the bot's highest role
  Discord OAuth       Discord accepts DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET (the application asks for its
                      own token, which is revoked at once)
  Ghost               when CMS_URL is set: an authenticated read with CMS_ADMIN_KEY
  OpenID Connect      the apps OIDC_CLIENTS_FILE lets sign in (the file was validated above), and the redirect
                      the Discord application must allow for their sign-ins

Each line starts with ok, problem, off (not configured) or skipped (an earlier problem prevents the check), and
a problem names the setting to fix. Each check gives up after 10 seconds. Nothing is changed, the database is
not opened, and no secret is printed. Exit status 1 when any check found a problem.`,
  async run({ io, config }) {
    const checks = await checkConfig(config());
    const width = Math.max(...checks.map((c) => c.state.length)) + 2;
    for (const check of checks) io.out(`${check.state.padEnd(width)}${check.name}: ${check.text}`);
    const problems = checks.filter((c) => c.state === 'problem').length;
    io.out('');
    io.out(problems === 0 ? 'All checks passed.' : `${problems} problem${problems === 1 ? '' : 's'}: fix the settings named above and run arbiter check-config again.`);
    return problems === 0 ? EXIT.ok : EXIT.failed;
  },
};
