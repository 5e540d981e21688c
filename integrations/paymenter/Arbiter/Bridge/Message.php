<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/** One event for Arbiter: its id (the webhook-id of every attempt), its type, and the exact bytes to send. */
final class Message
{
    public function __construct(
        public readonly string $id,
        public readonly string $type,
        public readonly string $subscriptionId,
        public readonly string $body,
    ) {}
}
