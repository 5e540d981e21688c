<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/** What an answer means for the delivery, and when to try again. */
final class Delivery
{
    public const DONE = 'done';

    public const RETRY = 'retry';

    public const PERMANENT = 'permanent';

    /** Attempts in all: about seven hours from the first to the last (the waits of backoff()). */
    public const ATTEMPTS = 12;

    /**
     * 2xx: Arbiter has it (accepted, duplicate or ignored). 408, 429, 5xx and no answer may pass later. Any other
     * answer (401 signature, 404 wrong URL, 422 invalid payload, a redirect) will be the same on every retry.
     */
    public static function verdict(Answer $answer): string
    {
        $status = $answer->status;
        if ($status === null || $status === 408 || $status === 429 || $status >= 500) {
            return self::RETRY;
        }

        return $status >= 200 && $status < 300 ? self::DONE : self::PERMANENT;
    }

    /** Seconds to wait after attempt $attempt (from 1): 30 s, tripled each time, at most an hour. */
    public static function delayAfter(int $attempt): int
    {
        return (int) min(3600, 30 * 3 ** min(max($attempt, 1) - 1, 10));
    }

    /** @return list<int> the wait after each attempt but the last, as Laravel's backoff() takes it */
    public static function backoff(): array
    {
        return array_map(self::delayAfter(...), range(1, self::ATTEMPTS - 1));
    }

    public static function describe(Message $message, Answer $answer): string
    {
        return "{$message->type} {$message->id} for service {$message->subscriptionId}: Arbiter gave {$answer->summary()}";
    }
}
