/** Keeps exactly one `discord_id: <id>` line in a Ghost member's note; the rest of the note is left as it was. */
export const NOTE_MAX = 2000;
const OUR_LINE = /^discord_id:/;

export function noteWithDiscordId(note: string | null, discordId: string): string {
  const rest = (note ?? '')
    .split('\n')
    .filter((line) => !OUR_LINE.test(line))
    .join('\n')
    .trimEnd();
  return rest ? `${rest}\n\ndiscord_id: ${discordId}` : `discord_id: ${discordId}`;
}

export function noteHasDiscordId(note: string | null, discordId: string): boolean {
  return (note ?? '').split('\n').some((line) => line.trim() === `discord_id: ${discordId}`);
}
