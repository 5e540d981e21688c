<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

use DateTimeImmutable;
use DateTimeInterface;
use DateTimeZone;

/** The body Arbiter's webhook contract describes, built once per change so that every attempt sends the same bytes. */
final class Payload
{
    /** UTF-8 and "/" as they are; the signature covers exactly these bytes. */
    public const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR;

    /** Arbiter's limit for customer_name, counted as JavaScript counts: in UTF-16 code units. */
    public const NAME_MAX = 200;

    public static function message(string $event, ServiceState $service, string $tier, DateTimeInterface $at): Message
    {
        $id = self::eventId($event, $service, $at);
        $body = json_encode([
            'event' => $event,
            'customer_email' => trim($service->email),
            'customer_name' => self::cleanName($service->name),
            'tier' => trim($tier),
            'subscription_id' => $service->serviceId,
            'event_id' => $id,
            'occurred_at' => self::utc($at)->format('Y-m-d\TH:i:s\Z'),
        ], self::JSON_FLAGS);

        return new Message($id, $event, $service->serviceId, $body);
    }

    /**
     * The same change always gets the same id: the service, the event, the product it is on, and the second the change
     * was saved. The product tells apart two moves of one service within the same second.
     */
    public static function eventId(string $event, ServiceState $service, DateTimeInterface $at): string
    {
        $part = static fn (string $s) => preg_replace('/[^A-Za-z0-9_-]/', '_', $s);

        return sprintf(
            'paymenter-%s-%s-p%s-%s',
            $part($service->serviceId),
            $part(substr($event, strlen('subscription.'))),
            $part($service->productId ?? 'none'),
            self::utc($at)->format('Ymd\THis\Z'),
        );
    }

    /** A name Arbiter accepts: valid UTF-8, control characters as spaces, trimmed, at most NAME_MAX UTF-16 units. */
    public static function cleanName(string $name): string
    {
        // htmlspecialchars with ENT_SUBSTITUTE turns invalid UTF-8 into U+FFFD and the decode restores the rest.
        $name = htmlspecialchars_decode(htmlspecialchars($name, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'), ENT_QUOTES);
        $name = trim((string) preg_replace('/[\x00-\x1F\x7F]+/', ' ', $name));
        $kept = '';
        $units = 0;
        foreach (preg_split('//u', $name, -1, PREG_SPLIT_NO_EMPTY) ?: [] as $char) {
            $units += strlen($char) === 4 ? 2 : 1;
            if ($units > self::NAME_MAX) {
                break;
            }
            $kept .= $char;
        }

        return trim($kept);
    }

    private static function utc(DateTimeInterface $at): DateTimeImmutable
    {
        return DateTimeImmutable::createFromInterface($at)->setTimezone(new DateTimeZone('UTC'));
    }
}
