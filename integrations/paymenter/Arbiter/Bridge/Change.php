<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

/**
 * One change of a Paymenter service, as its model events show it: created (no status before), updated (status
 * before and after, and whether the product changed, with the price before and after), or deleted (no status after).
 */
final class Change
{
    public const CREATED = 'created';

    public const UPDATED = 'updated';

    public const DELETED = 'deleted';

    public function __construct(
        public readonly string $kind,
        public readonly ?string $from,
        public readonly ?string $to,
        public readonly bool $productChanged = false,
        public readonly ?string $oldPrice = null,
        public readonly ?string $newPrice = null,
    ) {}

    /** @param array{kind: string, from?: ?string, to?: ?string, product_changed?: bool, old_price?: ?string, new_price?: ?string} $fields */
    public static function fromArray(array $fields): self
    {
        return new self(
            $fields['kind'],
            $fields['from'] ?? null,
            $fields['to'] ?? null,
            (bool) ($fields['product_changed'] ?? false),
            isset($fields['old_price']) ? (string) $fields['old_price'] : null,
            isset($fields['new_price']) ? (string) $fields['new_price'] : null,
        );
    }
}
