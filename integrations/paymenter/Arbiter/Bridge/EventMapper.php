<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/**
 * Which Arbiter event a service change is, or none. Paymenter's statuses are pending, active, suspended and
 * cancelled; only what changes whether the customer should hold a tier, or which tier, is an event.
 */
final class EventMapper
{
    public const CREATED = 'subscription.created';

    public const UPGRADED = 'subscription.upgraded';

    public const DOWNGRADED = 'subscription.downgraded';

    public const SUSPENDED = 'subscription.suspended';

    public const CANCELLED = 'subscription.cancelled';

    public const RESUMED = 'subscription.resumed';

    public const EVENTS = [self::CREATED, self::UPGRADED, self::DOWNGRADED, self::SUSPENDED, self::CANCELLED, self::RESUMED];

    public static function map(Change $change): ?string
    {
        return match ($change->kind) {
            Change::CREATED => $change->to === 'active' ? self::CREATED : null,
            // A pending service was never sent; a cancelled one was sent its cancel already.
            Change::DELETED => in_array($change->from, ['active', 'suspended'], true) ? self::CANCELLED : null,
            Change::UPDATED => $change->from !== $change->to ? self::statusChange($change->from, $change->to) : self::productChange($change),
            default => null,
        };
    }

    private static function statusChange(?string $from, ?string $to): ?string
    {
        return match ("{$from} -> {$to}") {
            'pending -> active' => self::CREATED,
            'suspended -> active', 'cancelled -> active' => self::RESUMED,
            'active -> suspended' => self::SUSPENDED,
            'active -> cancelled', 'suspended -> cancelled' => self::CANCELLED,
            // Never active (pending -> cancelled or suspended), already without a tier (cancelled -> suspended), or an
            // admin's edit back to pending: Arbiter's state needs no change, and a later pending -> active is "created".
            default => null,
        };
    }

    /** A move to another product while active: by price, up or down; at an equal price up (the tier still changes). */
    private static function productChange(Change $change): ?string
    {
        if (!$change->productChanged || $change->to !== 'active') {
            return null;
        }

        return self::price($change->newPrice) < self::price($change->oldPrice) ? self::DOWNGRADED : self::UPGRADED;
    }

    private static function price(?string $price): float
    {
        return is_numeric($price) ? (float) $price : 0.0;
    }
}
