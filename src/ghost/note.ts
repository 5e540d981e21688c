/** Keeps exactly one `discord_id: <id>` line in a Ghost member's note; the rest of the note is left as it was. */
export const NOTE_MAX = 2000;
const OUR_LINE = /^discord_id:/;
const ourLine = (discordId: string) => `discord_id: ${discordId}`;

export function noteWithDiscordId(note: string | null, discordId: string): string {
  const rest = (note ?? '')
    .split('\n')
    .filter((line) => !OUR_LINE.test(line))
    .join('\n')
    .trimEnd();
  return rest ? `${rest}\n\n${ourLine(discordId)}` : ourLine(discordId);
}

export function noteHasDiscordId(note: string | null, discordId: string): boolean {
  return (note ?? '').split('\n').some((line) => line.trim() === ourLine(discordId));
}

/** The note without the line for this Discord ID (a line naming another ID is someone else's and stays). */
export function noteWithoutDiscordId(note: string | null, discordId: string): string {
  return (note ?? '')
    .split('\n')
    .filter((line) => line.trim() !== ourLine(discordId))
    .join('\n')
    .trimEnd();
}
