<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

use DateTimeImmutable;
use DateTimeInterface;
use DateTimeZone;

/**
 * A signed event of a type Arbiter does not handle: Arbiter checks its signature, stores it and answers 200
 * "ignored", so it proves the URL and the secret without touching any subscription.
 */
final class TestEvent
{
    public const TYPE = 'paymenter.test';

    public static function message(DateTimeInterface $at): Message
    {
        $id = 'paymenter-test-' . bin2hex(random_bytes(8));
        $body = json_encode([
            'event' => self::TYPE,
            'event_id' => $id,
            'occurred_at' => DateTimeImmutable::createFromInterface($at)->setTimezone(new DateTimeZone('UTC'))->format('Y-m-d\TH:i:s\Z'),
        ], Payload::JSON_FLAGS);

        return new Message($id, self::TYPE, 'none', $body);
    }

    /** @return array{0: bool, 1: string} whether the settings work, and what to tell the admin */
    public static function explain(Answer $answer): array
    {
        $status = $answer->status;

        return match (true) {
            $status !== null && $status >= 200 && $status < 300 => [true, "Arbiter received the test event and accepted its signature ({$answer->summary(100)}): the URL and secret work."],
            $status === 401 => [false, "Arbiter refused the signature ({$answer->summary(200)}). The secret here must be one of the values in Arbiter's WEBHOOK_SECRET, and this server's clock must be within 5 minutes of Arbiter's."],
            $status === 404 || $status === 405 => [false, "Nothing takes webhooks at this URL ({$answer->summary(100)}): it is Arbiter's address followed by /webhook/billing."],
            $status === null => [false, "No answer from Arbiter: {$answer->error}. Check the URL, and that Arbiter runs and this server can reach it."],
            default => [false, "Arbiter answered {$answer->summary(300)}."],
        };
    }
}
