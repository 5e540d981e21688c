<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/** What an event says about a service and its customer, read from Paymenter's models. */
final class ServiceState
{
    public function __construct(
        public readonly string $serviceId,
        public readonly ?string $productId,
        public readonly ?string $productSlug,
        public readonly string $email,
        public readonly string $name,
    ) {}
}
