<?php

declare(strict_types=1);

namespace Paymenter\Extensions\Others\Arbiter\Bridge;

use InvalidArgumentException;

/** The extension's settings as the admin saved them, checked together: every problem is named at once. */
final class Settings
{
    /** @param list<string> $events */
    private function __construct(
        public readonly string $url,
        public readonly Signer $signer,
        public readonly TierMap $tiers,
        private readonly array $events,
    ) {}

    /** @param array<string, mixed> $config as Paymenter stores it: url, secret, tiers, events */
    public static function fromArray(array $config): self
    {
        $problems = [];

        $url = trim((string) ($config['url'] ?? ''));
        $problem = self::urlProblem($url);
        if ($problem !== null) {
            $problems[] = "Arbiter URL: {$problem}";
        }

        $signer = null;
        if (trim((string) ($config['secret'] ?? '')) === '') {
            $problems[] = 'Secret: required';
        } else {
            try {
                $signer = new Signer((string) $config['secret']);
            } catch (InvalidArgumentException $e) {
                $problems[] = 'Secret: ' . $e->getMessage();
            }
        }

        $tiers = null;
        try {
            $tiers = TierMap::parse($config['tiers'] ?? null);
        } catch (InvalidArgumentException $e) {
            $problems[] = 'Tier mapping: ' . $e->getMessage();
        }

        $events = $config['events'] ?? null;
        if (is_string($events)) {
            $events = json_decode($events, true);
        }
        // Nothing chosen yet (settings never saved) sends every event.
        $events = is_array($events) && $events !== [] ? array_values(array_map('strval', $events)) : EventMapper::EVENTS;
        $unknown = array_diff($events, EventMapper::EVENTS);
        if ($unknown !== []) {
            $problems[] = 'Events: unknown ' . implode(', ', $unknown) . ' (known: ' . implode(', ', EventMapper::EVENTS) . ')';
        }

        if ($problems !== [] || $signer === null || $tiers === null) {
            throw new InvalidArgumentException(implode('; ', $problems));
        }

        return new self($url, $signer, $tiers, $events);
    }

    public static function urlProblem(string $url): ?string
    {
        if ($url === '') {
            return 'required';
        }
        $parts = parse_url($url);
        if (!is_array($parts) || !in_array(strtolower($parts['scheme'] ?? ''), ['http', 'https'], true) || ($parts['host'] ?? '') === '') {
            return 'must be a full http(s) URL, e.g. https://arbiter.example.com/webhook/billing';
        }
        if (isset($parts['user']) || isset($parts['pass'])) {
            return 'must not hold a user name or password';
        }

        return null;
    }

    public function sends(string $event): bool
    {
        return in_array($event, $this->events, true);
    }
}
