<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

use InvalidArgumentException;

/** Paymenter product id -> Arbiter tier, from the extension's setting; a product not named falls back to its slug. */
final class TierMap
{
    /** @param array<string, string> $tiers */
    private function __construct(private readonly array $tiers) {}

    /**
     * One "id=tier" a line ("#" starts a comment), or a JSON object {"7": "awakened"}. Every problem is reported at
     * once, in one InvalidArgumentException.
     *
     * @param  string|array<mixed>|null  $setting
     */
    public static function parse(string|array|null $setting): self
    {
        if (is_array($setting)) {
            return self::fromPairs($setting);
        }
        $text = trim((string) $setting);
        if ($text === '') {
            return new self([]);
        }
        if (str_starts_with($text, '{')) {
            $decoded = json_decode($text, true);
            if (!is_array($decoded)) {
                throw new InvalidArgumentException('is not valid JSON: write {"7": "awakened"} or one id=tier a line');
            }

            return self::fromPairs($decoded);
        }

        $tiers = [];
        $problems = [];
        foreach (preg_split('/\r\n|\r|\n/', $text) ?: [] as $index => $line) {
            $line = trim($line);
            $where = 'line ' . ($index + 1);
            if ($line === '' || str_starts_with($line, '#')) {
                continue;
            }
            if (preg_match('/^(\d+)\s*=\s*(.*)$/', $line, $m) !== 1) {
                $problems[] = "{$where}: expected <product id>=<tier>, e.g. 7=awakened";

                continue;
            }
            if (isset($tiers[$m[1]])) {
                $problems[] = "{$where}: product {$m[1]} is mapped twice";

                continue;
            }
            $problem = self::tierProblem($m[2]);
            if ($problem !== null) {
                $problems[] = "{$where}: {$problem}";

                continue;
            }
            $tiers[$m[1]] = trim($m[2]);
        }
        if ($problems !== []) {
            throw new InvalidArgumentException(implode('; ', $problems));
        }

        return new self($tiers);
    }

    /** @param array<mixed> $pairs */
    private static function fromPairs(array $pairs): self
    {
        $tiers = [];
        $problems = [];
        foreach ($pairs as $id => $tier) {
            $id = (string) $id;
            if (preg_match('/^\d+$/', $id) !== 1) {
                $problems[] = "\"{$id}\" is not a product id (a whole number)";

                continue;
            }
            $problem = is_string($tier) ? self::tierProblem($tier) : 'the tier must be text';
            if ($problem !== null) {
                $problems[] = "product {$id}: {$problem}";

                continue;
            }
            $tiers[$id] = trim($tier);
        }
        if ($problems !== []) {
            throw new InvalidArgumentException(implode('; ', $problems));
        }

        return new self($tiers);
    }

    /** Arbiter's rule for a tier: 1 to 64 characters, no control characters. */
    private static function tierProblem(string $tier): ?string
    {
        $tier = trim($tier);
        $length = preg_match_all('/./us', $tier);
        if ($tier === '' || $length === false || $length > 64) {
            return 'a tier is 1 to 64 characters';
        }
        if (preg_match('/[\x00-\x1F\x7F]/', $tier) === 1) {
            return 'a tier has no control characters';
        }

        return null;
    }

    public function tierFor(?string $productId, ?string $slug): ?string
    {
        if ($productId !== null && isset($this->tiers[$productId])) {
            return $this->tiers[$productId];
        }
        $slug = trim((string) $slug);

        return $slug === '' ? null : $slug;
    }
}
