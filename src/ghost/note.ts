/** Keeps exactly one `discord_id: <id>` line in a Ghost member's note; the rest of the note is left as it was. */
const LINE = /^discord_id:[^\n]*$/gm;
export const NOTE_MAX = 2000;

export function noteWithDiscordId(note: string | null, discordId: string): string {
  const rest = (note ?? '').replace(LINE, '').replace(/\n{3,}/g, '\n\n').trim();
  return rest ? `${rest}\n\ndiscord_id: ${discordId}` : `discord_id: ${discordId}`;
}

export function discordIdInNote(note: string | null): string | undefined {
  return /^discord_id:\s*(\d+)\s*$/m.exec(note ?? '')?.[1];
}
